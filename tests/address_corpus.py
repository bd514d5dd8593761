"""A seeded corpus of real-looking Chinese addresses built from the gazetteer, with noise.

Each address is built from one unit of the bundled gazetteer (a township, county or
prefecture) and its parents, written as people write them: full names, short names with
their suffix, levels left out, then noise — development zones and parks, roads and house
numbers, buildings, stray characters, repeated levels, municipalities written twice, and
truncation. Rows marked ``clean`` name every level from the province down to the unit in
full (then at most a road, number and building); for those the unit itself must be found.

Run ``python tests/address_corpus.py out.csv`` to write the corpus for reading; the tests
build it in memory with the same seed (``random.Random(42)``).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

ZONES = (
    "经济开发区",
    "经济技术开发区",
    "高新技术产业开发区",
    "高新区",
    "工业园区",
    "产业园区",
    "新区",
    "科技园",
    "物流园",
)
ROADS = ("人民路", "解放路", "中山路", "建设路", "新华路", "胜利街", "朝阳大道", "文化巷")
BUILDINGS = ("小区", "大厦", "花园", "广场", "中学", "人民医院", "政府大院", "农贸市场")
STRAY = " ,，、()（）【】-—#/号A1０１２・\t\n😀?？!！"


@dataclass(frozen=True)
class Address:
    """One corpus address: its text, the unit it was built from, and whether it is clean."""

    text: str
    code: str
    level: str
    clean: bool


def _written(d, aliases: dict[str, list[str]], rng: random.Random, clean: bool) -> str:
    """How a unit's name is written: in full, or (noisy rows) a short name, maybe suffixed."""
    shorts = aliases.get(d.code, [])
    if clean or not shorts or rng.random() < 0.6:
        return d.name
    suffix = {"province": "省", "prefecture": "市", "county": "县", "township": "镇"}[d.level]
    return rng.choice(shorts) + rng.choice((suffix, ""))


def build(g, n: int = 10_000, seed: int = 42) -> list[Address]:
    """``n`` addresses built from the gazetteer with ``random.Random(seed)``."""
    rng = random.Random(seed)
    aliases = {
        code: [a for a in (text or "").split("|") if len(a) >= 2]
        for code, text in zip(g.frame["code"], g.frame["aliases"], strict=True)
    }
    units = [d for d in g.units if d.level in ("prefecture", "county", "township")]
    units = [d for d in units if d.province_code not in ("710000",)]
    units.sort(key=lambda d: d.code)
    out: list[Address] = []
    while len(out) < n:
        d = rng.choice(units)
        path = g.path(d)
        clean = rng.random() < 0.5
        parts: list[str] = []
        for level, unit in path.items():
            keep = clean or level == d.level or rng.random() < 0.7
            if not keep:
                continue
            parts.append(_written(unit, aliases, rng, clean))
            if not clean:
                if rng.random() < 0.08:
                    parts.append(parts[-1])  # a level repeated
                if rng.random() < 0.1:
                    zone = rng.choice(ZONES)
                    parts.append(zone if rng.random() < 0.5 else unit.name[:2] + zone)
                if rng.random() < 0.05:
                    parts.append(rng.choice(STRAY))
        municipality = path["province"].code in ("110000", "120000", "310000", "500000")
        if clean and municipality and rng.random() < 0.3:
            parts.insert(1, path["province"].name)  # 北京市北京市东城区
        tail = ""
        if rng.random() < 0.6:
            tail += rng.choice(ROADS) + str(rng.randint(1, 999)) + "号"
        if rng.random() < 0.3:
            tail += rng.choice(("阳光", "金色", "幸福", "锦绣")) + rng.choice(BUILDINGS)
        text = "".join(parts) + tail
        if not clean:
            if rng.random() < 0.15:
                text = text[: rng.randint(1, len(text))]
            if rng.random() < 0.15:
                at = rng.randint(0, len(text))
                text = text[:at] + rng.choice(STRAY) + text[at:]
        out.append(Address(text, d.code, d.level, clean))
    return out


if __name__ == "__main__":  # pragma: no cover - writes the corpus for reading
    import csv

    from geo.gazetteer import default_gazetteer

    with open(sys.argv[1], "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["address", "code", "level", "clean"])
        for a in build(default_gazetteer()):
            w.writerow([a.text, a.code, a.level, int(a.clean)])
