"""六有 — the Qinghai "six-haves" station standard: facilities, manual checks, the six criteria.

This module owns

* the **facility taxonomy** (:data:`FACILITIES`): an open taxonomy like kinds and services
  (:mod:`geo.models`), extended by a deployment with ``YIZHAN_EXTRA_FACILITIES``
  (``code:中文名:English name;…``);
* the **manual checks** that cannot be derived from a record (:data:`CHECKS`): the sign with
  the unified name and logo is up (``sign``), the rules are posted (``rules``), a manager is
  named (``manager``). A station keeps them in ``Station.liuyou`` as ``{check: True/False}``;
  a check not in the dict is *unknown*;
* the **six criteria** (:data:`CRITERIA`, DESIGN §2), each a rule configured by
  :class:`LiuyouRules` (defaults below, overridable with ``YIZHAN_LIUYOU_RULES``, a JSON
  object of the fields to change);
* the evaluation of a station (:func:`assess`) and the counts per county and township
  (:func:`summarise`), where units without stations are listed with zero counts.

Missing data gives ``unknown``, never ``fail``: a criterion fails only on what the record
says. The per-station score is the number of criteria passed (0–6); a station is *complete*
when all six pass.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from geo.errors import ValidationError
from geo.geocode.base import precision_rank
from geo.hours import OpeningHours
from geo.models import Precision, Station, Status, Term, lookup_term

__all__ = [
    "CHECKS",
    "CRITERIA",
    "FACILITIES",
    "Assessment",
    "Criterion",
    "LiuyouRules",
    "Outcome",
    "UnitSummary",
    "assess",
    "assess_all",
    "in_area",
    "parse_facilities",
    "parse_facility",
    "register_facilities_text",
    "register_facility",
    "station_rows",
    "summarise",
    "unit_rows",
    "write_report",
]


class Outcome(StrEnum):
    """The result of one criterion for one station."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


#: Outcome labels for reports and pages.
OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "pass": ("达标", "met"),
    "fail": ("未达标", "not met"),
    "unknown": ("未知", "unknown"),
}


@dataclass(frozen=True)
class Criterion:
    """One of the six: its code and labels."""

    code: str
    zh: str
    en: str


#: The six criteria in the standard's order (DESIGN §2).
CRITERIA: tuple[Criterion, ...] = (
    Criterion("identity", "统一标识名称", "Unified sign and name"),
    Criterion("layout", "合理布局", "Sound location"),
    Criterion("facilities", "健全设施", "Full facilities"),
    Criterion("functions", "完善功能", "Complete functions"),
    Criterion("rules", "规范制度", "Proper rules"),
    Criterion("map", "有地图可查", "On the map"),
)

#: Manual checks kept in ``Station.liuyou``: code → (中文, English).
CHECKS: dict[str, tuple[str, str]] = {
    "sign": ("统一标识", "Unified sign and logo up"),
    "rules": ("制度上墙", "Rules posted"),
    "manager": ("明确负责人", "Manager named"),
}

# ------------------------------------------------------------------------------ facilities
FACILITIES: dict[str, Term] = {}


def register_facility(term: Term) -> None:
    """Add (or replace) a facility in the open taxonomy."""
    FACILITIES[term.code] = term


for _t in (
    Term("drinking_water", "饮水", "Drinking water", ("饮水机", "热水", "饮用水", "water")),
    Term("seats", "休息座椅", "Seats", ("座椅", "桌椅", "休息区", "seat", "chairs")),
    Term("charging", "充电", "Phone charging", ("手机充电", "充电宝", "充电设施")),
    Term("microwave", "微波炉", "Microwave", ("热饭", "加热")),
    Term("fridge", "冷藏", "Fridge", ("冰箱", "冷柜")),
    Term("toilet", "卫生间", "Toilet", ("厕所", "如厕", "洗手间")),
    Term("first_aid_kit", "药箱", "First-aid kit", ("医药箱", "急救箱", "first aid")),
    Term("nursing_room", "爱心妈咪小屋", "Nursing room", ("母婴室", "哺乳室", "妈咪小屋")),
    Term("books", "图书", "Books", ("书报", "书架", "职工书屋", "reading")),
    Term("wifi", "无线网络", "Wi-Fi", ("wi-fi", "无线上网", "wlan")),
    Term("air_conditioning", "空调", "Air conditioning", ("风扇", "取暖设备")),
    Term("aed", "AED", "AED defibrillator", ("除颤仪",)),
):
    register_facility(_t)

