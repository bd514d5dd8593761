"""Offline gazetteer of China's admin divisions, the address parser, and reverse geocoding.

Data (built into ``data/gazetteer/`` by ``scripts/build_data.py``, plus the curated former
names of ``data/gazetteer/former_names_extra.csv``; sources in ``data/SOURCES.md``):
provinces, prefectures, counties and townships with codes, names, short names, former names
and positions (county/prefecture seats; township positions are
approximate, from bounding-box centres), villages with codes and names (no positions), and
county outlines in WGS-84.

Address parsing (:meth:`Gazetteer.parse`) reads Chinese address text left to right and
recognises admin units as long as each one fits under the units already found:

* text is normalised first (NFKC: full-width → ASCII; white space, brackets and punctuation
  dropped; a leading 中国 / 中华人民共和国 dropped);
* at each position the longest known name wins: a full name (柳州市), a short name (柳州,
  融水) followed by an optional suffix (市 区 县 镇 乡 街道 …, which also says the level), or a
  former name (横县 → 横州市, with lower confidence);
* a unit is accepted only if it is finer than the units already found and lies inside them,
  so levels may be missing (柳州市天马街道 skips the county) and a road named after a
  district (鱼峰路) does not restart the hierarchy;
* villages are looked up only inside the township (or county) already found;
* a short name followed by a street word (鱼峰路, 柳州大桥, 解放北路) is not an admin unit
  unless another unit starts right there (张家口桥东区), and a township's short name is read
  only after a unit above it (火星基地 is not 火星街道);
* a character that may be a suffix or the start of the next name is read whichever way lets
  the next name fit (汉中镇巴县 is 汉中 + 镇巴县, 融水县融水镇 is 融水县 + 融水镇);
* a development zone between units is skipped (柳州市柳东新区雒容镇), and a zone that ends
  the text is left in ``rest`` (博望区经济开发区);
* a unit written twice (北京市北京市东城区, 柳州市柳州市) and the filler 市辖区 after a
  municipality are read once;
* a stated lower unit wins over a wrong or historical higher one (柳州地区忻城县 is
  来宾市忻城县) when the lower unit is written in full (name or short name with its suffix)
  and only one unit of that name fits under the province stated (or in the whole country);
  the parse says so in ``notes``;
* the first position where no admin unit fits starts ``rest`` (road, number, building);
* several units fitting equally well (a 城关镇 with no county) make the result ambiguous:
  the parse keeps what the candidates share and lists them.

Reverse geocoding (:meth:`Gazetteer.reverse`) finds the county whose outline contains a
point (exact up to the outline's simplification) and the township whose position is nearest
within that county (approximate, and labelled so).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from geo.settings import DATA_DIR

GAZETTEER_DIR = DATA_DIR / "gazetteer"
LEVELS = ("province", "prefecture", "county", "township", "village")
_RANK = {lvl: i for i, lvl in enumerate(LEVELS)}

#: Suffixes that may follow a short name, longest first, with the levels they allow.
SUFFIX_LEVELS: dict[str, tuple[str, ...]] = {
    "特别行政区": ("province",),
    "维吾尔自治区": ("province",),
    "壮族自治区": ("province",),
    "回族自治区": ("province",),
    "自治区": ("province",),
    "自治州": ("prefecture",),
    "自治县": ("county",),
    "自治旗": ("county",),
    "民族乡": ("township",),
    "居委会": ("village",),
    "村委会": ("village",),
    "街道": ("township",),
    "地区": ("prefecture",),
    "林区": ("county",),
    "社区": ("village",),
    "省": ("province",),
    "市": ("province", "prefecture", "county"),
    "盟": ("prefecture",),
    "区": ("county",),
    "县": ("county",),
    "旗": ("county",),
    "镇": ("township",),
    "乡": ("township",),
    "村": ("village",),
}
_SUFFIXES = sorted(SUFFIX_LEVELS, key=len, reverse=True)
#: A road name part after a short name: 路, 北路, 一路, 中山二街, 大道 …
_ROAD = re.compile(r"[东西南北中]?[一二三四五六七八九十0-9]*(?:路|街(?!道)|大道|巷|弄)")
#: Development zones and parks, which are not admin units (柳东新区, 高新区).
_ZONE = re.compile(
    r"[\u4e00-\u9fff]{1,10}?(?:高新技术产业开发区|经济技术开发区|经济开发区|高新区|开发区|"
    r"工业园区|产业园区|新区|园区)"
)
#: Words that make a preceding short name part of a street or place name (鱼峰路, 柳州大桥).
_NOT_ADMIN_AFTER = (
    "路",
    "街",
    "大道",
    "道",
    "巷",
    "弄",
    "桥",
    "大桥",
    "广场",
    "公园",
    "小区",
    "大厦",
    "花园",
    "中学",
    "小学",
    "医院",
    "宾馆",
    "酒店",
    "工业园",
    "园区",
)
_DROP = re.compile(r"[\s()（）\[\]【】{}<>《》,，.。;；:：、'\"“”‘’·・\-—_/\\|#＃]+")
_PREFIX = re.compile(r"^(中华人民共和国|中国)")


def normalise_address(text: str) -> str:
    """The address text the parser reads: NFKC, no spaces or punctuation, no 中国 prefix."""
    text = unicodedata.normalize("NFKC", text or "")
    return _PREFIX.sub("", _DROP.sub("", text))


@dataclass(frozen=True)
class Division:
    """One admin unit (province … village)."""

    code: str
    level: str
    name: str
    province_code: str = ""
    prefecture_code: str = ""
    county_code: str = ""
    township_code: str = ""
    lon: float | None = None
    lat: float | None = None
    position_source: str = ""

    def ancestor(self, level: str) -> str:
        """This unit's code at ``level`` (its own code at its own level), or ``""``."""
        if level == self.level:
            return self.code
        return getattr(self, f"{level}_code", "") if level != "village" else ""


