"""Offline geocoder: accuracy on labelled addresses, speed, load cost, reverse geocoding.

Inputs:

* generated addresses: townships sampled from the gazetteer itself (``random.Random(42)``,
  every province, extra weight on Guangxi, Shaanxi, Liuzhou and Baise), each written in
  several realistic forms (full chain, no province, no prefecture, short names, township
  without its county, full-width characters and stray spaces, with a village), plus
  county-only addresses; the expected codes come from the unit the text was built from, and
  a text is kept only if the names it writes fit exactly one unit;
* ``bench/data/addresses_handwritten.csv``: addresses typed the way a union clerk would,
  with codes checked by name against ``data/gazetteer/divisions.parquet``.

Measures:

* accuracy of ``OfflineGeocoder().geocode``: county level over all addresses (target
  ≥ 99 %), township level over those that name a township (target ≥ 95 %), overall and per
  variant kind; "not found", "ambiguous" and "missing" (the level not reached) are counted
  apart from wrong answers, and the first failures of each sort are printed;
* throughput over the whole set on one core (several passes, target ≥ 2,000 addresses/s);
* load cost in fresh subprocesses: import, ``Gazetteer()`` (target < 1 s), first parse,
  first village lookup (villages load lazily), first reverse lookup, RSS after each;
* reverse geocoding: ``county_codes_at`` on 100,000 random points in China (points/s) and
  single ``reverse(lon, lat)`` latency;
* peer: ``cpca`` (province/prefecture/county from text, no townships) on the same
  addresses at county level, if installed.

Run: ``.venv/bin/python bench/bench_geocode.py [--passes N] [--failures N] [--no-peer]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _common import (
    BENCH_DIR,
    REPO_ROOT,
    Timer,
    latency_summary,
    machine,
    print_header,
    print_table,
    versions,
    write_json,
)

from geo.errors import GeocodeNotFound
from geo.gazetteer import Division, Gazetteer, default_gazetteer
from geo.geocode.offline import OfflineGeocoder

HANDWRITTEN = BENCH_DIR / "data" / "addresses_handwritten.csv"
CHINA_BBOX = (73.0, 18.0, 135.0, 53.0)
TARGET_COUNTY = 0.99
TARGET_TOWNSHIP = 0.95
TARGET_RATE = 2000.0
TARGET_LOAD_S = 1.0

#: Townships sampled per stratum: every province, then extra weight on the project's areas.
PER_PROVINCE = 14
EXTRA_TOWNSHIPS = {"450000": 70, "610000": 70, "450200": 40, "451000": 40}
#: Counties sampled for county-only addresses.
COUNTIES_PER_PROVINCE = 4
EXTRA_COUNTIES = {"450000": 20, "610000": 20, "450200": 10, "451000": 12}
#: Forms written per sampled township.
FORMS_PER_TOWNSHIP = 3

TOWNSHIP_KINDS = (
    "full",
    "no_province",
    "no_prefecture",
    "short_names",
    "township_no_county",
    "fullwidth_spaces",
    "with_village",
)
KINDS = (*TOWNSHIP_KINDS, "county_only", "handwritten")
OUTCOMES = ("ok", "wrong", "missing", "ambiguous", "not_found")

ROADS = (
    "文化路",
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "新华路",
    "胜利路",
    "民族大道",
    "迎宾大道",
    "东环路",
    "北京路",
    "和平路",
    "朝阳路",
    "幸福路",
    "团结路",
    "人民中路",
    "解放北路",
    "建设东路",
    "新华街",
    "滨江路",
    "长江路",
    "工业大道",
    "商贸街",
    "府前路",
    "站前路",
)
ESTATES = (
    "阳光小区",
    "金色家园",
    "幸福里小区",
    "锦绣花园",
    "怡景苑",
    "东方明珠小区",
    "翠竹苑",
    "学府名苑",
)
BUILDINGS = ("A座", "B座", "综合楼2楼", "301室", "1单元", "C栋", "2楼", "商铺5号")
LANDMARKS = (
    "农贸市场旁",
    "卫生院对面",
    "政府大院内",
    "汽车站旁",
    "工会服务站",
    "便民服务中心",
    "快递驿站",
    "加油站旁",
)


@dataclass
class Case:
    address: str
    county_code: str
    township_code: str  # "" when the text names no township
    kind: str
    note: str = ""


# -- the labelled set --------------------------------------------------------------------------
def county_short(name: str, short: str) -> str:
    """融水苗族自治县 → 融水县, 科尔沁左翼中旗 → 科尔沁左翼中旗, 柳北区 → 柳北区: the short name
    with the plain suffix of the county's kind, the way clerks abbreviate."""
    if not short or short == name or name.endswith("林区"):
        return name
    return short + name[-1] if name[-1] in "县旗区市" else name


