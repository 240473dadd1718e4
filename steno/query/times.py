"""Instants as integer nanoseconds since the Unix epoch, read and written as RFC 3339.

Why integers: a packet's timestamp is seconds plus nanoseconds (TPACKET_V3's
``tp_sec``/``tp_nsec``), and the engine compares every packet against the
query's time bounds exactly.  ``datetime`` stops at microseconds and a float of
seconds loses nanoseconds after 2**53 ns (about 104 days), so a bound is an
``int`` of nanoseconds, compared with packet times without rounding.

Why our own calendar arithmetic: RFC 3339 allows years 0000 to 9999 and
fractions of any length, while ``datetime`` starts at year 1 and keeps six
fractional digits.  Converting a civil date to a day number is a few lines of
integer arithmetic in the proleptic Gregorian calendar (the usual era/day-of-era
method); ``tests/query/test_times.py`` checks it against ``datetime`` wherever
both exist.

Every instant handled here is between ``FIRST_NS`` (0000-01-01T00:00:00Z) and
``LAST_NS`` (9999-12-31T23:59:59.999999999Z), so it can always be written back
as RFC 3339 in UTC; that is what lets a query's canonical text parse back to
the same tree.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
NS_PER_HOUR = 60 * NS_PER_MINUTE
_SECONDS_PER_DAY = 86_400

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadTime(ValueError):
    """Why a word is not an RFC 3339 time; the text is for a person, the caller adds where."""


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (negative before it)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The (year, month, day) of a day number from `days_from_civil`."""
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


FIRST_NS = days_from_civil(0, 1, 1) * _SECONDS_PER_DAY * NS_PER_SECOND
LAST_NS = days_from_civil(10_000, 1, 1) * _SECONDS_PER_DAY * NS_PER_SECOND - 1


def in_range(ns: int) -> bool:
    """True if `ns` can be written as RFC 3339 in UTC (years 0000 to 9999)."""
    return FIRST_NS <= ns <= LAST_NS


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# RFC 3339's date-time, plus two forms that cannot be misread: a lower-case
# "t"/"z" (RFC 3339 section 5.6 allows them) and an offset without its colon
# ("-0700", which the Debian stenoread(1) page shows).  The zone is optional
# here only so that a missing one gets its own message.
_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):?(?P<off_minute>[0-9]{2}))?"
)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

EXAMPLE = "2015-01-01T13:14:15Z"


def _is_number(value: str | None) -> bool:
    return value is not None and value.isdigit()


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 date-time; BadTime says what is wrong.

    Fractions of up to nine digits are kept exactly.  Leap seconds (``:60``) are
    refused: no packet clock shows one, and Stenographer refused them too.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        if _DATE_ONLY.fullmatch(text):
            raise BadTime(f"a date alone is not an instant; write e.g. {text}T00:00:00Z")
        raise BadTime(f"expected an RFC 3339 time like {EXAMPLE}")
    field = {name: int(value) for name, value in match.groupdict().items() if _is_number(value)}
    year, month, day = field["year"], field["month"], field["day"]
    hour, minute, second = field["hour"], field["minute"], field["second"]
    if not 1 <= month <= 12:
        raise BadTime(f"month {month:02d} does not exist")
    if not 1 <= day <= _days_in_month(year, month):
        raise BadTime(f"{_MONTHS[month - 1]} {year:04d} has no day {day:02d}")
    if hour > 23 or minute > 59:
        raise BadTime(f"{hour:02d}:{minute:02d} is not a time of day")
    if second == 60:
        raise BadTime("leap seconds (:60) are not supported")
    if second > 59:
        raise BadTime(f"second {second:02d} does not exist")
    fraction = match["fraction"] or ""
    if len(fraction) > 9:
        raise BadTime("more than 9 fractional digits (the clock has nanoseconds)")
    if match["utc"] is None and match["sign"] is None:
        raise BadTime("no time zone; add Z for UTC or an offset like +01:00")
    offset_minutes = 0
    if match["sign"] is not None:
        off_hour, off_minute = field["off_hour"], field["off_minute"]
        if off_hour > 23 or off_minute > 59:
            raise BadTime(f"{match['sign']}{off_hour:02d}:{off_minute:02d} is not a UTC offset")
        offset_minutes = (off_hour * 60 + off_minute) * (-1 if match["sign"] == "-" else 1)
    seconds = days_from_civil(year, month, day) * _SECONDS_PER_DAY
    seconds += hour * 3600 + minute * 60 + second - offset_minutes * 60
    ns = seconds * NS_PER_SECOND + int(fraction.ljust(9, "0"))
    if not in_range(ns):
        raise BadTime("outside the years 0000 to 9999 once converted to UTC")
    return ns


def format_rfc3339(ns: int) -> str:
    """RFC 3339 in UTC with as many fractional digits as needed (none for whole seconds)."""
    if not in_range(ns):
        raise ValueError(f"{ns} ns since the epoch is outside the years 0000 to 9999")
    seconds, fraction = divmod(ns, NS_PER_SECOND)
    days, second_of_day = divmod(seconds, _SECONDS_PER_DAY)
    year, month, day = civil_from_days(days)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def datetime_to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of a timezone-aware datetime (exact, no float)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; pass an aware datetime")
    delta = moment - _EPOCH
    return (delta.days * _SECONDS_PER_DAY + delta.seconds) * NS_PER_SECOND + (
        delta.microseconds * 1000
    )