@dataclass
class Match:
    """A unit recognised in address text."""

    division: Division
    text: str
    former: bool = False
    #: Not written in the text: filled from the gazetteer when a stated lower unit replaced
    #: a wrong or historical higher one.
    inferred: bool = False


@dataclass
class ParsedAddress:
    """What :meth:`Gazetteer.parse` recognised.

    ``units`` maps each level found to its unit (missing levels absent); when the text is
    ambiguous, ``units`` keeps only the levels every candidate shares and ``candidates``
    lists each complete reading.
    """

    text: str
    units: dict[str, Match] = field(default_factory=dict)
    rest: str = ""
    ambiguous: bool = False
    candidates: list[dict[str, Match]] = field(default_factory=list)
    candidate_count: int = 0
    #: What the parser corrected, in words (a higher unit replaced by a lower one's parent).
    notes: list[str] = field(default_factory=list)

    @property
    def finest(self) -> Match | None:
        for level in reversed(LEVELS):
            if level in self.units:
                return self.units[level]
        return None

    @property
    def used_former_name(self) -> bool:
        return any(m.former for m in self.units.values())

    @property
    def overridden(self) -> bool:
        """Whether a stated lower unit replaced a higher unit the text named."""
        return any(m.inferred for m in self.units.values())


class Gazetteer:
    """China's admin divisions, loaded from ``data/gazetteer`` (villages on first use)."""

    #: Longest name in the index (characters), to bound the matching loop.
    max_name_len: int

    def __init__(self, data_dir: Path = GAZETTEER_DIR) -> None:
        self.data_dir = Path(data_dir)
        df = pd.read_parquet(self.data_dir / "divisions.parquet")
        self.frame = df
        lon = df["lon"].to_numpy(dtype=float)
        lat = df["lat"].to_numpy(dtype=float)
        self.units: list[Division] = [
            Division(
                code=code,
                level=level,
                name=name,
                province_code=prov or "",
                prefecture_code=pref or "",
                county_code=county or "",
                township_code=code if level == "township" else "",
                lon=None if x != x else x,  # NaN: no position
                lat=None if y != y else y,
                position_source=source or "",
            )
            for code, level, name, prov, pref, county, x, y, source in zip(
                df["code"].tolist(),
                df["level"].tolist(),
                df["name"].tolist(),
                df["province_code"].tolist(),
                df["prefecture_code"].tolist(),
                df["county_code"].tolist(),
                lon.tolist(),
                lat.tolist(),
                df["position_source"].tolist(),
                strict=True,
            )
        ]
        self.by_code: dict[str, Division] = {d.code: d for d in self.units}
        # name → [(unit, is_short, former)]
        self.names: dict[str, list[tuple[Division, bool, bool]]] = {}
        for division, aliases, former in zip(
            self.units, df["aliases"].tolist(), df["former_names"].tolist(), strict=True
        ):
            self._add(division.name, division, False, False)
            for alias in filter(None, (aliases or "").split("|")):
                self._add(alias, division, True, False)
            for item in filter(None, (former or "").split("|")):
                old = item.split(":", 1)[0]
                if old and old != division.name:
                    self._add(old, division, False, True)
        for code, old in _extra_former_names(self.data_dir):
            if code in self.by_code:
                self._add(old, self.by_code[code], False, True)
        self.max_name_len = max(map(len, self.names))
        self._has_children = {d.province_code for d in self.units if d.level != "province"}
        self._lock = threading.Lock()
        self._village_names_cache: dict[str, dict[str, list[tuple]]] = {}
        self._stated_cache: dict[tuple[str, str, str], Division | None] = {}

    def _add(self, name: str, division: Division, short: bool, former: bool) -> None:
        if len(name) < 2:
            return
        entries = self.names.setdefault(name, [])
        if not any(d is division for d, _, _ in entries):
            entries.append((division, short, former))

    # -- lookups ---------------------------------------------------------------------------
    def get(self, code: str) -> Division | None:
        """The unit with this code (province … township), or ``None``."""
        return self.by_code.get(code)

    def lookup(self, name: str) -> list[Division]:
        """Every unit whose name, short name or former name is ``name``."""
        return [d for d, _, _ in self.names.get(normalise_address(name), ())]

    def has_units_below(self, division: Division) -> bool:
        """Whether the gazetteer holds any unit below this province (台湾省 has none)."""
        if division.level != "province":
            return True
        return division.code in self._has_children

    def stated_county(
        self, province: str | None, prefecture: str | None, county: str | None
    ) -> Division | None:
        """The county a record's admin names state (融水 under 柳州市 → 融水苗族自治县).

        ``None`` when no county is named, or when the names do not read as exactly one county
        in full (unknown, ambiguous, or text left over). A county that does not fit the stated
        prefecture still wins when it is the only one of its name (see :meth:`parse`).
        """
        if not county or not normalise_address(county):
            return None
        key = (province or "", prefecture or "", county)
        if key in self._stated_cache:
            return self._stated_cache[key]
        parsed = self.parse("".join(key))
        unit = parsed.units.get("county")
        found = None
        if not (parsed.ambiguous or parsed.rest or unit is None or parsed.finest is not unit):
            found = unit.division
        if len(self._stated_cache) > 65536:
            self._stated_cache.clear()
        self._stated_cache[key] = found
        return found

    def path(self, division: Division) -> dict[str, Division]:
        """The unit and its ancestors, keyed by level."""
        out = {}
        for level in LEVELS[: _RANK[division.level]]:
            code = division.ancestor(level)
            if code and code in self.by_code:
                out[level] = self.by_code[code]
        out[division.level] = division
        return out

    @cached_property
    def villages(self) -> pd.DataFrame:
        """Villages (code, name, township_code, county_code), loaded on first use."""
        return pd.read_parquet(self.data_dir / "villages.parquet")

    @cached_property
    def _village_index(self) -> tuple[dict, dict, list[str], list[str], list[str], list[str]]:
        v = self.villages
        by_township = v.groupby("township_code").indices  # positions in the whole frame
        by_township.pop("", None)
        by_county = v.groupby("county_code").indices
        return (
            by_township,
            by_county,
            v["code"].tolist(),
            v["name"].tolist(),
            v["township_code"].tolist(),
            v["county_code"].tolist(),
        )

    def _village_names_by_first_char(self, parent: Division) -> dict[str, list[tuple]]:
        """Village names (full and short) under a unit, keyed by first character; cached."""
        found = self._village_names_cache.get(parent.code)
        if found is None:
            found = {}
            for code, vname, township, county in self._villages_under(parent):
                for name in _village_names(vname):
                    found.setdefault(name[0], []).append((name, vname, code, township, county))
            if len(self._village_names_cache) > 4096:
                self._village_names_cache.clear()
            self._village_names_cache[parent.code] = found
        return found

    def _villages_under(self, parent: Division) -> list[tuple[str, str, str, str]]:
        """``(code, name, township_code, county_code)`` of the villages under a unit."""
        with self._lock:
            by_township, by_county, codes, names, towns, counties = self._village_index
        rows = (by_township if parent.level == "township" else by_county).get(parent.code, ())
        return [(codes[i], names[i], towns[i], counties[i]) for i in rows]

    # -- parsing ---------------------------------------------------------------------------
    def parse(self, text: str) -> ParsedAddress:
        """Recognise the admin units at the start of an address (see the module docstring)."""
        norm = normalise_address(text)
        chains: list[dict[str, Match]] = [{}]
        pos = 0
        notes: list[str] = []
        while pos < len(norm):
            step = self._match_at(norm, pos, chains)
            if step is None:
                step = self._match_village(norm, pos, chains)
            if step is None and chains != [{}]:
                step = self._skip_repeat(norm, pos, chains)
            if step is None and chains != [{}] and (zone := _ZONE.match(norm, pos)):
                # Skip a development zone named between admin units (柳州市柳东新区雒容镇);
                # a zone at the end of the text stays in ``rest``.
                step = self._match_at(norm, zone.end(), chains) or self._match_village(
                    norm, zone.end(), chains
                )
            if step is None and chains != [{}]:
                step = self._match_overriding(norm, pos, chains, notes)
            if step is None:
                break
            pos, chains = step
        parsed = ParsedAddress(text=norm, rest=norm[pos:])
        chains = [c for c in chains if c]
        if not chains:
            return parsed
        parsed.notes = notes
        depth = max(_RANK[_finest_level(c)] for c in chains)
        best = [c for c in chains if _RANK[_finest_level(c)] == depth]
        # Prefer readings without former names, then the fewest skipped levels.
        best.sort(key=lambda c: (sum(m.former for m in c.values()), -len(c)))
        top = [c for c in best if _chain_key(c) == _chain_key(best[0])]
        finest = {_finest(c).division.code for c in best}
        if len(finest) == 1:
            parsed.units = dict(top[0])
        else:
            parsed.ambiguous = True
            parsed.candidates = best[:20]
            parsed.candidate_count = len(best)
            shared = {}
            for level in LEVELS:
                codes = {c[level].division.code for c in best if level in c}
                if len(codes) == 1 and all(level in c for c in best):
                    shared[level] = best[0][level]
            parsed.units = shared
        return parsed

    def _match_at(
        self, text: str, pos: int, chains: list[dict[str, Match]], look_ahead: bool = True
    ) -> tuple[int, list[dict[str, Match]]] | None:
        for length in range(min(self.max_name_len, len(text) - pos), 1, -1):
            key = text[pos : pos + length]
            entries = self.names.get(key)
            if not entries:
                continue
            end = pos + length
            suffix = next((s for s in _SUFFIXES if text.startswith(s, end)), "")
            street = not suffix and (
                text.startswith(_NOT_ADMIN_AFTER, end) or _ROAD.match(text, end) is not None
            )
            # Two readings of a short name: with the suffix after it (融水 + 县), or bare,
            # the next character starting another name (汉中 + 镇巴县).
            with_suffix: list[dict[str, Match]] = []
            bare: list[dict[str, Match]] = []
            for division, short, former in entries:
                allowed = SUFFIX_LEVELS.get(suffix, ()) if short and suffix else ()
                for chain in chains:
                    if not _fits(chain, division):
                        continue
                    if division.level in allowed:
                        match = Match(division, key + suffix, former)
                        with_suffix.append({**chain, division.level: match})
                    # A bare short township name is too weak alone (火星 → 火星街道?).
                    if not (short and division.level == "township" and not chain):
                        bare.append({**chain, division.level: Match(division, key, former)})
            chosen = None
            if with_suffix and bare and look_ahead:
                after = end + len(suffix)
                bare_next = self._match_at(text, end, bare, look_ahead=False)
                suffix_next = after < len(text) and self._match_at(
                    text, after, with_suffix, look_ahead=False
                )
                chosen = (bare, end) if bare_next and not suffix_next else None
            if chosen is None and with_suffix:
                chosen = (with_suffix, end + len(suffix))
            if chosen is None and bare:
                # A short name before a street word is a street (鱼峰路), unless another
                # unit starts there (张家口 + 桥东区).
                if (
                    street
                    and any(short for _, short, _ in entries)
                    and not (look_ahead and self._match_at(text, end, bare, look_ahead=False))
                ):
                    bare = [c for c in bare if not _is_short(c, key, self.names)]
                if bare:
                    chosen = (bare, end)
            if chosen is not None:
                return chosen[1], _prefer_coarse(chosen[0])[:200]
        return None

    def _skip_repeat(
        self, text: str, pos: int, chains: list[dict[str, Match]]
    ) -> tuple[int, list[dict[str, Match]]] | None:
        """Read a unit written again (北京市北京市, 柳州市柳州市) or 市辖区 after a municipality.

        Only tried where nothing else fits, so 融水县融水镇 still reads the township.
        """
        if text.startswith("市辖区", pos) and any(
            "province" in c and "prefecture" not in c and "county" not in c for c in chains
        ):
            return pos + 3, chains
        for length in range(min(self.max_name_len, len(text) - pos), 1, -1):
            key = text[pos : pos + length]
            entries = self.names.get(key)
            if not entries:
                continue
            suffix = next((s for s in _SUFFIXES if text.startswith(s, pos + length)), "")
            for division, short, _ in entries:
                if short and not suffix:
                    continue  # 北京 + 路 is a road, not the city again
                kept = [
                    c
                    for c in chains
                    if division.level in c and c[division.level].division.code == division.code
                ]
                if kept:
                    return pos + length + (len(suffix) if short else 0), kept
        return None

    def _match_overriding(
        self, text: str, pos: int, chains: list[dict[str, Match]], notes: list[str]
    ) -> tuple[int, list[dict[str, Match]]] | None:
        """A lower unit that fits none of the readings so far, read in place of its parents.

        The unit must be finer than every unit found, written in full (its name, a former
        name, or its short name with a suffix), and the only one of its name under the
        province stated (or, failing that, in the whole country): 柳州地区忻城县 is
        来宾市忻城县. The replaced units are named in ``notes``.
        """
        finest_rank = max(_RANK[_finest_level(c)] for c in chains if c)
        provinces = {c["province"].division.code: c["province"] for c in chains if "province" in c}
        scopes: list[list[dict[str, Match]]] = []
        if provinces:
            scopes.append([{"province": m} for m in provinces.values()])
        scopes.append([{}])
        for scope in scopes:
            step = self._match_at(text, pos, scope, look_ahead=False)
            if step is None:
                continue
            end, found = step
            found = [
                c
                for c in found
                if _RANK[_finest_level(c)] > finest_rank and _finest(c).text != _short_of(c, self)
            ]
            units = {_finest(c).division.code: _finest(c) for c in found}
            if len(units) != 1:
                continue
            match = next(iter(units.values()))
            stated = max(chains[0].values(), key=lambda m: _RANK[m.division.level])
            path = self.path(match.division)
            chain = {
                lvl: Match(d, "", inferred=True)
                for lvl, d in path.items()
                if lvl != match.division.level
            }
            if (
                "province" in scope[0]
                and scope[0]["province"].division.code == path["province"].code
            ):
                chain["province"] = scope[0]["province"]
            chain[match.division.level] = match
            named = "".join(m.text for m in chains[0].values() if m.text)
            notes.append(
                f"{match.text} is not in {named or stated.division.name}: "
                f"read as {''.join(d.name for d in path.values())}"
            )
            return end, [chain]
        return None

    def _match_village(
        self, text: str, pos: int, chains: list[dict[str, Match]]
    ) -> tuple[int, list[dict[str, Match]]] | None:
        if pos >= len(text):
            return None
        found: list[tuple[int, dict[str, Match]]] = []
        for chain in chains[:10]:
            if not chain:
                continue
            parent = _finest(chain).division
            if parent.level not in ("township", "county"):
                continue
            by_first = self._village_names_by_first_char(parent)
            for name, vname, code, township, county in by_first.get(text[pos], ()):
                if text.startswith(name, pos) and not (
                    name != vname and _ROAD.match(text, pos + len(name))
                ):  # 新华 + 路 is a road, not 新华村
                    suffix = next(
                        (
                            s
                            for s in ("村委会", "居委会", "社区", "村")
                            if text.startswith(s, pos + len(name))
                        ),
                        "",
                    )
                    taken = name + (suffix if not name.endswith(("村", "社区")) else "")
                    village = Division(
                        code=code,
                        level="village",
                        name=vname,
                        province_code=parent.province_code,
                        prefecture_code=parent.prefecture_code,
                        county_code=county,
                        township_code=township,
                    )
                    found.append((len(taken), {**chain, "village": Match(village, taken)}))
        if not found:
            return None
        longest = max(n for n, _ in found)
        return pos + longest, [c for n, c in found if n == longest][:50]

    # -- reverse geocoding -----------------------------------------------------------------
    @cached_property
    def counties(self):
        """County outlines (GeoDataFrame, WGS-84) with an STRtree, loaded on first use."""
        import geopandas as gpd

        gdf = gpd.read_parquet(self.data_dir / "counties.parquet")
        gdf.sindex  # build the STRtree now, not inside a request  # noqa: B018
        return gdf

    def county_codes_at(self, lon, lat) -> np.ndarray:
        """County code containing each point ("" where none), vectorised."""
        import shapely

        lon = np.atleast_1d(np.asarray(lon, dtype=float))
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        gdf = self.counties
        points = shapely.points(lon, lat)
        src, idx = gdf.sindex.query(points, predicate="intersects")
        out = np.full(len(points), "", dtype=object)
        codes = gdf["code"].to_numpy()
        # On a shared border a point touches two outlines: keep the first, deterministically.
        first = np.unique(src, return_index=True)[1]
        out[src[first]] = codes[idx[first]]
        return out

    @cached_property
    def _townships_by_county(self) -> dict[str, tuple[np.ndarray, list[Division]]]:
        groups: dict[str, list[Division]] = {}
        for d in self.units:
            if d.level == "township" and d.lon is not None:
                groups.setdefault(d.county_code, []).append(d)
        return {c: (np.array([[d.lon, d.lat] for d in ds]), ds) for c, ds in groups.items()}

    def reverse_township(self, lon: float, lat: float, county_code: str) -> Division | None:
        """The township of ``county_code`` whose approximate position is nearest the point."""
        from geo.crs import distance_m

        group = self._townships_by_county.get(county_code)
        if group is None:
            return None
        xy, ds = group
        return ds[int(np.argmin(distance_m(lon, lat, xy[:, 0], xy[:, 1])))]

    # -- townships by code and name (issue 15 item 4) --------------------------------------
    def township(self, code: object) -> Division | None:
        """The township of a 9- or 12-digit code (``450225101`` or ``450225101000``), or
        ``None`` when the code is not a township the gazetteer knows."""
        from geo.regions import clean_code, code_key

        if code in (None, ""):
            return None
        found = self.by_code.get(code_key(clean_code(code)))
        return found if found is not None and found.level == "township" else None

    def townships_of(self, county_code: str) -> list[Division]:
        """Every township of a county (with or without a position), in code order."""
        return self._townships_of_county.get(county_code, [])

    @cached_property
    def _townships_of_county(self) -> dict[str, list[Division]]:
        out: dict[str, list[Division]] = {}
        for d in self.units:
            if d.level == "township":
                out.setdefault(d.county_code, []).append(d)
        return out

    @cached_property
    def _township_names(self) -> dict[str, frozenset[str]]:
        """Township code → its names (full, short, former) and their stems."""
        names: dict[str, set[str]] = {}
        for name, entries in self.names.items():
            for d, _short, _former in entries:
                if d.level == "township":
                    names.setdefault(d.code, set()).update((name, township_stem(name)))
        return {code: frozenset(n) for code, n in names.items()}

    def township_has_name(self, township: Division, name: str) -> bool:
        """Whether ``name`` names ``township``: its name, short name or a former name the
        gazetteer knows, also with another township suffix (四荣镇 for 四荣乡, 同练乡 for
        同练瑶族乡), since a township's level changes more often than its place."""
        text = normalise_address(name)
        known = self._township_names.get(township.code, frozenset((township.name,)))
        return bool(text) and (text in known or township_stem(text) in known)

    def townships_named(self, county_code: str, name: str) -> list[Division]:
        """The townships of a county that ``name`` names (:meth:`township_has_name`)."""
        return [d for d in self.townships_of(county_code) if self.township_has_name(d, name)]

    def reverse(self, lon: float, lat: float) -> ReverseResult | None:
        """The county containing a point, and the nearest township position within it.

        Returns ``None`` when no bundled outline contains the point.
        """
        from geo.crs import distance_m

        code = self.county_codes_at(lon, lat)[0]
        county = self.by_code.get(code)
        if county is None:
            return None
        township = self.reverse_township(lon, lat, code)
        dist = None
        # reverse_township only returns townships with a position
        if township is not None and township.lon is not None and township.lat is not None:
            dist = float(distance_m(lon, lat, township.lon, township.lat))
        return ReverseResult(self.path(county), township, dist)


