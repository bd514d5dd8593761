"""Opening hours: the documented syntax, China time whatever the zone, bad input, and OSM semantics.

The OSM part checks our answers against ``opening_hours`` (PyPI ``opening-hours-py``, the Python
binding of the Rust implementation of the OSM opening_hours specification), on fixed cases and
on random rules and instants (hypothesis, seeded).
"""

from datetime import UTC, datetime, timedelta, timezone

import opening_hours as osm
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

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


# -- OSM opening_hours semantics, checked against the OSM Rust evaluator -----------------------
#
# ``opening_hours`` (PyPI ``opening-hours-py``) is the Python binding of the Rust implementation
# of the OSM opening_hours specification: independent of our code, it is the reference here.


TUESDAY_1 = datetime(2026, 11, 24, 1, 0)
WEDNESDAY_1 = datetime(2026, 11, 25, 1, 0)


def test_a_later_rule_overrides_by_calendar_day_as_osm():
    # OSM: Tuesday's own rule replaces Monday's spill into Tuesday 00:00-02:00; Wednesday
    # 00:00-02:00 is the first rule's spill from Tuesday (that rule still names Tuesday).
    hours = OpeningHours.parse("22:00-02:00; Tu 12:00-14:00")
    assert hours.is_open(TUESDAY_1) is False
    assert hours.is_open(WEDNESDAY_1) is True
    assert hours.is_open(datetime(2026, 11, 24, 23, 0)) is False  # Tuesday night: Tu 12-14 only
    assert hours.is_open(datetime(2026, 11, 24, 13, 0)) is True
    reference = osm.OpeningHours("22:00-02:00; Tu 12:00-14:00")
    assert (reference.is_open(TUESDAY_1), reference.is_open(WEDNESDAY_1)) == (False, True)
    # the Chinese spelling means the same
    zh = OpeningHours.parse("22:00-02:00；周二 12:00-14:00")
    assert (zh.is_open(TUESDAY_1), zh.is_open(WEDNESDAY_1)) == (False, True)


def test_chinese_comma_before_a_day_starts_an_additional_rule():
    hours = OpeningHours.parse("周一至周五 08:00-12:00，周六 09:00-11:00")
    assert hours.is_open(SATURDAY_10) is True
    assert hours.is_open(MONDAY_10) is True
    assert hours.is_open(SUNDAY_10) is False


def test_spaces_around_the_dash():
    assert OpeningHours.parse("12:00 - 20:00").is_open(MONDAY_10.replace(hour=13)) is True
    hours = OpeningHours.parse("周一至周五 08:30 - 12:00, 14:30 – 17:30")
    assert hours.is_open(MONDAY_10) is True
    assert hours.is_open(MONDAY_10.replace(hour=13)) is False
    assert hours.is_open(MONDAY_10.replace(hour=15)) is True


@pytest.mark.parametrize(
    "text, at, expected",
    [
        # additional rule: an off range cuts into the earlier rule's day
        ("Mo-Fr 08:00-18:00, We 12:00-14:00 off", datetime(2026, 11, 25, 13, 0), False),
        ("Mo-Fr 08:00-18:00, We 12:00-14:00 off", datetime(2026, 11, 25, 15, 0), True),
        ("Mo-Fr 08:00-12:00, Sa 09:00-11:00", SATURDAY_10, True),
        # fallback: used on days no earlier rule opens
        ("Mo 22:00-02:00 || 08:00-20:00", datetime(2026, 11, 24, 1, 0), False),
        ("Mo 22:00-02:00 || 08:00-20:00", datetime(2026, 11, 24, 10, 0), True),
        ("Mo 22:00-02:00 || 08:00-20:00", MONDAY_10, False),
        # 24/7 as a rule, days alone mean all day, an end past 24:00
        ("24/7; Su off", SUNDAY_10, False),
        ("24/7; Su off", SATURDAY_10, True),
        ("Sa-Su", SUNDAY_10.replace(hour=3), True),
        ("Fr 22:00-26:00", datetime(2026, 11, 28, 1, 0), True),
        # a spill stands on a day no later rule names, however late the spilling rule is
        ("Mo 10:00-11:00; Mo 22:00-02:00", TUESDAY_1, True),
    ],
)
def test_osm_rule_kinds(text, at, expected):
    assert OpeningHours.parse(text).is_open(at) is expected
    assert osm.OpeningHours(text).is_open(at) is expected


@pytest.mark.parametrize("text", ["Mo 24:00-02:00", "Jan 10:00-12:00", "10:00-12:00 unknown"])
def test_osm_syntax_we_do_not_support_is_an_error(text):
    with pytest.raises(ValidationError):
        OpeningHours.parse(text)


_EN_DAYS = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
_ZH_DAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]


@st.composite
def _hhmm(draw, top_h=23):
    h = draw(st.integers(0, top_h))
    m = 0 if h == 24 else draw(st.sampled_from([0, 0, 15, 30, 45, draw(st.integers(0, 59))]))
    return f"{h:02d}:{m:02d}"


