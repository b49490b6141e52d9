"""The graph's live statuses: fills and words drawn under the structure's transparent boxes, and group counts."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape

from django.utils.safestring import SafeString, mark_safe

from backends.base import RunStatus
from runs.templatetags.runboard import status_class

CLASS_OF = {status: status_class(status) for status in RunStatus.ALL}  # ok, bad, live, warn, muted, idle


def status_html(status: str) -> str:
    """A status for HTML: Azure ML's words as they are, anything else escaped."""
    return status if status in CLASS_OF else escape(status)


# Which count a collapsed group shows first, and the words for it.
GROUP_FACTS = [("bad", "failed"), ("live", "running"), ("warn", "cancelling"), ("muted", "canceled")]
BAR_ORDER = ["ok", "bad", "live", "warn", "muted", "idle"]


def status_counts(members: Iterable[str], statuses: Mapping[str, str]) -> Counter:
    return Counter(CLASS_OF.get(statuses.get(m, RunStatus.NOT_STARTED), "idle") for m in members)


def group_summary(size: int, counts: Counter) -> tuple[str, str]:
    """("48 steps · 2 failed", css class) for a collapsed group."""
    for cls, word in GROUP_FACTS:
        if counts[cls]:
            return f"{size} steps · {counts[cls]} {word}", cls
    if counts["ok"] == size:
        return f"{size} steps · all completed", "ok"
    if counts["ok"]:
        return f"{size} steps · {counts['ok']} completed", "idle"
    return f"{size} steps · not started", "idle"


def status_digest(status_svg: str) -> str:
    """Names what the overlay shows, so a poll that would change nothing can be answered with no content."""
    return hashlib.blake2b(status_svg.encode(), digest_size=8).hexdigest()


def render_status(plan: dict, statuses: Mapping[str, str]) -> SafeString:
    """Status fills under the structure's transparent boxes, at the cached positions."""
    w, h = plan["w"], plan["h"]
    parts = [
        f'<svg class="graph-status-svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-hidden="true">'
    ]
    for key, members, x, y, bw, bh in plan["nodes"]:
        if members is None:
            status = statuses.get(key, RunStatus.NOT_STARTED)
            parts.append(
                f'<g class="graph-st {CLASS_OF.get(status, "idle")}" data-node="{escape(key)}" '
                f'data-status="{status_html(status)}" transform="translate({x},{y})">'
                f'<rect width="{bw}" height="{bh}" rx="6"/><text x="{bw - 8}" y="{bh - 10}">{status_html(status)}</text></g>'
            )
            continue
        counts = status_counts(members, statuses)
        text, cls = group_summary(len(members), counts)
        parts.append(
            f'<g class="graph-st {cls}" data-node="{escape(key)}" data-status="{escape(text)}" '
            f'transform="translate({x},{y})">'
            # A stack of cards behind the box says "several steps"; drawn here, under the structure's text.
            f'<rect class="graph-stack" x="5" y="-5" width="{bw}" height="{bh}" rx="6"/>'
            f'<rect class="graph-stack" x="2.5" y="-2.5" width="{bw}" height="{bh}" rx="6"/>'
            f'<rect width="{bw}" height="{bh}" rx="6"/>'
            f'<text class="graph-st-group" x="10" y="{bh - 14}">{escape(text)}</text>'
        )
        bar_x, bar_w = 10.0, bw - 20
        for part in BAR_ORDER:
            if counts[part]:
                seg = bar_w * counts[part] / len(members)
                parts.append(
                    f'<rect class="graph-bar {part}" x="{bar_x:.1f}" y="{bh - 8}" '
                    f'width="{max(seg, 1):.1f}" height="3"/>'
                )
                bar_x += seg
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is escaped