@dataclass
class ReverseResult:
    """Reverse-geocoded admin units of a point.

    ``units`` holds province/prefecture/county (from the outlines: exact up to their
    simplification); ``township`` is the township whose approximate position is nearest
    within that county (``township_distance_m`` from the point), a guess to be labelled so.
    """

    units: dict[str, Division]
    township: Division | None = None
    township_distance_m: float | None = None

    def codes(self) -> dict[str, str]:
        out = {f"{lvl}_code": d.code for lvl, d in self.units.items()}
        if self.township is not None:
            out["township_code"] = self.township.code
        return out

    def names(self) -> dict[str, str]:
        out = {lvl: d.name for lvl, d in self.units.items()}
        if self.township is not None:
            out["township"] = self.township.name
        return out


#: Suffixes of a township's name, longest first (民族乡 before 乡).
_TOWNSHIP_SUFFIXES = ("街道办事处", "民族乡", "街道办", "街道", "苏木", "镇", "乡")


def township_stem(name: str) -> str:
    """A township name without its suffix (和睦镇 → 和睦, 同练瑶族乡 → 同练瑶族), when at
    least two characters remain; otherwise the name."""
    for suffix in _TOWNSHIP_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _finest_level(chain: dict[str, Match]) -> str:
    return max(chain, key=_RANK.__getitem__)