@st.composite
def _osm_rule(draw):
    """One rule as (OSM text, our Chinese spelling of it)."""
    if draw(st.integers(0, 12)) == 0:
        return "24/7", "全天"
    en_parts, zh_parts = [], []
    for _ in range(draw(st.integers(0, 3))):
        a = draw(st.integers(0, 6))
        if draw(st.booleans()):
            b = draw(st.integers(0, 6))  # also wrapping ranges (Fr-Mo)
            en_parts.append(f"{_EN_DAYS[a]}-{_EN_DAYS[b]}")
            zh_parts.append(f"{_ZH_DAYS[a]}至{_ZH_DAYS[b]}")
        else:
            en_parts.append(_EN_DAYS[a])
            zh_parts.append(_ZH_DAYS[a])
    en_days, zh_days = ",".join(en_parts), "、".join(zh_parts)
    spans = []
    for _ in range(draw(st.integers(0 if en_parts else 1, 3))):
        start = draw(_hhmm())
        end = draw(st.one_of(_hhmm(24), _hhmm(24), _hhmm(30)))
        dash = draw(st.sampled_from(["-", "-", " - "]))
        spans.append(f"{start}{dash}{end}")
    en_times = ",".join(spans)
    modifier = draw(st.sampled_from(["", "", "", " off", " closed", " open"]))
    zh_modifier = {" off": " 休息", " closed": " 关闭"}.get(modifier, modifier)
    en = " ".join(x for x in (en_days, en_times) if x) + modifier
    # A rule of days alone is all day in OSM; spelled 全天 in ours so that a following
    # "，周二" is a new rule, not the day list it would be in our syntax.
    zh_times = en_times or ("" if zh_modifier else "全天")
    zh = " ".join(x for x in (zh_days, zh_times) if x) + zh_modifier
    return en, zh.strip()


@st.composite
def _osm_expression(draw):
    rules = draw(st.lists(_osm_rule(), min_size=1, max_size=4))
    en, zh = rules[0]
    for rule_en, rule_zh in rules[1:]:
        sep = draw(st.sampled_from(["; ", "; ", "; ", ", ", " || "]))
        en += sep + rule_en
        zh += {"; ": "；", ", ": "，"}.get(sep, sep) + rule_zh
    return en, zh


_BASE = datetime(2026, 11, 23)  # a Monday
_SPAN = timedelta(days=21)


def _reference(text):
    try:
        return osm.OpeningHours(text, max_interval_days=30)
    except osm.ParserError:
        return None


def _our_open_intervals(hours, start, end):
    """Our open intervals over [start, end), merged across midnights."""
    out: list[list[datetime]] = []
    day = start
    while day < end:
        for s, e in hours.week[day.weekday()]:
            a, b = day + timedelta(minutes=s), day + timedelta(minutes=e)
            if out and out[-1][1] == a:
                out[-1][1] = b
            else:
                out.append([a, b])
        day += timedelta(days=1)
    return [(a, b) for a, b in out]


def _reference_open_intervals(reference, start, end):
    """The reference's open intervals over [start, end), asked one day at a time, merged.

    Asked day by day because its multi-day iterator skips days when the expression ends in a
    fallback to a constant rule (``01:00-24:00 || 24/7`` reads as open from Monday 01:00 on,
    while its own ``is_open`` says closed at 00:30 every day); per day it is consistent.
    """
    out: list[list[datetime]] = []
    day = start
    while day < end:
        for a, b, state, _ in reference.intervals(day, day + timedelta(days=1)):
            if state != osm.State.OPEN:
                continue
            if out and out[-1][1] == a:
                out[-1][1] = b
            else:
                out.append([a, b])
        day += timedelta(days=1)
    return [(a, b) for a, b in out]


@seed(42)
@settings(max_examples=400, deadline=None)
@given(
    _osm_expression(),
    st.lists(st.integers(0, int(_SPAN.total_seconds() // 60) - 1), min_size=8, max_size=8),
)
def test_agrees_with_the_osm_evaluator(expression, minutes):
    en, zh = expression
    reference = _reference(en)
    if reference is None:  # not OSM after all (e.g. a rule the reference refuses): skip
        return
    ours = OpeningHours.parse(en)
    # 1. the open intervals over three weeks, exactly
    expected = _reference_open_intervals(reference, _BASE, _BASE + _SPAN)
    assert _our_open_intervals(ours, _BASE, _BASE + _SPAN) == expected, en
    # 2. is_open and next_change at random instants, and at the first changes (the edges)
    instants = [_BASE + timedelta(minutes=m) for m in minutes]
    instants += [t for a, b in expected[:6] for t in (a, b - timedelta(minutes=1))]
    horizon = _BASE + _SPAN - timedelta(days=8)
    for at in instants:
        assert ours.is_open(at) is reference.is_open(at), (en, at)
        if at >= horizon:
            continue
        edges = [t for a, b in expected for t in (a, b) if at < t < _BASE + _SPAN]
        change = edges[0] if edges and edges[0] < at + timedelta(days=8) else None
        assert next_change(ours, at) == change, (en, at)
        if "||" not in en:  # the reference's own next_change (see above for fallbacks)
            assert next_change(ours, at) == reference.next_change(at), (en, at)
    # 3. our Chinese spelling of the same rules means the same
    assert OpeningHours.parse(zh).week == ours.week, (en, zh)


def test_chinese_days_without_times_are_unknown_not_open_all_day():
    # OSM reads ``Mo-Fr`` alone as open all day, and so do we; a registry writing 周一至周五
    # alone has left the times out: open-now must be unknown, not "open at 03:00".
    assert OpeningHours.parse("Mo-Fr").is_open(datetime(2026, 12, 7, 3, 0)) is True
    with pytest.raises(ValidationError, match="name days but no times"):
        OpeningHours.parse("周一至周五")
    with pytest.raises(ValidationError, match="name days but no times"):
        OpeningHours.parse("周一至周五; 周六 09:00-12:00")
    assert OpeningHours.parse("周一至周五 24小时").is_open(datetime(2026, 12, 7, 3, 0)) is True
