"""UTC timestamps as Escalator writes them, every format in one place.

Each format has one use, and readers rely on it: the audit log parses back what it wrote,
people read the tables and the report, and a reason quotes a certificate's expiry.

>>> utc(1_800_000_000.25), utc(1_800_000_000.25, AUDIT)
('2027-01-15T08:00:00Z', '2027-01-15T08:00:00.250000Z')
>>> utc(1_800_000_000, TABLE), utc(1_800_000_000, PAGE), utc(1_800_000_000, MINUTE)
('2027-01-15 08:00:00Z', '2027-01-15 08:00:00 UTC', '2027-01-15 08:00 UTC')
>>> parse_utc("2027-01-15T08:00:00.250000Z", AUDIT), parse_utc("yesterday", AUDIT)
(1800000000.25, None)
"""

from __future__ import annotations

from datetime import UTC, datetime

ISO = "%Y-%m-%dT%H:%M:%SZ"  # machine-readable: reasons, stored times
AUDIT = "%Y-%m-%dT%H:%M:%S.%fZ"  # the ladder's audit log: ordered, and parsed back
TABLE = "%Y-%m-%d %H:%M:%SZ"  # the ladder's tables
PAGE = "%Y-%m-%d %H:%M:%S UTC"  # the HTML report
MINUTE = "%Y-%m-%d %H:%M UTC"  # a certificate's expiry in a reason


def utc(when: float | datetime, fmt: str = ISO) -> str:
    """`when` (epoch seconds or an aware datetime) in UTC, written as `fmt`."""
    moment = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
    return moment.astimezone(UTC).strftime(fmt)


def parse_utc(text: object, fmt: str) -> float | None:
    """Epoch seconds of `text` written by `utc(..., fmt)`; None when it is not."""
    try:
        return datetime.strptime(str(text), fmt).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