def _finest(chain: dict[str, Match]) -> Match:
    return chain[_finest_level(chain)]


def _chain_key(chain: dict[str, Match]) -> tuple:
    return tuple(sorted((k, m.division.code) for k, m in chain.items()))


def _fits(chain: dict[str, Match], division: Division) -> bool:
    """Whether ``division`` is finer than every unit of ``chain`` and lies inside them."""
    for level, match in chain.items():
        if _RANK[level] >= _RANK[division.level]:
            return False
        if division.ancestor(level) != match.division.code:
            return False
    return True


def _prefer_coarse(chains: list[dict[str, Match]]) -> list[dict[str, Match]]:
    """Of readings of one name at several levels (融水: county or town), keep the coarsest.

    The finer reading is still reached if the text repeats the name (融水县融水镇).
    """
    if not chains:
        return chains
    coarsest = min(_RANK[_finest_level(c)] for c in chains)
    return [c for c in chains if _RANK[_finest_level(c)] == coarsest]


def _is_short(chain: dict[str, Match], key: str, names) -> bool:
    """Whether the newest match of ``chain`` read ``key`` as a short name."""
    match = chain[_finest_level(chain)]
    return any(d is match.division and short for d, short, _ in names.get(key, ()))


def _short_of(chain: dict[str, Match], g: Gazetteer) -> str | None:
    """The newest match's text if it was read as a bare short name (融水), else ``None``."""
    match = _finest(chain)
    if _is_short(chain, match.text, g.names):
        return match.text
    return None