def tail(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.10:
        return ""
    if r < 0.45:
        return f"{rng.choice(ROADS)}{rng.randint(1, 300)}号"
    if r < 0.65:
        return f"{rng.choice(ROADS)}{rng.randint(1, 300)}号{rng.choice(BUILDINGS)}"
    if r < 0.85:
        return f"{rng.choice(ESTATES)}{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元"
    return rng.choice(LANDMARKS)


def fullwidth(text: str) -> str:
    """ASCII letters and digits → their full-width forms (１８号Ａ座)."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


def generate(g: Gazetteer, rng: random.Random) -> tuple[list[Case], dict[str, int]]:
    """Generated addresses with expected codes, and how many drafts were dropped as
    ambiguous (the names they write fit more than one unit)."""
    by = g.by_code
    townships = [
        d
        for d in g.units
        if d.level == "township"
        and d.county_code in by
        and not by[d.county_code].name.endswith("直辖")
    ]
    counties = [d for d in g.units if d.level == "county" and not d.name.endswith("直辖")]

    def names(d: Division) -> dict[str, str]:
        prov = by[d.province_code]
        pref = by.get(d.prefecture_code)
        out = {"V": prov.name, "P": pref.name if pref else "", "C": by[d.county_code].name}
        if d.level == "township":
            out["T"] = d.name
        return out

    # How many units write the same names at the levels a form writes (levels it leaves
    # empty, such as the prefecture of a municipality's district, are not written).
    key_counts: dict[tuple[str, ...], Counter] = {}

    def unique(d: Division, levels: tuple[str, ...]) -> bool:
        n = names(d)
        levels = tuple(k for k in levels if n[k])
        if levels not in key_counts:
            pool = townships if "T" in levels else counties
            key_counts[levels] = Counter(tuple(m[k] for k in levels) for m in map(names, pool))
        return key_counts[levels][tuple(n[k] for k in levels)] == 1

    def sample(pool: list[Division], strata: dict[str, int], per_province: int) -> list[Division]:
        chosen: dict[str, Division] = {}
        by_province: dict[str, list[Division]] = {}
        for d in pool:
            by_province.setdefault(d.province_code, []).append(d)
        for prov in sorted(by_province):
            for d in rng.sample(by_province[prov], min(per_province, len(by_province[prov]))):
                chosen[d.code] = d
        for code, n in strata.items():
            group = [
                d
                for d in pool
                if code in (d.province_code, d.prefecture_code) and d.code not in chosen
            ]
            for d in rng.sample(group, min(n, len(group))):
                chosen[d.code] = d
        return list(chosen.values())

    aliases = dict(zip(g.frame["code"].tolist(), g.frame["aliases"].tolist(), strict=True))

    def short(d: Division) -> str:
        """The unit's first alias (its short name), or its name when it has none."""
        return (aliases.get(d.code) or "").split("|")[0] or d.name

    dropped: Counter = Counter()
    cases: list[Case] = []
    villages = g.villages
    village_names = villages.groupby("township_code")["name"].apply(list).to_dict()

    for t in sample(townships, EXTRA_TOWNSHIPS, PER_PROVINCE):
        c = by[t.county_code]
        prov = by[t.province_code]
        pref = by.get(t.prefecture_code)
        prov_text = prov.name if rng.random() < 0.5 else short(prov)
        if prov_text != prov.name and prov.name.endswith("省"):
            prov_text += "省"
        city = pref.name if pref else ""
        kinds = list(TOWNSHIP_KINDS)
        rng.shuffle(kinds)
        made = 0
        for kind in kinds:
            if made == FORMS_PER_TOWNSHIP:
                break
            rest = tail(rng)
            if kind == "full":
                text, levels = prov_text + city + c.name + t.name + rest, ("V", "P", "C", "T")
            elif kind == "no_province":
                text, levels = city + c.name + t.name + rest, ("P", "C", "T")
            elif kind == "no_prefecture":
                if pref is None:
                    continue
                text, levels = prov_text + c.name + t.name + rest, ("V", "C", "T")
            elif kind == "short_names":
                city_short = short(pref) if pref else short(prov)
                text = city_short + county_short(c.name, short(c)) + t.name + rest
                levels = ("P", "C", "T") if pref else ("V", "C", "T")
            elif kind == "township_no_county":
                if pref is None:
                    continue
                text, levels = city + t.name + rest, ("P", "T")
            elif kind == "fullwidth_spaces":
                parts = [prov_text, city, c.name, t.name, fullwidth(rest)]
                if rng.random() < 0.5:
                    parts = parts[1:]
                seps = [" ", "  ", "\u3000", "", " "]
                text = rng.choice(["", " ", "\u3000"]) + "".join(
                    p + rng.choice(seps) for p in parts if p
                )
                levels = ("V", "P", "C", "T") if parts[0] == prov_text else ("P", "C", "T")
            else:  # with_village
                vs = village_names.get(t.code)
                if not vs:
                    continue
                v = rng.choice(vs)
                text = city + c.name + t.name + v + (rest if rng.random() < 0.5 else "")
                levels = ("P", "C", "T")
            if not unique(t, levels):
                dropped[kind] += 1
                continue
            cases.append(Case(text, c.code, t.code, kind))
            made += 1

    for c in sample(counties, EXTRA_COUNTIES, COUNTIES_PER_PROVINCE):
        prov = by[c.province_code]
        pref = by.get(c.prefecture_code)
        rest = f"{rng.choice(ROADS)}{rng.randint(1, 300)}号" if rng.random() < 0.8 else ""
        form = rng.choice(("chain", "city", "alone"))
        city = pref.name if pref else ""
        if form == "chain":
            text, levels = prov.name + city + c.name + rest, ("V", "P", "C")
        elif form == "city" and pref is not None:
            text, levels = city + c.name + rest, ("P", "C")
        else:
            text, levels = c.name + rest, ("C",)
        if not unique(c, levels):
            dropped["county_only"] += 1
            continue
        cases.append(Case(text, c.code, "", "county_only"))
    return cases, dict(dropped)


def load_handwritten(g: Gazetteer, path: Path = HANDWRITTEN) -> tuple[list[Case], list[str]]:
    """The hand-written set and the problems found in its labels (should be none)."""
    cases, problems = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            county = g.by_code.get(row["county_code"])
            town = g.by_code.get(row["township_code"]) if row["township_code"] else None
            if county is None or county.level != "county":
                problems.append(f"line {i}: county_code {row['county_code']!r} is not a county")
            if row["township_code"] and (
                town is None or town.level != "township" or town.county_code != county.code
            ):
                problems.append(
                    f"line {i}: township_code {row['township_code']!r} is not a township of "
                    f"{row['county_code']}"
                )
            cases.append(
                Case(
                    row["address"],
                    row["county_code"],
                    row["township_code"],
                    "handwritten",
                    row.get("note", ""),
                )
            )
    return cases, problems


# -- accuracy ----------------------------------------------------------------------------------
def run_one(geocoder: OfflineGeocoder, text: str) -> dict:
    """What the geocoder answered, reduced to what the scoring needs."""
    try:
        r = geocoder.geocode(text)
    except GeocodeNotFound as e:
        kind = "ambiguous" if str(e).startswith("ambiguous") else "not_found"
        return {"error": kind, "message": str(e), "codes": {}, "names": {}}
    return {
        "error": None,
        "ambiguous": r.ambiguous,
        "codes": r.codes,
        "names": r.names,
        "rest": r.rest,
    }


def outcome(got: dict, level: str, expected: str) -> str:
    if got["error"]:
        return got["error"]
    code = got["codes"].get(f"{level}_code")
    if code is None:
        return "ambiguous" if got["ambiguous"] else "missing"
    return "ok" if code == expected else "wrong"


def label(g: Gazetteer, code: str) -> str:
    d = g.by_code.get(code)
    if d is None:
        return code or "-"
    path = g.path(d)
    return (
        code
        + " "
        + "".join(path[lvl].name for lvl in ("prefecture", "county", "township") if lvl in path)
    )


def got_label(got: dict, level: str) -> str:
    if got["error"]:
        msg = got["message"]
        return (msg if msg.startswith(got["error"]) else f"{got['error']}: {msg}")[:110]
    names = got["names"]
    code = got["codes"].get(f"{level}_code", "-")
    chain = "".join(names.get(lvl, "") for lvl in ("prefecture", "county", "township", "village"))
    extra = " (ambiguous)" if got.get("ambiguous") else ""
    return f"{code} {chain}{extra} rest={got.get('rest', '')!r}"


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}" if d else "-"