_ENV_FACILITIES_READ = False


def register_facilities_text(text: str) -> None:
    """Register extra facilities written ``code:中文名:English name;…``.

    Raises
    ------
    ValidationError
        If an entry is not ``code:中文名:English name``.
    """
    for item in filter(None, (s.strip() for s in (text or "").split(";"))):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 3 or not all(parts):
            raise ValidationError(
                f"facility entry {item!r} must be code:中文名:English name",
                field="extra_facilities",
            )
        register_facility(Term(parts[0], parts[1], parts[2]))


def _read_env_facilities() -> None:
    global _ENV_FACILITIES_READ
    if not _ENV_FACILITIES_READ:
        _ENV_FACILITIES_READ = True
        register_facilities_text(os.environ.get("YIZHAN_EXTRA_FACILITIES", ""))


def parse_facility(value: str) -> str:
    """The facility code for a code, label or alias.

    Raises
    ------
    ValidationError
        If ``value`` names no known facility (the message suggests the closest).
    """
    _read_env_facilities()
    return lookup_term(FACILITIES, value, "facility", "facilities")


def parse_facilities(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Split a facility list (``"饮水、充电;wifi"`` or an iterable) into sorted unique codes.

    Raises
    ------
    ValidationError
        On the first unknown facility.
    """
    import re

    if value is None:
        return ()
    parts = re.split(r"[、;；|,，\s]+", value) if isinstance(value, str) else list(value)
    return tuple(sorted({parse_facility(str(p)) for p in parts if str(p).strip()}))


# ------------------------------------------------------------------------------ rules
@dataclass(frozen=True)
class LiuyouRules:
    """What counts for each criterion (defaults from DESIGN §2; see the module docstring).

    Attributes
    ----------
    name_words
        统一标识名称: the name contains one of these standard words, and the sign check passed.
    min_precision
        合理布局 and 有地图可查: the position is at least this precise.
    required_facilities
        健全设施: every one of these facility codes is present.
    min_services
        完善功能: at least this many services, and readable opening hours.
    require_phone
        规范制度: a phone number besides the rules and manager checks.
    """

    name_words: tuple[str, ...] = (
        "驿站",
        "服务站",
        "服务点",
        "职工之家",
        "工作站",
        "联络站",
        "帮扶中心",
    )
    min_precision: str = Precision.STREET.value
    required_facilities: tuple[str, ...] = (
        "drinking_water",
        "seats",
        "microwave",
        "charging",
        "first_aid_kit",
    )
    min_services: int = 1
    require_phone: bool = True

    @classmethod
    def from_text(cls, text: str | None) -> LiuyouRules:
        """Rules from a JSON object of the fields to override (``YIZHAN_LIUYOU_RULES``).

        Raises
        ------
        ValidationError
            If the text is not such an object, names an unknown field or facility.
        """
        if not text or not text.strip():
            return cls()
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError(
                f"liuyou rules are not JSON: {exc}", field="liuyou_rules"
            ) from None
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) - names:
            raise ValidationError(
                f"liuyou rules must be a JSON object with keys among {sorted(names)}",
                field="liuyou_rules",
            )
        if "name_words" in data:
            data["name_words"] = tuple(str(w) for w in data["name_words"])
        if "required_facilities" in data:
            data["required_facilities"] = parse_facilities(data["required_facilities"])
        if "min_precision" in data:
            data["min_precision"] = Precision(str(data["min_precision"])).value
        return cls(**data)


# ------------------------------------------------------------------------------ assessment
@dataclass
class Assessment:
    """The six criteria for one station: outcome and the reason of each."""

    station_id: str
    outcomes: dict[str, Outcome]
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> int:
        """Criteria passed, 0–6."""
        return sum(o is Outcome.PASS for o in self.outcomes.values())

    @property
    def complete(self) -> bool:
        """All six pass."""
        return self.score == len(CRITERIA)


def _combine(parts: Sequence[Outcome]) -> Outcome:
    """Any fail fails; else any unknown is unknown; else pass."""
    if Outcome.FAIL in parts:
        return Outcome.FAIL
    if Outcome.UNKNOWN in parts:
        return Outcome.UNKNOWN
    return Outcome.PASS


def _check(s: Station, code: str) -> Outcome:
    value = (s.liuyou or {}).get(code)
    return Outcome.UNKNOWN if value is None else Outcome.PASS if value else Outcome.FAIL


def _precise(s: Station, rules: LiuyouRules) -> Outcome:
    if s.lon is None or s.lat is None:
        return Outcome.FAIL
    if s.precision is Precision.UNKNOWN:
        return Outcome.UNKNOWN
    ok = precision_rank(s.precision) <= precision_rank(rules.min_precision)
    return Outcome.PASS if ok else Outcome.FAIL


def _county_conflicts(stations: Sequence[Station], gazetteer) -> dict[str, Outcome]:
    """Per station id: whether its coordinates lie in its stated county (geo.review's check)."""
    from geo.review import review_stations

    out: dict[str, Outcome] = {}
    if gazetteer is None:
        return out
    flagged = {
        item.id
        for item in review_stations(stations, gazetteer)
        if any(not r.position_only for r in item.details)
    }
    for s in stations:
        stated = s.county_code or s.county
        if s.lon is None or not stated:
            out[s.id] = Outcome.UNKNOWN
        else:
            out[s.id] = Outcome.FAIL if s.id in flagged else Outcome.PASS
    return out


def assess(
    s: Station,
    rules: LiuyouRules | None = None,
    gazetteer=None,
    in_county: Outcome | None = None,
) -> Assessment:
    """The six criteria for one station (see the module docstring and :class:`LiuyouRules`).

    ``gazetteer`` checks that the coordinates lie in the stated county (without it that part
    is unknown); ``in_county`` gives that answer already computed (:func:`assess_all`).
    """
    rules = rules or LiuyouRules()
    if in_county is None:
        in_county = _county_conflicts([s], gazetteer).get(s.id, Outcome.UNKNOWN)
    out: dict[str, Outcome] = {}
    why: dict[str, str] = {}

    # 统一标识名称
    named = any(w in (s.name or "") for w in rules.name_words)
    out["identity"] = _combine([Outcome.PASS if named else Outcome.FAIL, _check(s, "sign")])
    if not named:
        why["identity"] = "名称不含统一称谓 / name lacks the standard wording"
    elif out["identity"] is not Outcome.PASS:
        unknown = out["identity"] is Outcome.UNKNOWN
        why["identity"] = (
            "标识未核实 / sign not checked" if unknown else "无统一标识 / no unified sign"
        )

    # 合理布局
    precise = _precise(s, rules)
    out["layout"] = _combine([precise, in_county])
    if precise is Outcome.FAIL:
        why["layout"] = f"定位精度不足 / position only to the {s.precision.value}"
    elif in_county is Outcome.FAIL:
        why["layout"] = "坐标不在所报县区 / coordinates outside the stated county"
    elif out["layout"] is Outcome.UNKNOWN:
        why["layout"] = "位置或县区未核实 / position or county not verifiable"

    # 健全设施
    if not s.facilities:
        out["facilities"] = Outcome.UNKNOWN
        why["facilities"] = "未登记设施 / facilities not recorded"
    else:
        missing = [c for c in rules.required_facilities if c not in s.facilities]
        out["facilities"] = Outcome.FAIL if missing else Outcome.PASS
        if missing:
            labels = "、".join(FACILITIES[c].zh if c in FACILITIES else c for c in missing)
            why["facilities"] = f"缺少 {labels} / missing {', '.join(missing)}"

    # 完善功能
    parts = []
    if not s.services:
        parts.append(Outcome.UNKNOWN)
    else:
        parts.append(Outcome.PASS if len(s.services) >= rules.min_services else Outcome.FAIL)
    if not s.hours:
        parts.append(Outcome.UNKNOWN)
    else:
        try:
            OpeningHours.parse(s.hours)
            parts.append(Outcome.PASS)
        except ValidationError:
            parts.append(Outcome.FAIL)
    out["functions"] = _combine(parts)
    if out["functions"] is not Outcome.PASS:
        why["functions"] = "服务项目或开放时间缺失/不全 / services or hours missing or unreadable"

    # 规范制度
    parts = [_check(s, "rules"), _check(s, "manager")]
    if rules.require_phone:
        parts.append(Outcome.PASS if s.phone else Outcome.UNKNOWN)
    out["rules"] = _combine(parts)
    if out["rules"] is not Outcome.PASS:
        why["rules"] = "制度上墙、负责人或电话未落实/未核实 / rules, manager or phone not confirmed"

    # 有地图可查: a precise position and published (an open station; approval is the
    # registry's publish gate, so a stored open station is what the public map shows).
    published = Outcome.PASS if s.status is Status.OPEN else Outcome.FAIL
    out["map"] = _combine([precise, published])
    if out["map"] is not Outcome.PASS:
        why["map"] = "未公开或位置不精确 / not published or position imprecise"
    return Assessment(s.id, out, why)


def assess_all(
    stations: Sequence[Station], rules: LiuyouRules | None = None, gazetteer=None
) -> list[Assessment]:
    """:func:`assess` for many stations (the county check vectorised once)."""
    rules = rules or LiuyouRules()
    county = _county_conflicts(stations, gazetteer)
    return [assess(s, rules, in_county=county.get(s.id, Outcome.UNKNOWN)) for s in stations]


# ------------------------------------------------------------------------------ summaries
@dataclass
class UnitSummary:
    """Counts for one county or township."""

    code: str
    name: str
    level: str
    county_code: str = ""
    stations: int = 0
    complete: int = 0
    score_total: int = 0
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {c.code: {o.value: 0 for o in Outcome} for c in CRITERIA}
    )

    @property
    def mean_score(self) -> float | None:
        """Mean station score (``None`` without stations)."""
        return self.score_total / self.stations if self.stations else None

    def add(self, a: Assessment) -> None:
        self.stations += 1
        self.complete += a.complete
        self.score_total += a.score
        for code, o in a.outcomes.items():
            self.counts[code][o.value] += 1


def summarise(
    stations: Sequence[Station],
    assessments: Sequence[Assessment],
    area_code: str | None = None,
    gazetteer=None,
) -> tuple[list[UnitSummary], list[UnitSummary]]:
    """Counts per county and per township: ``(counties, townships)``, ordered by code.

    With a ``gazetteer``, every county and township under ``area_code`` is listed, those
    without stations with zero counts; stations without a township code count in their
    county only (and a township row ``"<county>-"``, "未定乡镇", collects them).
    """
    counties: dict[str, UnitSummary] = {}
    towns: dict[str, UnitSummary] = {}
    if gazetteer is not None and area_code:
        for d in gazetteer.units:
            if not _unit_in_area(d, area_code):
                continue
            if d.level == "county":
                counties[d.code] = UnitSummary(d.code, d.name, "county", d.code)
            elif d.level == "township":
                towns[d.code] = UnitSummary(d.code, d.name, "township", d.county_code)
    for s, a in zip(stations, assessments, strict=True):
        ccode = s.county_code or ""
        if ccode not in counties:
            counties[ccode] = UnitSummary(ccode, s.county or "未定县区", "county", ccode)
        counties[ccode].add(a)
        tcode = s.township_code or f"{ccode}-"
        if tcode not in towns:
            name = s.township or "未定乡镇" if s.township_code else "未定乡镇"
            towns[tcode] = UnitSummary(tcode, name, "township", ccode)
        towns[tcode].add(a)
    return (
        [counties[k] for k in sorted(counties)],
        [towns[k] for k in sorted(towns, key=lambda k: (towns[k].county_code, k))],
    )


# ------------------------------------------------------------------------------ area and report
def in_area(s: Station, area_code: str) -> bool:
    """Whether ``s`` lies in the admin unit ``area_code`` by its stated codes: the rule of
    :func:`geo.access.covers` (which this calls)."""
    from geo.access import covers

    return covers(area_code, s)


def _unit_in_area(d, area_code: str) -> bool:
    if area_code in (d.code, d.province_code, d.prefecture_code, d.county_code):
        return True
    return len(area_code) >= 9 and d.code.startswith(area_code)


def _label(outcome: Outcome, lang: str) -> str:
    zh, en = OUTCOME_LABELS[outcome.value]
    return en if lang == "en" else zh


def station_rows(
    stations: Sequence[Station], assessments: Sequence[Assessment], lang: str = "zh"
) -> list[dict[str, object]]:
    """One flat record per station: identity, place, facilities, checks, each criterion."""
    en = lang == "en"
    rows = []
    for s, a in zip(stations, assessments, strict=True):
        checks = s.liuyou or {}
        row: dict[str, object] = {
            "id": s.id,
            "name": s.name,
            "county": s.county or "",
            "county_code": s.county_code or "",
            "township": s.township or "",
            "township_code": s.township_code or "",
            "status": s.status.value,
            "demo": ("yes" if en else "是") if s.demo else ("no" if en else "否"),
            "facility_list": ("; " if en else "、").join(
                (FACILITIES[c].en if en else FACILITIES[c].zh) if c in FACILITIES else c
                for c in s.facilities
            ),
        }
        for code in CHECKS:
            value = checks.get(code)
            row[f"check_{code}"] = _label(
                Outcome.UNKNOWN if value is None else Outcome.PASS if value else Outcome.FAIL,
                lang,
            )
        for c in CRITERIA:
            row[c.code] = _label(a.outcomes[c.code], lang)
        row["score"] = a.score
        row["complete"] = ("yes" if en else "是") if a.complete else ("no" if en else "否")
        row["reasons"] = "; ".join(a.reasons[c.code] for c in CRITERIA if c.code in a.reasons)
        rows.append(row)
    return rows


def unit_rows(units: Sequence[UnitSummary], lang: str = "zh") -> list[dict[str, object]]:
    """One flat record per county or township: stations, complete, per criterion counts."""
    rows = []
    for u in units:
        row: dict[str, object] = {
            "code": u.code,
            "name": u.name,
            "county_code": u.county_code,
            "stations": u.stations,
            "complete": u.complete,
            "complete_share": u.complete / u.stations if u.stations else None,
            "mean_score": u.mean_score,
        }
        for c in CRITERIA:
            for o in Outcome:
                row[f"{c.code}_{o.value}"] = u.counts[c.code][o.value]
        rows.append(row)
    return rows


def _headers(lang: str) -> dict[str, str]:
    en = lang == "en"
    h = {
        "id": "ID" if en else "编号",
        "name": "Name" if en else "名称",
        "code": "Code" if en else "区划代码",
        "county": "County" if en else "县区",
        "county_code": "County code" if en else "县区代码",
        "township": "Township" if en else "乡镇",
        "township_code": "Township code" if en else "乡镇代码",
        "status": "Status" if en else "状态",
        "demo": "Demo" if en else "演示数据",
        "facility_list": "Facilities" if en else "设施",
        "score": "Score (0-6)" if en else "得分（0-6）",
        "complete": "Complete" if en else "六有齐全",
        "reasons": "Why" if en else "原因",
        "stations": "Stations" if en else "站点数",
        "complete_share": "Complete share" if en else "齐全率",
        "mean_score": "Mean score" if en else "平均得分",
    }
    for code, (zh, en_label) in CHECKS.items():
        h[f"check_{code}"] = en_label if en else zh
    for c in CRITERIA:
        h[c.code] = c.en if en else c.zh
        for o in Outcome:
            zh_o, en_o = OUTCOME_LABELS[o.value]
            h[f"{c.code}_{o.value}"] = f"{c.en}: {en_o}" if en else f"{c.zh}·{zh_o}"
    return h


def write_report(
    path,
    stations: Sequence[Station],
    area_code: str,
    rules: LiuyouRules | None = None,
    gazetteer=None,
    lang: str = "zh",
):
    """The 六有 workbook for ``area_code``: notes, counties, townships, stations.

    ``stations`` are those of the area (:func:`in_area`). With a ``gazetteer`` every county
    and township of the area is listed, those without stations with zero counts. Every text
    cell that a spreadsheet would run as a formula is written as text
    (:func:`geo.spreadsheet.neutralise_workbook`); a registry with demo stations says so in
    the notes and in each station's 演示数据 column. Returns the path.
    """
    import datetime
    from pathlib import Path

    import openpyxl
    import pandas as pd

    from geo.spreadsheet import neutralise_workbook, write_notes, write_table

    en = lang == "en"
    rules = rules or LiuyouRules()
    stations = list(stations)
    assessments = assess_all(stations, rules, gazetteer)
    counties, towns = summarise(stations, assessments, area_code, gazetteer)
    headers = _headers(lang)
    formats = {"complete_share": "0.0%", "mean_score": "0.0"}
    wb = openpyxl.Workbook()
    default = wb.active
    if default is not None:
        wb.remove(default)
    write_table(
        wb,
        "County" if en else "县区汇总",
        pd.DataFrame(unit_rows(counties, lang)),
        headers,
        formats,
    )
    write_table(
        wb, "Township" if en else "乡镇汇总", pd.DataFrame(unit_rows(towns, lang)), headers, formats
    )
    detail = pd.DataFrame(station_rows(stations, assessments, lang))
    if detail.empty:  # the header row still
        blank = Station("", "", "")
        detail = pd.DataFrame(columns=list(station_rows([blank], [assess(blank)], lang)[0]))
    write_table(wb, "Stations" if en else "站点明细", detail, headers)
    notes = [
        ("Report" if en else "报告", "六有 (six-haves) completeness" if en else "六有达标情况"),
        ("Area" if en else "地区", area_code),
        ("Date" if en else "生成日期", datetime.date.today().isoformat()),
        ("Stations" if en else "站点数", str(len(stations))),
        (
            "Rules" if en else "标准",
            json.dumps(dataclasses.asdict(rules), ensure_ascii=False),
        ),
        (
            "Reading" if en else "说明",
            "unknown = not recorded, not a failure; a station is complete when all six are met"
            if en
            else "“未知”表示未登记，不算未达标；六项全部达标为“六有齐全”",
        ),
    ]
    if any(s.demo for s in stations):
        notes.append(
            (
                "Caveat" if en else "注意事项",
                "demo data: illustrative stations, facilities and checks, not real records"
                if en
                else "含演示数据：站点、设施和核查结果均为示例，不是真实记录",
            )
        )
    write_notes(wb, "Notes" if en else "说明", notes, ("Item", "Text") if en else ("项目", "内容"))
    neutralise_workbook(wb)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
