"""RFC 3339 to nanoseconds and back, checked against datetime where both exist."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steno.query.times import (
    FIRST_NS,
    LAST_NS,
    NS_PER_SECOND,
    BadTime,
    civil_from_days,
    datetime_to_ns,
    days_from_civil,
    format_rfc3339,
    in_range,
    parse_rfc3339,
)

T = 1420118055 * NS_PER_SECOND  # 2015-01-01T13:14:15Z


@given(st.dates())
def test_day_numbers_agree_with_datetime(day: date) -> None:
    expected = (day - date(1970, 1, 1)).days
    assert days_from_civil(day.year, day.month, day.day) == expected
    assert civil_from_days(expected) == (day.year, day.month, day.day)


def test_year_zero_is_a_leap_year_before_year_one() -> None:
    assert civil_from_days(days_from_civil(1, 1, 1) - 1) == (0, 12, 31)
    assert days_from_civil(0, 3, 1) - days_from_civil(0, 2, 28) == 2


def test_bounds() -> None:
    assert format_rfc3339(FIRST_NS) == "0000-01-01T00:00:00Z"
    assert format_rfc3339(LAST_NS) == "9999-12-31T23:59:59.999999999Z"
    assert in_range(FIRST_NS) and in_range(LAST_NS)
    assert not in_range(FIRST_NS - 1) and not in_range(LAST_NS + 1)
    with pytest.raises(ValueError, match="outside"):
        format_rfc3339(LAST_NS + 1)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2015-01-01T13:14:15Z", T),
        ("2015-01-01T13:14:15+01:00", T - 3600 * NS_PER_SECOND),
        ("2015-01-01T13:14:15-07:00", T + 7 * 3600 * NS_PER_SECOND),
        ("2015-01-01T13:14:15-00:00", T),
        ("2015-01-01T13:14:15.123Z", T + 123_000_000),
        ("2015-01-01T13:14:15.000000001Z", T + 1),
        ("2015-01-01T13:14:15.999999999+00:00", T + 999_999_999),
        # Forms RFC 3339 allows or that cannot be misread: lower-case t/z, no colon.
        ("2015-01-01t13:14:15z", T),
        ("2015-01-01T13:14:15-0700", T + 7 * 3600 * NS_PER_SECOND),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.5Z", -NS_PER_SECOND // 2),
        ("2016-02-29T00:00:00Z", 1456704000 * NS_PER_SECOND),
        ("2000-02-29T00:00:00Z", 951782400 * NS_PER_SECOND),
        ("0000-01-01T00:00:00Z", FIRST_NS),
        ("9999-12-31T23:59:59.999999999Z", LAST_NS),
        ("2100-01-01T00:00:00Z", 4102444800 * NS_PER_SECOND),
    ],
)
def test_parse(text: str, ns: int) -> None:
    assert parse_rfc3339(text) == ns


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2015-01-01", "a date alone is not an instant; write e.g. 2015-01-01T00:00:00Z"),
        ("2015-01-01T13:14:15", "no time zone; add Z for UTC or an offset like +01:00"),
        ("2015-01-01T13:14:15.5", "no time zone"),
        ("2015-01-01 13:14:15Z", "expected an RFC 3339 time like 2015-01-01T13:14:15Z"),
        ("15-01-01T13:14:15Z", "expected an RFC 3339"),
        ("2015-1-01T13:14:15Z", "expected an RFC 3339"),
        ("2015-01-01T13:14Z", "expected an RFC 3339"),
        ("2015-01-01T13:14:15+01", "expected an RFC 3339"),
        ("2015-01-01T13:14:15.Z", "expected an RFC 3339"),
        ("2015-01-01T13:14:15ZZ", "expected an RFC 3339"),
        ("٢٠١٥-01-01T13:14:15Z", "expected an RFC 3339"),
        ("2015-13-01T13:14:15Z", "month 13 does not exist"),
        ("2015-00-01T13:14:15Z", "month 00 does not exist"),
        ("2015-02-29T13:14:15Z", "February 2015 has no day 29"),
        ("1900-02-29T13:14:15Z", "February 1900 has no day 29"),
        ("2015-04-31T13:14:15Z", "April 2015 has no day 31"),
        ("2015-01-00T13:14:15Z", "January 2015 has no day 00"),
        ("2015-01-01T24:00:00Z", "24:00 is not a time of day"),
        ("2015-01-01T13:60:00Z", "13:60 is not a time of day"),
        ("2015-12-31T23:59:60Z", "leap seconds (:60) are not supported"),
        ("2015-12-31T23:59:61Z", "second 61 does not exist"),
        ("2015-01-01T13:14:15.1234567891Z", "more than 9 fractional digits"),
        ("2015-01-01T13:14:15+24:00", "+24:00 is not a UTC offset"),
        ("2015-01-01T13:14:15-01:60", "-01:60 is not a UTC offset"),
        ("0000-01-01T00:00:00+00:01", "outside the years 0000 to 9999"),
        ("9999-12-31T23:59:59-00:01", "outside the years 0000 to 9999"),
    ],
)
def test_parse_refuses(text: str, why: str) -> None:
    with pytest.raises(BadTime) as caught:
        parse_rfc3339(text)
    assert str(caught.value).startswith(why)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (T, "2015-01-01T13:14:15Z"),
        (T + 100_000_000, "2015-01-01T13:14:15.1Z"),
        (T + 120_000, "2015-01-01T13:14:15.00012Z"),
        (T + 1, "2015-01-01T13:14:15.000000001Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
    ],
)
def test_format(ns: int, text: str) -> None:
    assert format_rfc3339(ns) == text


@given(st.integers(FIRST_NS, LAST_NS))
def test_format_then_parse_is_identity(ns: int) -> None:
    assert parse_rfc3339(format_rfc3339(ns)) == ns


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
)
def test_agrees_with_datetime(moment: datetime, zone: timezone) -> None:
    # Keep the local time in datetime's range (years 1 to 9999) and compare.
    if not datetime(2, 1, 1, tzinfo=UTC) <= moment <= datetime(9998, 12, 31, tzinfo=UTC):
        return
    local = moment.astimezone(zone)
    assert parse_rfc3339(local.isoformat()) == datetime_to_ns(moment)
    assert datetime.fromisoformat(format_rfc3339(datetime_to_ns(moment))) == moment


def test_datetime_to_ns_is_exact_and_needs_a_zone() -> None:
    moment = datetime(2262, 4, 11, 23, 47, 16, 854776, tzinfo=UTC)  # past 2**63 ns
    assert datetime_to_ns(moment) == 9223372036854776000
    assert (
        datetime_to_ns(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
        == (days_from_civil(1, 1, 1) * 86400 - 3600) * NS_PER_SECOND
    )
    with pytest.raises(ValueError, match="no time zone"):
        datetime_to_ns(datetime(2015, 1, 1))