def _extra_former_names(data_dir: Path) -> list[tuple[str, str]]:
    """``(current code, former name)`` from ``former_names_extra.csv`` (curated; may be absent)."""
    path = Path(data_dir) / "former_names_extra.csv"
    if not path.exists():
        return []
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        return [
            (row["code"].strip(), row["former_name"].strip())
            for row in csv.DictReader(line for line in f if not line.startswith("#"))
            if row.get("code") and row.get("former_name")
        ]


def _village_names(name: str) -> list[str]:
    """A village's name and its short form (柳江村 → 柳江; 多福巷社区 → 多福巷)."""
    names = [name]
    for suffix in ("村民委员会", "居民委员会", "村委会", "居委会", "社区", "村"):
        short = name[: -len(suffix)]
        if name.endswith(suffix) and len(short) >= 2:
            # 东葛路社区 read from "东葛路" would turn a road into a community.
            if not short.endswith(("路", "街", "大道", "巷", "弄")):
                names.append(short)
            break
    return names


_DEFAULT: Gazetteer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_gazetteer() -> Gazetteer:
    """The bundled gazetteer, loaded once per process."""
    with _DEFAULT_LOCK:
        return _default_unlocked()


def _default_unlocked() -> Gazetteer:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Gazetteer()
    return _DEFAULT