def score(cases: list[Case], results: list[dict]) -> dict:
    """Outcome counts per level and kind; spurious townships on county-only addresses."""
    table: dict = {}
    for level in ("county", "township"):
        per_kind: dict[str, Counter] = {}
        for case, got in zip(cases, results, strict=True):
            expected = case.county_code if level == "county" else case.township_code
            if not expected:
                continue
            o = outcome(got, level, expected)
            per_kind.setdefault(case.kind, Counter())[o] += 1
            per_kind.setdefault("ALL", Counter())[o] += 1
        table[level] = per_kind
    spurious = Counter()
    for case, got in zip(cases, results, strict=True):
        if not case.township_code:
            spurious["n"] += 1
            if (
                got["codes"].get("township_code")
                and outcome(got, "county", case.county_code) == "ok"
            ):
                spurious["township"] += 1
                if got["codes"].get("village_code"):
                    spurious["via_village"] += 1
    table["spurious"] = dict(spurious)
    return table


def spurious_townships(g: Gazetteer, cases: list[Case], results: list[dict]) -> list[dict]:
    """County-only addresses (right county) that came back with a township anyway."""
    out = []
    for case, got in zip(cases, results, strict=True):
        if case.township_code or not got["codes"].get("township_code"):
            continue
        if outcome(got, "county", case.county_code) != "ok":
            continue
        out.append(
            {
                "kind": case.kind,
                "address": case.address,
                "expected": label(g, case.county_code),
                "got": got_label(got, "township"),
                "note": case.note,
            }
        )
    return out


