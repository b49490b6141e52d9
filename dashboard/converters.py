"""Path converters: ``<id:pk>`` is a primary key a database can hold (1 to 2**63 - 1), ``<offset:n>`` a byte
offset (0 to 2**63 - 1); anything else is a 404, never an overflow in the database."""

from __future__ import annotations

from dashboard.params import MAX_ID


class IdConverter:
    regex = "[0-9]{1,19}"
    low = 1

    def to_python(self, value: str) -> int:
        number = int(value)
        if not self.low <= number <= MAX_ID:
            raise ValueError(value)  # the pattern does not match
        return number

    def to_url(self, value: int) -> str:
        return str(value)


class OffsetConverter(IdConverter):
    low = 0
