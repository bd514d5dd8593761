"""Opening hours: a small documented syntax, evaluated in China time.

Registries write hours the way people do. This module accepts:

=========================================  ==============================================
text                                        meaning
=========================================  ==============================================
``24小时`` ``24 小时`` ``全天`` ``24/7``       always open
``08:00-20:00`` ``每天 08:00-20:00``          every day
``周一至周五 09:00-17:00``                    Monday to Friday (also ``周一到周五``,
                                            ``星期一-星期五``, ``工作日``, ``Mo-Fr``)
``周一至周五 08:30-12:00,14:30-17:30``        several ranges in one day
``周一至周五 09:00-17:00; 周六 09:00-12:00``   several rules, separated by ``;`` ``；`` or a
                                            new line
``周六、周日 休息`` ``周末 closed``             closed on those days
``22:00-06:00``                              past midnight: open until 06:00 the next day
=========================================  ==============================================

Day words: 周一…周日 / 星期一…星期日 / 星期天 / 周天, 每天 / 每日, 工作日 (Mon–Fri),
周末 (Sat–Sun), English ``Mo Tu We Th Fr Sa Su``; lists with ``、`` or ``,``; ranges with
``至`` ``到`` ``-`` ``~``. Range separators ``-`` ``–`` ``~`` ``至`` ``到``; ``24:00`` is a
valid end. A later rule replaces earlier ones for the days it names (as in OSM
``opening_hours``). Empty text means *unknown* (``is_open`` returns ``None``), never closed.

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
_DAY = r"(?:(?:周|星期|礼拜)[一二三四五六日天七]|mo|tu|we|th|fr|sa|su)"
_TIME = r"\d{1,2}[:：]\d{2}"
_RANGE_SEP = r"\s*(?:-|–|—|~|～|至|到)\s*"
_TIME_RANGE = re.compile(rf"^({_TIME}){_RANGE_SEP}({_TIME})$")
_DAY_RANGE = re.compile(rf"^({_DAY}){_RANGE_SEP}({_DAY})$")


def _day_index(word: str) -> int:
    return _DAY_WORDS[word[-1] if not word.isascii() else word]


def _parse_days(spec: str) -> set[int]:
    days: set[int] = set()
    for part in re.split(r"[、,，/]", spec):
        part = part.strip()
        if not part:
            continue
        if part in _GROUPS:
            days.update(_GROUPS[part])
        elif m := _DAY_RANGE.match(part):
            a, b = _day_index(m.group(1)), _day_index(m.group(2))
            days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
        elif re.fullmatch(_DAY, part):
            days.add(_day_index(part))
        else:
            raise ValidationError(f"cannot read days {part!r} in opening hours", field="hours")
    return days


def _parse_time(text: str) -> int:
    h, m = (int(x) for x in re.split(r"[:：]", text))
    if h > 24 or m > 59 or (h == 24 and m):
        raise ValidationError(f"invalid time {text!r} in opening hours", field="hours")
    return h * 60 + m


@dataclass(frozen=True)
class OpeningHours:
    """Parsed weekly opening hours.

    Attributes
    ----------
    text
        The text as given.
    week
        Seven tuples (Monday first) of ``(start_min, end_min)`` ranges in minutes after
        midnight; ``end_min`` may exceed 1440 for ranges that run past midnight. ``None``
        when the hours are unknown.
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
            return cls(raw, tuple(((0, 1440),) for _ in range(7)))
        week: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for rule in re.split(r"[;；\n]+", norm):
            rule = rule.strip()
            if not rule:
                continue
            m = re.match(
                rf"^((?:{_DAY}|每天|每日|工作日|周末|daily)"
                rf"(?:\s*(?:[、,，/]|{_RANGE_SEP})\s*(?:{_DAY}|工作日|周末))*)\s*(.*)$",
                rule,
            )
            days, body = (
                (_parse_days(m.group(1)), m.group(2).strip()) if m else (set(range(7)), rule)
            )
            body = body.strip(":： ")
            ranges: list[tuple[int, int]] = []
            if body.replace(" ", "") in _ALWAYS:
                ranges = [(0, 1440)]
            elif body not in _CLOSED_WORDS:
                for part in re.split(r"\s*[,，、]\s*|\s+", body):
                    tm = _TIME_RANGE.match(part)
                    if not tm:
                        raise ValidationError(
                            f"cannot read opening hours {part or rule!r} "
                            "(expected e.g. 周一至周五 09:00-17:00)",
                            field="hours",
                        )
                    start, end = _parse_time(tm.group(1)), _parse_time(tm.group(2))
                    if end <= start:
                        end += 1440  # runs past midnight
                    ranges.append((start, end))
            for d in days:
                week[d] = list(ranges)
        return cls(raw, tuple(tuple(sorted(r)) for r in week))

    @property
    def known(self) -> bool:
        return self.week is not None

    def _intervals_around(self, local: datetime) -> list[tuple[datetime, datetime]]:
        """Open intervals (China wall time) from yesterday to tomorrow."""
        assert self.week is not None
        out = []
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in (-1, 0, 1):
            day = midnight + timedelta(days=offset)
            for start, end in self.week[day.weekday()]:
                out.append((day + timedelta(minutes=start), day + timedelta(minutes=end)))
        return sorted(out)

    def is_open(self, at: datetime | None = None) -> bool | None:
        """Whether open at ``at`` (default: now); ``None`` if the hours are unknown."""
        if self.week is None:
            return None
        local = to_china_time(at)
        return any(s <= local < e for s, e in self._intervals_around(local))

    @property
    def always_open(self) -> bool:
        return self.week is not None and all(r == ((0, 1440),) for r in self.week)

    def closes_at(self, at: datetime | None = None) -> datetime | None:
        """When the current open period ends (China time).

        ``None`` if the hours are unknown, the place is not open at ``at``, or it never
        closes (:attr:`always_open`).
        """
        if self.week is None or self.always_open:
            return None
        local = to_china_time(at)
        current = [(s, e) for s, e in self._intervals_around(local) if s <= local < e]
        if not current:
            return None
        end = max(e for _, e in current)
        # Chain periods that touch (23:00-24:00 then 00:00-02:00); a week at most.
        for _ in range(7):
            later = [e for s, e in self._intervals_around(end) if s <= end < e]
            if not later:
                break
            end = max(later)
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