def print_accuracy(table: dict) -> None:
    for level, target in (("county", TARGET_COUNTY), ("township", TARGET_TOWNSHIP)):
        rows = []
        order = ["ALL", *(k for k in KINDS if k in table[level])]
        for kind in order:
            c = table[level][kind]
            n = sum(c.values())
            acc = c["ok"] / n if n else 0.0
            rows.append(
                [
                    kind,
                    n,
                    pct(c["ok"], n),
                    *(c[o] for o in OUTCOMES[1:]),
                    ("met" if acc >= target else "MISSED") if kind == "ALL" else "",
                ]
            )
        print_table(
            ["kind", "n", "acc %", *OUTCOMES[1:], f"target ≥{target:.0%}"],
            rows,
            title=f"{level.capitalize()}-level accuracy (addresses whose text names the "
            f"{level}; not_found/ambiguous/missing are counted apart from wrong)",
        )
    s = table["spurious"]
    print(
        f"County-only addresses given a township anyway: {s.get('township', 0)} of "
        f"{s.get('n', 0)} ({s.get('via_village', 0)} of them through a village name read in "
        "the road or estate part)\n"
    )


#: Areas the project serves first, most specific first (a county is counted once).
AREAS = (
    ("柳州 Liuzhou", "450200"),
    ("百色 Baise", "451000"),
    ("南宁 Nanning", "450100"),
    ("定边 Dingbian", "610825"),
    ("商洛 Shangluo", "611000"),
    ("rest of Guangxi", "450000"),
    ("rest of Shaanxi", "610000"),
    ("rest of China", ""),
)


def area_of(g: Gazetteer, county_code: str) -> str:
    d = g.by_code[county_code]
    for name, code in AREAS:
        if code in ("", d.code, d.prefecture_code, d.province_code):
            return name
    return AREAS[-1][0]  # pragma: no cover


def print_areas(g: Gazetteer, cases: list[Case], results: list[dict]) -> dict:
    stats: dict[str, Counter] = {name: Counter() for name, _ in AREAS}
    for case, got in zip(cases, results, strict=True):
        c = stats[area_of(g, case.county_code)]
        c["n"] += 1
        c["county_ok"] += outcome(got, "county", case.county_code) == "ok"
        if case.township_code:
            c["tn"] += 1
            c["township_ok"] += outcome(got, "township", case.township_code) == "ok"
    rows = [
        [
            name,
            c["n"],
            pct(c["county_ok"], c["n"]),
            c["tn"],
            pct(c["township_ok"], c["tn"]),
        ]
        for name, c in stats.items()
    ]
    print_table(
        ["area (all kinds)", "n", "county acc %", "n township", "township acc %"],
        rows,
        title="Accuracy by area",
    )
    return {k: dict(v) for k, v in stats.items()}


def collect_failures(g, cases, results) -> dict[str, dict[str, list[dict]]]:
    out: dict[str, dict[str, list[dict]]] = {"county": {}, "township": {}}
    for case, got in zip(cases, results, strict=True):
        for level in ("county", "township"):
            expected = case.county_code if level == "county" else case.township_code
            if not expected:
                continue
            o = outcome(got, level, expected)
            if o == "ok":
                continue
            out[level].setdefault(o, []).append(
                {
                    "kind": case.kind,
                    "address": case.address,
                    "expected": label(g, expected),
                    "got": got_label(got, level),
                    "note": case.note,
                }
            )
    return out


