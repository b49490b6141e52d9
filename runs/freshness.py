"""The mirror only moves forward: a state read from a backend never replaces a newer one already mirrored.

A sync pass reads a backend, then writes what it read; meanwhile an action may have changed the object and
mirrored the result (a schedule disabled, a run cancelled). Written last, the pass's older read would undo what
the page just showed, until some later pass corrected it. So every mirror write first locks the mirrored row and
compares the backend's own modification time with the one it holds.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet


def holds_newer(row: QuerySet, field: str, updated_at: datetime | None) -> bool:
    """Inside an atomic block: lock the mirrored row ``row`` selects and say whether its ``field`` (the backend's
    modification time it was written from) is newer than ``updated_at``. Unknown times never count as newer."""
    if updated_at is None:
        return False
    current = row.select_for_update().values_list(field, flat=True).first()
    return current is not None and current > updated_at
