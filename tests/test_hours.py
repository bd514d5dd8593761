"""Opening hours: the documented syntax, China time whatever the zone, and bad input."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from geo.errors import ValidationError
from geo.hours import OpeningHours, next_change

MONDAY_10 = datetime(2026, 11, 23, 10, 0)  # a Monday, China wall time
SATURDAY_10 = datetime(2026, 11, 28, 10, 0)
SUNDAY_10 = datetime(2026, 11, 29, 10, 0)


@pytest.mark.parametrize(
    "text, monday_10, saturday_10, sunday_10",
    [
        ("24小时", True, True, True),
        ("24 小时", True, True, True),
        ("全天", True, True, True),
        ("每天 08:00-20:00", True, True, True),
        ("08:00-09:30", False, False, False),
        ("周一至周五 09:00-17:00", True, False, False),
        ("周一到周五 09:00-17:00", True, False, False),
        ("星期一-星期五：09:00-17:00", True, False, False),
        ("工作日 09:00-17:00；周末 休息", True, False, False),
        ("周一至周五 08:30-12:00,14:30-17:30; 周六 09:00-12:00", True, True, False),
        ("Mo-Fr 09:00-17:00; Sa,Su 10:30-11:00", True, False, False),
        ("周六、周日 09:00-18:00", False, True, True),
        ("周五至周一 09:00-18:00", True, True, True),  # wraps over the weekend
        ("每天 08:00-20:00\n周日 closed", True, True, False),
    ],
)
def test_syntax(text, monday_10, saturday_10, sunday_10):
    hours = OpeningHours.parse(text)
    assert hours.is_open(MONDAY_10) is monday_10
    assert hours.is_open(SATURDAY_10) is saturday_10
    assert hours.is_open(SUNDAY_10) is sunday_10


def test_overnight_range_spills_into_next_day():
    hours = OpeningHours.parse("周五 22:00-06:00")
    assert hours.is_open(datetime(2026, 11, 27, 23, 0))  # Friday night
    assert hours.is_open(datetime(2026, 11, 28, 5, 59))  # Saturday early morning
    assert not hours.is_open(datetime(2026, 11, 28, 6, 0))
    assert not hours.is_open(datetime(2026, 11, 28, 23, 0))  # Saturday night: not listed


def test_evaluated_in_china_time_whatever_the_zone():
    hours = OpeningHours.parse("每天 09:00-17:00")
    # 02:00 UTC is 10:00 in China: open. 10:00 UTC is 18:00 in China: closed.
    assert hours.is_open(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)) is True
    assert hours.is_open(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)) is False
    new_york = timezone(timedelta(hours=-5))
    assert hours.is_open(datetime(2026, 11, 22, 21, 0, tzinfo=new_york)) is True


def test_closes_at():
    hours = OpeningHours.parse("周一至周五 08:30-12:00,14:30-17:30")
    assert hours.closes_at(MONDAY_10) == datetime(2026, 11, 23, 12, 0)
    assert hours.closes_at(datetime(2026, 11, 23, 13, 0)) is None
    assert OpeningHours.parse("24小时").closes_at(MONDAY_10) is None
    chained = OpeningHours.parse("周一 20:00-24:00; 周二 00:00-02:00")
    assert chained.closes_at(datetime(2026, 11, 23, 23, 0)) == datetime(2026, 11, 24, 2, 0)


def test_unknown_is_not_closed():
    assert OpeningHours.parse("").is_open(MONDAY_10) is None
    assert OpeningHours.parse(None).is_open(MONDAY_10) is None


@pytest.mark.parametrize("text", ["abc", "25:00-26:00", "周八 09:00-10:00", "09:00", "9点到5点"])
def test_bad_hours_are_errors_naming_the_fragment(text):
    with pytest.raises(ValidationError) as info:
        OpeningHours.parse(text)
    assert info.value.field == "hours"


# -- next_change: what the station page says ("19:00 关闭" / "明天 08:00 开放") -----------------


@pytest.mark.parametrize(
    "text, at, expected",
    [
        # open: when it closes
        ("每天 08:00-19:00", MONDAY_10, datetime(2026, 11, 23, 19, 0)),
        ("周一至周五 08:30-12:00,14:30-17:30", MONDAY_10, datetime(2026, 11, 23, 12, 0)),
        # closed in the lunch break: opens again the same afternoon
        (
            "周一至周五 08:30-12:00,14:30-17:30",
            MONDAY_10.replace(hour=13),
            MONDAY_10.replace(hour=14, minute=30),
        ),
        # closed in the evening: tomorrow morning
        ("每天 08:00-19:00", MONDAY_10.replace(hour=20), datetime(2026, 11, 24, 8, 0)),
        # closed on Saturday (weekdays only): Monday morning
        ("周一至周五 09:00-17:00", SATURDAY_10, datetime(2026, 11, 30, 9, 0)),
        # past midnight: open at 23:00, closes at 06:00 the next day
        ("22:00-06:00", MONDAY_10.replace(hour=23), datetime(2026, 11, 24, 6, 0)),
        # before opening on the same day
        (
            "每天 08:00-19:00",
            MONDAY_10.replace(hour=7, minute=59),
            MONDAY_10.replace(hour=8, minute=0),
        ),
    ],
)
def test_next_change(text, at, expected):
    assert next_change(OpeningHours.parse(text), at) == expected


def test_next_change_none_when_unknown_always_or_never():
    assert next_change(OpeningHours.parse(""), MONDAY_10) is None
    assert next_change(OpeningHours.parse("24小时"), MONDAY_10) is None
    assert next_change(OpeningHours.parse("每天 休息"), MONDAY_10) is None


def test_next_change_is_china_time_for_an_aware_utc_instant():
    # 12:30 UTC is 20:30 in China: closed, opens 08:00 China time the next day
    at = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    assert next_change(OpeningHours.parse("每天 08:00-19:00"), at) == datetime(2026, 11, 24, 8, 0)
    assert OpeningHours.parse("每天 08:00-19:00").next_opening(at.replace(hour=3)) is None  # open
