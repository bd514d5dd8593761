"""Opening hours: OSM ``opening_hours`` semantics on a documented syntax, in China time.

Registries write hours the way people do. This module owns reading them and saying whether a
place is open. It accepts the weekday/time subset of OSM ``opening_hours`` and evaluates it
as OSM does, plus our Chinese spellings, which map onto the same model:

=========================================  ==============================================
text                                        meaning
=========================================  ==============================================
``24小时`` ``24 小时`` ``全天`` ``24/7``       always open
``08:00-20:00`` ``每天 08:00-20:00``          every day (also ``12:00 - 20:00``)
``周一至周五 09:00-17:00``                    Monday to Friday (also ``周一到周五``,
                                            ``星期一-星期五``, ``工作日``, ``Mo-Fr``)
``周一至周五 08:30-12:00,14:30-17:30``        several ranges in one day
``周一至周五 09:00-17:00; 周六 09:00-12:00``   several rules, separated by ``;`` ``；`` or a
                                            new line
``周六、周日 休息`` ``周末 closed`` ``Su off``  closed on those days
``Mo 12:00-14:00 off``                       closed in that range only
``Mo-Fr``                                    those days, all day (as in OSM); Chinese
                                            days alone (``周一至周五``) are refused: the
                                            times were left out, so open-now is unknown
``22:00-06:00`` ``22:00-30:00``              past midnight: open until 06:00 the next day
``Mo-Fr 08:00-18:00, We 12:00-14:00 off``    additional rule (``,`` before a new rule)
``Mo-Fr 08:00-18:00 || Sa 10:00-12:00``      fallback rule
=========================================  ==============================================

Day words: 周一…周日 / 星期一…星期日 / 礼拜一… / 星期天 / 周天, 每天 / 每日, 工作日 (Mon–Fri),
周末 (Sat–Sun), English ``Mo Tu We Th Fr Sa Su``; lists with ``、`` ``,`` ``，`` or ``/``;
ranges (also wrapping, ``Fr-Mo``) with ``至`` ``到`` ``-`` ``~``. Time ranges with ``-`` ``–``
``~`` ``至`` ``到``, spaces around the dash allowed; ``24:00`` is a valid end and an end up to
``48:00`` runs into the next day. Empty text means *unknown* (``is_open`` returns ``None``),
never closed.

Rules, as in OSM (checked against the OSM Rust evaluator in ``tests/test_hours.py``):

* **Normal rules** (``;``): a later rule replaces earlier ones for the *calendar days* it
  names. A range past midnight belongs to the day it starts on, and its part after midnight
  spills into the next day, where it stands unless that day has a later rule of its own:
  ``22:00-02:00; Tu 12:00-14:00`` is closed on Tuesday 00:00–02:00 (Tuesday's own rule) and
  open on Wednesday 00:00–02:00 (Monday's and Tuesday's spill of the first rule).
* A later ``off`` rule closes the ranges it names (the whole day when it names none) and
  leaves the rest of the day as earlier rules said: ``Mo-Fr 10:00-20:00; Tu 12:00-14:00 off``
  is open on Tuesday 10:00–12:00 and 14:00–20:00.
* **Additional rules** (``,`` followed by a new rule, i.e. not by a time): added to what
  earlier rules said for that day; an ``off`` range cuts into it.
* **Fallback rules** (``||``): used for days on which no earlier rule said "open".

Where we differ from OSM (our syntax, not theirs): ``,`` followed by a Chinese day word
continues a day list (``周六, 周日 休息``; OSM reads ``Sa, Su`` as two rules), day words and
``24小时`` may be combined (``周一至周五 24小时``), a trailing ``;`` is ignored, and ranges may
be separated by spaces (``08:30-12:00 14:30-17:30``). Dates, months, holidays, weeks,
sunrise/sunset, ``unknown`` and comments are not supported (they raise).

Times are wall-clock times in China (``Asia/Shanghai``, UTC+8, no daylight saving): an aware
``datetime`` is converted to China time first, whatever the server's zone; a naive one is
taken to be China time already.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from geo.errors import ValidationError

CHINA_TZ = ZoneInfo("Asia/Shanghai")

_DAY_MIN = 1440

_ALWAYS = {
    "24小时",
    "24h",
    "24/7",
    "全天",
    "全天候",
    "全天24小时",
    "24小时营业",
    "24小时开放",
    "全年无休",
    "always",
}
_CLOSED_WORDS = {"休息", "关闭", "不开放", "闭馆", "closed", "off"}
_OPEN_WORDS = {"open", "开放", "营业"}
_DAY_WORDS = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "七": 6,
    "mo": 0,
    "tu": 1,
    "we": 2,
    "th": 3,
    "fr": 4,
    "sa": 5,
    "su": 6,
}
_GROUPS = {
    "每天": range(7),
    "每日": range(7),
    "工作日": range(5),
    "周末": range(5, 7),
    "daily": range(7),
}

# The text is NFKC-normalised and lower-cased first: full-width ：；，～ become : ; , ~.
_SP = r"[^\S\n]*"  # spaces, not a new line (a new line separates rules)
_ZH_DAY = r"(?:周|星期|礼拜)[一二三四五六日天七]"
_EN_DAY = r"(?:mo|tu|we|th|fr|sa|su)(?![a-z])"
_DAY = rf"(?:{_ZH_DAY}|{_EN_DAY})"
_GROUP = r"(?:每天|每日|工作日|周末|daily(?![a-z]))"
_RANGE_SEP = rf"{_SP}(?:-|–|—|~|至|到){_SP}"
_TIME = r"\d{1,2}:\d{2}"

_DAY_ITEM_RE = re.compile(rf"({_GROUP})|({_DAY})(?:{_RANGE_SEP}({_DAY}))?")
# A day list goes on after 、 / or a comma, except ", Mo": in OSM that starts a new rule.
_DAY_LIST_SEP_RE = re.compile(
    rf"{_SP}(?:[、/]|,(?={_ZH_DAY}|{_GROUP}|{_EN_DAY})|,{_SP}(?={_ZH_DAY}|{_GROUP})){_SP}"
)
_COLON_RE = re.compile(rf"{_SP}:?{_SP}")
_TIME_RANGE_RE = re.compile(rf"({_TIME}){_RANGE_SEP}({_TIME})")
_TIME_LIST_SEP_RE = re.compile(rf"(?:{_SP}[,、]{_SP}|[^\S\n]+)(?={_TIME})")
_ALWAYS_RE = re.compile(
    "|".join(
        _SP.join(map(re.escape, word)) + ("(?![a-z])" if word[-1].isalpha() else "")
        for word in sorted(_ALWAYS, key=len, reverse=True)
    )
)
_MODIFIER_RE = re.compile(
    "|".join(
        re.escape(w) + ("(?![a-z])" if w.isascii() else "")
        for w in sorted(_CLOSED_WORDS | _OPEN_WORDS, key=len, reverse=True)
    )
)
_RULE_SEP_RE = re.compile(rf"{_SP}(\|\||[;\n,]){_SP}")
_SPACES_RE = re.compile(_SP)

_NORMAL, _ADDITIONAL, _FALLBACK = ";", ",", "||"
_OPEN, _CLOSED = 1, 2  # minute states of a day schedule; 0: nothing said (closed)
_OPEN_RUN_RE = re.compile(b"\x01+")


def _day_index(word: str) -> int:
    return _DAY_WORDS[word[-1] if not word.isascii() else word]


def _parse_time(text: str, *, end: bool) -> int:
    h, m = (int(x) for x in text.split(":"))
    # OSM: a start is 00:00-23:59; an end may run on to 48:00 (the next day).
    top = 48 if end else 23
    if h > top or m > 59 or (h == top == 48 and m):
        raise ValidationError(f"invalid time {text!r} in opening hours", field="hours")
    return h * 60 + m


@dataclass(frozen=True)
class _Rule:
    """One rule: the weekdays it names, its ranges (minutes, ends past 1440 spill), its state."""

    operator: str
    days: frozenset[int]
    spans_min: tuple[tuple[int, int], ...]
    state: int


class _Reader:
    """Recursive-descent reader of the normalised text into rules."""

    def __init__(self, norm: str) -> None:
        self.s = norm
        self.pos = 0

    def _match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        m = pattern.match(self.s, self.pos)
        if m:
            self.pos = m.end()
        return m

    def _fail(self) -> ValidationError:
        rest = self.s[self.pos :]
        fragment = re.split(r"[;\n]|\|\|", rest, maxsplit=1)[0].strip() or self.s.strip()
        return ValidationError(
            f"cannot read opening hours {fragment!r} (expected e.g. 周一至周五 09:00-17:00)",
            field="hours",
        )

    def _days(self) -> set[int] | None:
        days: set[int] = set()
        start = self.pos
        while m := self._match(_DAY_ITEM_RE):
            if m.group(1):
                days.update(_GROUPS[m.group(1)])
            else:
                a = _day_index(m.group(2))
                b = _day_index(m.group(3)) if m.group(3) else a
                days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
            before = self.pos
            if not self._match(_DAY_LIST_SEP_RE):
                break
            if not _DAY_ITEM_RE.match(self.s, self.pos):
                self.pos = before
                break
        if self.pos == start:
            return None
        return days

    def _times(self) -> list[tuple[int, int]] | None:
        if self._match(_ALWAYS_RE):
            return [(0, _DAY_MIN)]
        spans: list[tuple[int, int]] = []
        while m := self._match(_TIME_RANGE_RE):
            start = _parse_time(m.group(1), end=False)
            end = _parse_time(m.group(2), end=True)
            if end <= start:
                end += _DAY_MIN  # runs past midnight
            spans.append((start, end))
            if not self._match(_TIME_LIST_SEP_RE):
                break
        return spans or None

    def rules(self) -> list[_Rule]:
        out: list[_Rule] = []
        operator = _NORMAL
        while True:
            self._match(_SPACES_RE)
            day_start = self.pos
            days = self._days()
            day_text = self.s[day_start : self.pos]
            if days is not None:
                self._match(_COLON_RE)
            spans = self._times()
            self._match(_SPACES_RE)
            modifier = self._match(_MODIFIER_RE)
            if days is not None and spans is None and modifier is None and not day_text.isascii():
                # OSM reads ``Mo-Fr`` alone as open all day; a registry that writes 周一至周五
                # alone has left the times out, so we say "unknown" rather than "open 24 h".
                raise ValidationError(
                    f"opening hours {day_text.strip()!r} name days but no times "
                    "(write e.g. 周一至周五 09:00-17:00, or 周一至周五 24小时)",
                    field="hours",
                )
            said = days is not None or spans is not None or modifier is not None
            if said:
                state = _CLOSED if modifier and modifier.group(0) in _CLOSED_WORDS else _OPEN
                out.append(
                    _Rule(
                        operator if out else _NORMAL,
                        frozenset(range(7) if days is None else days),
                        tuple(spans or [(0, _DAY_MIN)]),
                        state,
                    )
                )
            self._match(_SPACES_RE)
            if self.pos >= len(self.s):
                return out
            sep = self._match(_RULE_SEP_RE)
            if sep is None:
                raise self._fail()
            if said or sep.group(1) != ",":
                operator = {"||": _FALLBACK, ",": _ADDITIONAL}.get(sep.group(1), _NORMAL)


def _rule_day(rule: _Rule, weekday: int) -> bytearray | None:
    """What ``rule`` says of one calendar day: its own ranges, then yesterday's spill.

    ``None`` when the rule names neither the day nor (with a range past midnight) the day
    before.
    """
    out = None
    if weekday in rule.days:
        out = bytearray(_DAY_MIN)
        for start, end in rule.spans_min:
            end = min(end, _DAY_MIN)
            out[start:end] = bytes([rule.state]) * (end - start)
    if (weekday - 1) % 7 in rule.days:
        spill = [
            (max(s, _DAY_MIN) - _DAY_MIN, e - _DAY_MIN) for s, e in rule.spans_min if e > _DAY_MIN
        ]
        for start, end in spill:
            out = out if out is not None else bytearray(_DAY_MIN)
            out[start:end] = bytes([rule.state]) * (end - start)
    return out


def _add(earlier: bytearray, later: bytearray) -> bytearray:
    """``later`` laid over ``earlier`` where it says anything."""
    return bytearray(b if b else a for a, b in zip(earlier, later, strict=True))


def _day_schedule(rules: list[_Rule], weekday: int) -> tuple[tuple[int, int], ...]:
    """Open ranges ``(start_min, end_min)`` within one calendar day, OSM rule by rule."""
    said_match = False  # some rule so far names this day
    said: bytearray | None = None
    for rule in rules:
        match = weekday in rule.days
        this = _rule_day(rule, weekday)
        if rule.operator == _NORMAL and rule.state == _OPEN:
            # a day it does not name keeps what earlier rules opened; else this rule's spill
            if match or said is None or (_OPEN not in said and this is not None):
                said = this
            said_match = said_match or match
        elif rule.operator != _FALLBACK:  # additional, or a normal rule that closes
            said_match = said_match or match
            if said is not None and this is not None:
                said = _add(said, this)
            elif said is None:
                said = this
        elif not (said_match and (said is None or _OPEN in said)):
            # fallback: used unless an earlier rule names the day and opens on it
            said_match, said = match, this
    if said is None:
        return ()
    return tuple(m.span() for m in _OPEN_RUN_RE.finditer(said))


@dataclass(frozen=True)
class OpeningHours:
    """Parsed weekly opening hours.

    Attributes
    ----------
    text
        The text as given.
    week
        Seven tuples (Monday first) of the open ``(start_min, end_min)`` ranges of each
        calendar day, in minutes after midnight (``end_min`` at most 1440; a range past
        midnight shows as the end of one day and the start of the next). ``None`` when the
        hours are unknown.
    """

    text: str
    week: tuple[tuple[tuple[int, int], ...], ...] | None

    @classmethod
    def parse(cls, text: str | None) -> OpeningHours:
        """Parse ``text`` (see the module docstring); results are cached by text.

        Raises
        ------
        ValidationError
            With ``field="hours"`` and the fragment that could not be read.
        """
        # mypy sees type.__hash__ as unbound and rejects a class as Hashable; it is hashable.
        return _parse_cached(cls, text or "")  # type: ignore[arg-type]

    @classmethod
    def _parse(cls, text: str) -> OpeningHours:
        raw = (text or "").strip()
        norm = unicodedata.normalize("NFKC", raw).lower().strip()
        if not norm:
            return cls(raw, None)
        if norm.replace(" ", "") in _ALWAYS:
            return cls(raw, tuple(((0, _DAY_MIN),) for _ in range(7)))
        rules = _Reader(norm).rules()
        if not rules:
            raise _Reader(norm)._fail()
        return cls(raw, tuple(_day_schedule(rules, d) for d in range(7)))

    @property
    def known(self) -> bool:
        return self.week is not None

    def _open_range(self, local: datetime) -> tuple[datetime, datetime] | None:
        """The open range of ``local``'s calendar day that contains it, if any."""
        assert self.week is not None
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        minute = local.hour * 60 + local.minute
        for start, end in self.week[local.weekday()]:
            if start <= minute < end:
                return midnight + timedelta(minutes=start), midnight + timedelta(minutes=end)
        return None

    def is_open(self, at: datetime | None = None) -> bool | None:
        """Whether open at ``at`` (default: now); ``None`` if the hours are unknown."""
        if self.week is None:
            return None
        return self._open_range(to_china_time(at)) is not None

    @property
    def always_open(self) -> bool:
        return self.week is not None and all(r == ((0, _DAY_MIN),) for r in self.week)

    def closes_at(self, at: datetime | None = None) -> datetime | None:
        """When the current open period ends (China time), across midnights.

        ``None`` if the hours are unknown, the place is not open at ``at``, or it never
        closes (:attr:`always_open`).
        """
        if self.week is None or self.always_open:
            return None
        current = self._open_range(to_china_time(at))
        if current is None:
            return None
        end = current[1]
        # A range to 24:00 goes on if the next day opens at 00:00; a week at most.
        for _ in range(7):
            later = self._open_range(end)
            if later is None:
                break
            end = later[1]
        return end

    def next_opening(self, at: datetime | None = None) -> datetime | None:
        """When the place next opens after ``at`` (China wall time), within a week.

        ``None`` if the hours are unknown, it is open at ``at``, or it never opens.
        """
        if self.week is None or self.is_open(at):
            return None
        local = to_china_time(at)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(8):
            day = midnight + timedelta(days=offset)
            starts = [
                day + timedelta(minutes=start)
                for start, _ in self.week[day.weekday()]
                if day + timedelta(minutes=start) > local
            ]
            if starts:
                return min(starts)
        return None