# -- township outlines a deployment supplies (issue 15 item 4) ------------------------------
#: Column names read as the township code, in this order, before any other column of codes.
TOWNSHIP_CODE_COLUMNS = ("township_code", "code", "乡镇代码", "xzqdm", "adcode", "gb")


@dataclass
class TownshipOutlines:
    """Township outlines of a deployment (``YIZHAN_TOWNSHIP_BOUNDARIES``), WGS-84.

    ``frame`` has ``code`` (the township code in the gazetteer's 12-digit form) and
    ``geometry``; ``unknown_codes`` are codes of the file that are no township of the
    gazetteer (kept, and reported when loaded).
    """

    path: Path
    column: str
    frame: object  # geopandas.GeoDataFrame
    unknown_codes: tuple[str, ...] = ()

    def codes_at(self, lon, lat) -> list[frozenset[str]]:
        """The codes of the outlines containing each point (several on a shared edge, none
        outside every outline), vectorised."""
        import shapely

        lon = np.atleast_1d(np.asarray(lon, dtype=float))
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        gdf = self.frame
        src, idx = gdf.sindex.query(shapely.points(lon, lat), predicate="intersects")  # type: ignore[attr-defined]
        codes = gdf["code"].to_numpy()  # type: ignore[index]
        out: list[set[str]] = [set() for _ in range(len(lon))]
        for i, j in zip(src.tolist(), idx.tolist(), strict=True):
            out[i].add(str(codes[j]))
        return [frozenset(o) for o in out]