def print_failures(failures: dict, limit: int) -> None:
    groups = [
        (f"{level} {o}", failures[level].get(o, []))
        for level in ("county", "township")
        for o in OUTCOMES[1:]
    ]
    groups.append(("county-only given a township", failures.get("spurious_township", [])))
    for title, items in groups:
        if items:
            print(f"{title}: {len(items)} (first {min(limit, len(items))})")
            for f in items[:limit]:
                note = f"  [{f['note']}]" if f["note"] else ""
                print(f"  {f['kind']:<18} {f['address']!r}{note}")
                print(f"  {'':<18}   expected {f['expected']}")
                print(f"  {'':<18}   got      {f['got']}")
            print()


# -- speed -------------------------------------------------------------------------------------
def one_pass(fn, texts: list[str]) -> float:
    """Addresses/s of ``fn`` over all texts."""
    t0 = time.perf_counter()
    for text in texts:
        try:  # noqa: SIM105 - contextlib.suppress would add its own cost to each call
            fn(text)
        except GeocodeNotFound:
            pass
    return len(texts) / (time.perf_counter() - t0)


def throughput(fns: dict, texts: list[str], passes: int) -> dict[str, list[float]]:
    """Rates per pass of each function, passes interleaved so background load hits all alike."""
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(passes):
        for name, fn in fns.items():
            rates[name].append(one_pass(fn, texts))
    return rates


LOAD_SCRIPT = r"""
import json, sys, time
def rss():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out
steps = []
def mark(name):
    steps.append((name, time.perf_counter(), rss()))
mark("start")
import geo.gazetteer as gz
mark("import geo.gazetteer")
g = gz.Gazetteer()
mark("Gazetteer()")
p = g.parse("广西柳州市融水县融水镇")  # ends at the township: no village lookup
assert p.units["township"].division.code == "450225100000", p
mark("first parse")
p = g.parse("柳州市融水苗族自治县融水镇城南社区")
assert "village" in p.units, p
mark("first village lookup")
p = g.parse("柳州市鱼峰区天马街道柳石路118号")
mark("second parse with a tail")
code = g.county_codes_at(109.4, 24.3)[0]
assert code, code
mark("first reverse (counties)")
print(json.dumps([(n, t, r) for n, t, r in steps]))
"""

CPCA_LOAD_SCRIPT = r"""
import json, time
t0 = time.perf_counter()
import cpca
t1 = time.perf_counter()
cpca.transform(["广西柳州市融水苗族自治县融水镇"])
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first transform": t2 - t1}))
"""


def run_script(script: str) -> object:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_cost(runs: int) -> dict:
    """Median step times (s, since the previous step) and RSS over fresh subprocesses."""
    samples = [run_script(LOAD_SCRIPT) for _ in range(runs)]
    names = [s[0] for s in samples[0]]
    steps = {}
    for i, name in enumerate(names[1:], start=1):
        dts = [s[i][1] - s[i - 1][1] for s in samples]
        steps[name] = {
            "s_median": statistics.median(dts),
            "s_min": min(dts),
            "rss_mb": statistics.median(s[i][2]["VmRSS"] for s in samples),
            "peak_mb": statistics.median(s[i][2]["VmHWM"] for s in samples),
        }
    return {"runs": runs, "rss_start_mb": samples[0][0][2]["VmRSS"], "steps": steps}


# -- peer: cpca --------------------------------------------------------------------------------
def cpca_available() -> bool:
    try:
        import cpca  # noqa: F401
    except Exception:  # pragma: no cover - depends on the venv
        return False
    return True


def cpca_scores(g: Gazetteer, cases: list[Case], frame) -> list[str]:
    """Outcome per case at county level: ok / wrong / not_found (cpca reports no ambiguity).

    cpca's data predate some renamings (田阳县 451021 → 田阳区 451003), so a county counts as
    right when cpca's code is the current code or a former code of the expected county, or
    when its county name is the current or a former name in the right province."""
    former_code: dict[str, str] = {}
    former_names: dict[str, set[str]] = {}
    for code, level, name, former in zip(
        g.frame["code"], g.frame["level"], g.frame["name"], g.frame["former_names"], strict=True
    ):
        if level != "county":
            continue
        former_names[code] = {name}
        for item in filter(None, (former or "").split("|")):
            parts = item.split(":")
            former_names[code].add(parts[0])
            if len(parts) > 1 and parts[1]:
                former_code.setdefault(parts[1], code)
    out = []
    provs = frame["省"].tolist()
    counties = frame["区"].tolist()
    adcodes = frame["adcode"].tolist()
    for case, prov, county, adcode in zip(cases, provs, counties, adcodes, strict=True):
        if not isinstance(county, str) or not county:
            out.append("not_found")
            continue
        adcode = str(adcode).split(".")[0]
        expected = g.by_code[case.county_code]
        ok = (
            adcode == case.county_code
            or former_code.get(adcode) == case.county_code
            or (
                county in former_names.get(case.county_code, ())
                and prov == g.by_code[expected.province_code].name
            )
        )
        out.append("ok" if ok else "wrong")
    return out