def next_change(hours: OpeningHours, at: datetime | None = None) -> datetime | None:
    """The next time (China wall time, naive) the open/closed state changes after ``at``.

    Open at ``at``: when it closes (:meth:`OpeningHours.closes_at`); closed: when it next
    opens (:meth:`OpeningHours.next_opening`). ``None`` when the hours are unknown, the place
    never closes (24 小时) or never opens within a week.
    """
    state = hours.is_open(at)
    if state is None:
        return None
    return hours.closes_at(at) if state else hours.next_opening(at)


@functools.lru_cache(maxsize=4096)
def _parse_cached(cls: type[OpeningHours], text: str) -> OpeningHours:
    return cls._parse(text)


def to_china_time(at: datetime | None = None) -> datetime:
    """Return ``at`` as a naive China wall-clock time (aware → converted; naive → as is)."""
    if at is None:
        at = datetime.now(UTC)
    if at.tzinfo is not None:
        at = at.astimezone(CHINA_TZ).replace(tzinfo=None)
    return at


#: Day names :func:`week_lines` writes, Monday first.
_DAY_NAMES = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def week_lines(hours: OpeningHours, lang: str = "zh") -> list[str]:
    """The weekly schedule as lines a sign or poster prints, consecutive days with the same
    ranges merged: ``["周一至周五 08:30–12:00, 14:30–17:30", "周六、周日 休息"]``.

    ``["每天 24 小时"]`` when always open, ``["每天 08:00–20:00"]`` when every day is the
    same; an empty list when the hours are unknown (the caller prints the text as given or
    says 未知). A range past midnight shows as the end of one day and the start of the next,
    as :attr:`OpeningHours.week` holds it.
    """
    en = lang == "en"
    if hours.week is None:
        return []
    if hours.always_open:
        return ["24 hours, every day" if en else "每天 24 小时"]
    names = _DAY_NAMES["en" if en else "zh"]
    closed = "closed" if en else "休息"

    def ranges(day: tuple[tuple[int, int], ...]) -> str:
        return ", ".join(f"{_clock(a)}–{_clock(b)}" for a, b in day) or closed

    if len(set(hours.week)) == 1:
        return [f"{'Daily' if en else '每天'} {ranges(hours.week[0])}"]
    runs: list[tuple[int, int]] = []  # (first day, last day) of equal schedules
    for day in range(7):
        if runs and hours.week[runs[-1][1]] == hours.week[day]:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    lines = []
    for first, last in runs:
        if first == last:
            days = names[first]
        elif last == first + 1:
            days = f"{names[first]}, {names[last]}" if en else f"{names[first]}、{names[last]}"
        else:
            days = f"{names[first]}–{names[last]}" if en else f"{names[first]}至{names[last]}"
        lines.append(f"{days} {ranges(hours.week[first])}")
    return lines