def load_township_outlines(
    path: Path | str, gazetteer: Gazetteer | None = None
) -> TownshipOutlines:
    """Read a township outline file (GeoJSON, GeoPackage, shapefile … anything pyogrio
    reads) with a column of 9- or 12-digit township codes, converted to WGS-84.

    The code column is the first of :data:`TOWNSHIP_CODE_COLUMNS` present, else the only
    column whose every value is a 9- or 12-digit code. Codes the gazetteer does not know are
    kept and logged (count and the first ones).

    Raises
    ------
    ValidationError
        The file cannot be read, has no CRS, no (or no single) code column, rows without a
        code, or geometries that are not polygons.
    """
    import logging

    import geopandas as gpd
    import shapely

    from geo.errors import ValidationError
    from geo.regions import clean_code, code_key

    env = "YIZHAN_TOWNSHIP_BOUNDARIES"
    path = Path(path)

    def fail(zh: str, en: str) -> ValidationError:
        return ValidationError(f"{env}={str(path)!r}: {zh} ({en})", field=env)

    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several kinds for a missing or bad file
        raise fail("无法读取乡镇边界文件", f"cannot read the township outlines: {exc}") from None
    if gdf.crs is None:
        raise fail("乡镇边界文件没有坐标系", "the file states no coordinate system")
    if len(gdf) == 0:
        raise fail("乡镇边界文件是空的", "the file has no outlines")
    code_re = re.compile(r"\d{9}|\d{12}")

    def codes_of(column: str) -> list[str]:
        return ["" if v is None or v != v else clean_code(v) for v in gdf[column].tolist()]

    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    lowered = {str(c).lower(): c for c in columns}
    column = next((lowered[n] for n in TOWNSHIP_CODE_COLUMNS if n in lowered), None)
    if column is None:
        coded = [
            c
            for c in columns
            if all(code_re.fullmatch(v) for v in codes_of(c) if v) and any(codes_of(c))
        ]
        if len(coded) != 1:
            raise fail(
                "找不到唯一的乡镇代码列（9 或 12 位）",
                f"no single column of 9- or 12-digit township codes among {columns}; "
                f"name it one of {', '.join(TOWNSHIP_CODE_COLUMNS)}",
            )
        column = coded[0]
    raw = codes_of(column)
    bad = [i for i, v in enumerate(raw) if not code_re.fullmatch(v)]
    if bad:
        raise fail(
            f"{len(bad)} 个边界没有有效的乡镇代码",
            f"{len(bad)} outlines have no 9- or 12-digit code in column {column!r} "
            f"(first: row {bad[0] + 1}, {raw[bad[0]]!r})",
        )
    kinds = set(gdf.geometry.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        raise fail("乡镇边界必须是面", f"outlines must be polygons, not {sorted(kinds)}")
    gdf = gdf.to_crs(4326)
    geometry = shapely.make_valid(gdf.geometry.to_numpy())
    frame = gpd.GeoDataFrame({"code": [code_key(v) for v in raw]}, geometry=geometry, crs=4326)
    frame.sindex  # build the STRtree now, not inside a request  # noqa: B018
    g = gazetteer if gazetteer is not None else default_gazetteer()
    unknown = tuple(sorted({c for c in frame["code"] if g.township(c) is None}))
    if unknown:
        logging.getLogger(__name__).warning(
            "%s: %d township codes are not in the gazetteer (kept): %s",
            path,
            len(unknown),
            ", ".join(unknown[:10]),
        )
    return TownshipOutlines(path, str(column), frame, unknown)


_OUTLINES: TownshipOutlines | None = None
_OUTLINES_CACHE: dict[tuple[str, int, int], TownshipOutlines] = {}


def use_township_outlines(path: Path | str | None) -> TownshipOutlines | None:
    """Make the outlines of ``path`` this process's (``None``: none); read once per file
    version. Raises :class:`ValidationError` for a bad file (at start, not in a request)."""
    global _OUTLINES
    if not path or str(path) in ("", "."):  # unset, or set to nothing
        _OUTLINES = None
        return None
    try:
        st = Path(path).stat()
        key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        key = (str(path), 0, 0)  # load_township_outlines says why it cannot read it
    with _DEFAULT_LOCK:
        if key not in _OUTLINES_CACHE:
            _OUTLINES_CACHE[key] = load_township_outlines(path, _default_unlocked())
        _OUTLINES = _OUTLINES_CACHE[key]
    return _OUTLINES


def township_outlines() -> TownshipOutlines | None:
    """This process's township outlines (:func:`use_township_outlines`), or ``None``."""
    return _OUTLINES


def township_outlines_name() -> str | None:
    """The file name of this process's township outlines (what a page may show), or
    ``None`` when township positions are not checked."""
    return _OUTLINES.path.name if _OUTLINES is not None else None
