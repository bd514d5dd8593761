"""The offline geocoder: the bundled gazetteer, no network, no key.

It places an address at the finest recognised admin unit that has a position: a township's
approximate position, else the county seat, else the prefecture seat (villages have no
positions in any bundled source, so a village is placed at its township). ``precision`` names
the unit whose position was used; ``codes``/``names`` hold every level recognised (and the
levels above it, filled from the gazetteer).

Confidence (documented estimate, 0–1): 0.9 for an unambiguous parse, 0.6 when several units
fit and only what they share is used, minus 0.1 when a former name (横县 → 横州市) was read,
minus 0.2 when a stated lower unit replaced a wrong or historical higher one (柳州地区忻城县 →
来宾市忻城县).

A province with no units below it in the bundled data (台湾省) is refused with a message
that says so plainly; it is not placed at the province.
"""

from __future__ import annotations

import re

from geo.errors import GeocodeNotFound
from geo.gazetteer import LEVELS, Gazetteer, default_gazetteer
from geo.geocode.base import MAX_ADDRESS_CHARS, GeocodeResult
from geo.models import Precision

_CJK = re.compile(r"[\u4e00-\u9fff]")


def check_address(address: str | None) -> str:
    """The address stripped, or :class:`GeocodeNotFound` for empty/over-long/non-Chinese text."""
    text = (address or "").strip()
    if not text:
        raise GeocodeNotFound("empty address", reason="empty")
    if len(text) > MAX_ADDRESS_CHARS:
        raise GeocodeNotFound(
            f"address longer than {MAX_ADDRESS_CHARS} characters", reason="too_long"
        )
    if not _CJK.search(text):
        raise GeocodeNotFound("no Chinese place name in the text", reason="not_chinese")
    return text


class OfflineGeocoder:
    """Geocoder over the bundled gazetteer (see the module docstring)."""

    name = "offline"

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self._gazetteer = gazetteer

    @property
    def gazetteer(self) -> Gazetteer:
        if self._gazetteer is None:
            self._gazetteer = default_gazetteer()
        return self._gazetteer

    def geocode(self, address: str, city: str | None = None) -> GeocodeResult:
        text = check_address(address)
        if city and not text.startswith(city):
            text = city + text
        g = self.gazetteer
        parsed = g.parse(text)
        finest = parsed.finest
        if finest is None or finest.division.level == "province":
            if parsed.ambiguous and parsed.candidates:
                labels = sorted({_label(g, c) for c in parsed.candidates})
                n = max(parsed.candidate_count, len(labels))
                more = f" and {n - 3} more" if n > 3 else ""
                raise GeocodeNotFound(
                    f"ambiguous: the address fits {n} places ({'; '.join(labels[:3])}{more}); "
                    "add the county or city",
                    reason="ambiguous",
                )
            if finest is not None:
                province = finest.division
                if not g.has_units_below(province):
                    raise GeocodeNotFound(
                        f"only the province {province.name} is known: the bundled gazetteer "
                        "has no data below it (no cities, counties or townships), so the "
                        "address cannot be placed more precisely than the province",
                        reason="province_only",
                    )
                raise GeocodeNotFound(
                    "only a province is named: too coarse to place", reason="province_only"
                )
            raise GeocodeNotFound(
                "no known place name at the start of the address", reason="no_place_name"
            )
        path = (
            g.path(finest.division)
            if finest.division.level != "village"
            else {
                **g.path(g.by_code[finest.division.township_code or finest.division.county_code]),
                "village": finest.division,
            }
        )
        placed = next(
            (path[lvl] for lvl in reversed(LEVELS) if lvl in path and path[lvl].lon is not None),
            None,
        )
        if (
            placed is None or placed.lon is None or placed.lat is None or placed.level == "province"
        ):  # pragma: no cover - data gap
            raise GeocodeNotFound("no position known for the places named", reason="no_position")
        confidence = (
            (0.6 if parsed.ambiguous else 0.9)
            - (0.1 if parsed.used_former_name else 0)
            - (0.2 if parsed.overridden else 0)
        )
        codes = {f"{lvl}_code": d.code for lvl, d in path.items()}
        names = {lvl: d.name for lvl, d in path.items()}
        return GeocodeResult(
            lon=placed.lon,
            lat=placed.lat,
            precision=Precision(placed.level),
            provider=self.name,
            confidence=round(confidence, 2),
            codes=codes,
            names=names,
            formatted="".join(names[lvl] for lvl in LEVELS if lvl in names) + parsed.rest,
            rest=parsed.rest,
            ambiguous=parsed.ambiguous,
            candidates=[{lvl: m.division.code for lvl, m in c.items()} for c in parsed.candidates],
            query=address,
            notes=list(parsed.notes),
        )


def _label(g: Gazetteer, chain) -> str:
    finest = max(chain.values(), key=lambda m: LEVELS.index(m.division.level)).division
    path = g.path(finest) if finest.level != "village" else {}
    return "".join(path[lvl].name for lvl in LEVELS if lvl in path) or finest.name