# -- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=5, help="timed passes over the set")
    ap.add_argument("--failures", type=int, default=20, help="failures printed per sort")
    ap.add_argument("--load-runs", type=int, default=3, help="fresh subprocesses for load")
    ap.add_argument("--points", type=int, default=100_000, help="reverse-geocoding points")
    ap.add_argument("--no-peer", action="store_true", help="skip cpca")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    errors: list[str] = []

    with Timer() as t_load:
        g = default_gazetteer()
    geocoder = OfflineGeocoder(g)
    with Timer() as t_gen:
        generated, dropped = generate(g, random.Random(42))
    handwritten, problems = load_handwritten(g)
    errors += problems
    cases = generated + handwritten
    # Interleave the kinds so the printed failures are a fair sample of each sort.
    random.Random(42).shuffle(cases)
    if len(cases) < 1000:
        errors.append(f"only {len(cases)} labelled addresses (need ≥ 1,000)")
    for case in generated:
        if case.county_code not in g.by_code or (
            case.township_code and case.township_code not in g.by_code
        ):
            errors.append(f"generated label not in the gazetteer: {case}")

    peer = not args.no_peer and cpca_available()
    libs = versions("pandas", "numpy", "shapely", "geopandas", "cpca", "pyahocorasick")
    n_town = sum(1 for c in cases if c.township_code)
    print_header(
        "Offline geocoder: accuracy, speed, load cost, reverse geocoding (peer: cpca)",
        libs,
        {
            "addresses": len(cases),
            "generated": len(generated),
            "handwritten": len(handwritten),
            "naming a township": n_town,
            "passes": args.passes,
            "reverse points": args.points,
        },
    )
    kinds_count = Counter(c.kind for c in cases)
    print_table(
        ["kind", "addresses", "name a township", "drafts dropped (ambiguous)"],
        [
            [
                k,
                kinds_count[k],
                sum(1 for c in cases if c.kind == k and c.township_code),
                dropped.get(k, 0),
            ]
            for k in KINDS
        ],
        title=f"Labelled set (generated in {t_gen.s:.1f} s; examples: "
        + "; ".join(
            repr(next(c.address for c in cases if c.kind == k))
            for k in ("short_names", "fullwidth_spaces", "with_village")
        )
        + ")",
    )

    # Accuracy.
    texts = [c.address for c in cases]
    results = [run_one(geocoder, t) for t in texts]  # also the warm-up (villages load here)
    table = score(cases, results)
    print_accuracy(table)
    areas = print_areas(g, cases, results)
    failures = collect_failures(g, cases, results)
    failures["spurious_township"] = spurious_townships(g, cases, results)
    print_failures(failures, args.failures)

    # Throughput on one core.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        rates = throughput({"geocode": geocoder.geocode, "parse": g.parse}, texts, args.passes)
        geo_rates, parse_rates = rates["geocode"], rates["parse"]
    finally:
        os.sched_setaffinity(0, cpus)
    rows = [
        [
            "OfflineGeocoder.geocode",
            max(geo_rates),
            statistics.median(geo_rates),
            min(geo_rates),
            1e6 / statistics.median(geo_rates),
            "met" if statistics.median(geo_rates) >= TARGET_RATE else "MISSED",
        ],
        [
            "Gazetteer.parse only",
            max(parse_rates),
            statistics.median(parse_rates),
            min(parse_rates),
            1e6 / statistics.median(parse_rates),
            "",
        ],
    ]

    # Peer.
    peer_out: dict = {"installed": peer}
    if peer:
        import cpca

        peer_out["load"] = run_script(CPCA_LOAD_SCRIPT)
        frame = cpca.transform(texts)
        cp = cpca_scores(g, cases, frame)
        cpca_rates = []
        for _ in range(min(args.passes, 3)):
            with Timer() as t:
                cpca.transform(texts)
            cpca_rates.append(len(texts) / t.s)
        one_by_one = []
        for _ in range(1):
            with Timer() as t:
                for text in texts[:500]:
                    cpca.transform([text])
            one_by_one.append(500 / t.s)
        rows.append(
            [
                "cpca.transform(list) (peer)",
                max(cpca_rates),
                statistics.median(cpca_rates),
                min(cpca_rates),
                1e6 / statistics.median(cpca_rates),
                "",
            ]
        )
        rows.append(
            [
                "cpca.transform([one]) (peer)",
                one_by_one[0],
                one_by_one[0],
                one_by_one[0],
                1e6 / one_by_one[0],
                "",
            ]
        )
        peer_out.update(
            rates_batch=cpca_rates,
            rate_one_by_one=one_by_one[0],
        )
    print_table(
        ["", "best /s", "median /s", "worst /s", "µs/address", f"target ≥{TARGET_RATE:,.0f}/s"],
        rows,
        title=f"Throughput over all {len(texts):,} addresses, {args.passes} passes, pinned to "
        "one core (after a warm-up pass; the peer's batch call is pandas-vectorised)",
    )

    if peer:
        ours = Counter()
        theirs = Counter()
        rows = []
        per_kind_ours: dict[str, Counter] = {}
        per_kind_cp: dict[str, Counter] = {}
        for case, got, o2 in zip(cases, results, cp, strict=True):
            o1 = outcome(got, "county", case.county_code)
            ours[o1] += 1
            theirs[o2] += 1
            per_kind_ours.setdefault(case.kind, Counter())[o1] += 1
            per_kind_cp.setdefault(case.kind, Counter())[o2] += 1
        n = len(cases)
        for kind in ["ALL", *(k for k in KINDS if k in per_kind_ours)]:
            a = ours if kind == "ALL" else per_kind_ours[kind]
            b = theirs if kind == "ALL" else per_kind_cp[kind]
            m = sum(a.values())
            rows.append(
                [
                    kind,
                    m,
                    pct(a["ok"], m),
                    pct(b["ok"], m),
                    a["wrong"],
                    b["wrong"],
                    m - a["ok"] - a["wrong"],
                    b["not_found"],
                ]
            )
        print_table(
            [
                "kind",
                "n",
                "ours %",
                "cpca %",
                "ours wrong",
                "cpca wrong",
                "ours no answer",
                "cpca no answer",
            ],
            rows,
            title="County level, ours vs cpca (same addresses; cpca's older codes and names "
            "mapped to current ones through the gazetteer's former names)",
        )
        peer_out["county_ok"] = theirs["ok"]
        peer_out["county_accuracy"] = theirs["ok"] / n
        peer_out["per_kind"] = {k: dict(v) for k, v in per_kind_cp.items()}
        peer_out["failures"] = [
            {
                "kind": c.kind,
                "address": c.address,
                "expected": label(g, c.county_code),
                "got": f"{frame['省'].iloc[i]}|{frame['市'].iloc[i]}|{frame['区'].iloc[i]}|"
                f"{frame['adcode'].iloc[i]}",
            }
            for i, (c, o) in enumerate(zip(cases, cp, strict=True))
            if o != "ok"
        ]
        wrong = [f for f in peer_out["failures"] if f["kind"] != "township_no_county"]
        print(f"cpca misses outside township_no_county: {len(wrong)} (first 10)")
        for f in wrong[:10]:
            print(f"  {f['kind']:<18} {f['address']!r}")
            print(f"  {'':<18}   expected {f['expected']}  got {f['got']}")
        print()
        print(
            f"cpca load (fresh process): import {peer_out['load']['import']:.2f} s, first "
            f"transform {peer_out['load']['first transform']:.2f} s\n"
        )
    else:
        why = "--no-peer" if args.no_peer else "cpca is not installed (pip install cpca==0.5.5)"
        print(f"Peer skipped: {why}.\n")

    # Load cost in fresh processes.
    load = load_cost(args.load_runs)
    rows = []
    for name, s in load["steps"].items():
        target = ""
        if name == "Gazetteer()":
            target = "met" if s["s_median"] < TARGET_LOAD_S else "MISSED"
        rows.append(
            [name, 1e3 * s["s_median"], 1e3 * s["s_min"], s["rss_mb"], s["peak_mb"], target]
        )
    print_table(
        ["step (fresh process)", "median ms", "min ms", "RSS MB", "peak MB", "target < 1 s"],
        rows,
        title=f"Load cost: {load['runs']} fresh subprocesses, each step timed from the end of "
        f"the one before (RSS at start {load['rss_start_mb']:.0f} MB; in this process "
        f"default_gazetteer() took {t_load.s:.2f} s)",
    )
    st = load["steps"]
    ready = sum(
        st[k]["s_median"] for k in ("import geo.gazetteer", "Gazetteer()", "first village lookup")
    )
    print(
        f"Ready for a real address (import + Gazetteer() + the village index that the first "
        f"address with a road part builds): {ready:.2f} s, "
        f"{st['first village lookup']['rss_mb']:.0f} MB RSS.\n"
    )

    # Reverse geocoding.
    rng = np.random.default_rng(42)
    with Timer() as t_counties:
        gdf = g.counties
    x0, y0, x1, y1 = CHINA_BBOX
    n_draw = int(args.points * 3)
    lon = rng.uniform(x0, x1, n_draw)
    lat = rng.uniform(y0, y1, n_draw)
    with Timer() as t_bbox:
        codes = g.county_codes_at(lon, lat)
    inside = codes != ""
    plon, plat = lon[inside][: args.points], lat[inside][: args.points]
    vec_rates = []
    for _ in range(3):
        with Timer() as t:
            g.county_codes_at(plon, plat)
        vec_rates.append(len(plon) / t.s)
    single = []
    pc = time.perf_counter
    for x, y in zip(plon[:2000].tolist(), plat[:2000].tolist(), strict=True):
        t0 = pc()
        g.reverse(x, y)
        single.append(pc() - t0)
    one_point = []
    for x, y in zip(plon[:2000].tolist(), plat[:2000].tolist(), strict=True):
        t0 = pc()
        g.county_codes_at(x, y)
        one_point.append(pc() - t0)
    # Sanity: county seats and township positions fall in their own county's outline.
    seats = [d for d in g.units if d.level == "county" and d.lon is not None]
    seat_codes = g.county_codes_at([d.lon for d in seats], [d.lat for d in seats])
    seat_ok = sum(c == d.code for c, d in zip(seat_codes, seats, strict=True))
    towns = [d for d in g.units if d.level == "township" and d.lon is not None]
    town_codes = g.county_codes_at([d.lon for d in towns], [d.lat for d in towns])
    town_ok = sum(c == d.county_code for c, d in zip(town_codes, towns, strict=True))
    s_single = latency_summary(single)
    s_one = latency_summary(one_point)
    print_table(
        ["", "points", "points/s (best)", "median"],
        [
            ["county_codes_at, bbox points (lon 73–135, lat 18–53)", n_draw, n_draw / t_bbox.s, ""],
            [
                "county_codes_at, points inside China",
                len(plon),
                max(vec_rates),
                statistics.median(vec_rates),
            ],
        ],
        title=f"Reverse geocoding, vectorised ({len(gdf):,} county outlines, loaded in "
        f"{t_counties.s:.2f} s; {inside.mean():.0%} of the bbox points fall in a county)",
    )
    print_table(
        ["single call", "n", "mean µs", "p50", "p90", "p99", "max"],
        [
            [
                "reverse(lon, lat)",
                *(s_single[k] for k in ("n", "mean", "p50", "p90", "p99", "max")),
            ],
            [
                "county_codes_at(lon, lat)",
                *(s_one[k] for k in ("n", "mean", "p50", "p90", "p99", "max")),
            ],
        ],
        title="Reverse geocoding, one point at a time (points inside China)",
    )
    print(
        f"Sanity: {seat_ok:,} of {len(seats):,} county seats and {town_ok:,} of {len(towns):,} "
        "township positions fall in their own county's outline.\n"
    )

    total = time.perf_counter() - t_start
    print(f"total run time {total:.0f} s")
    for e in errors[:20]:
        print("CHECK FAILED:", e)

    payload = {
        "script": "bench_geocode",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": libs,
        "sizes": {
            "addresses": len(cases),
            "generated": len(generated),
            "handwritten": len(handwritten),
            "naming_a_township": n_town,
            "per_kind": dict(kinds_count),
            "dropped_ambiguous_drafts": dropped,
        },
        "targets": {
            "county_accuracy": TARGET_COUNTY,
            "township_accuracy": TARGET_TOWNSHIP,
            "addresses_per_s": TARGET_RATE,
            "gazetteer_load_s": TARGET_LOAD_S,
        },
        "accuracy": {
            level: {k: dict(v) for k, v in table[level].items()} for level in ("county", "township")
        },
        "spurious_township_on_county_only": table["spurious"],
        "areas": areas,
        "failures": failures,
        "throughput": {"geocode_per_s": geo_rates, "parse_per_s": parse_rates},
        "load": load,
        "reverse": {
            "counties_load_s": t_counties.s,
            "bbox_points": n_draw,
            "bbox_points_per_s": n_draw / t_bbox.s,
            "share_inside": float(inside.mean()),
            "china_points": len(plon),
            "china_points_per_s": vec_rates,
            "reverse_single_us": s_single,
            "county_codes_at_single_us": s_one,
            "county_seats_in_own_county": [seat_ok, len(seats)],
            "townships_in_own_county": [town_ok, len(towns)],
        },
        "peer_cpca": peer_out,
        "checks_failed": errors,
        "run_time_s": total,
    }
    write_json("bench_geocode", payload)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
