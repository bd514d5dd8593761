"""Travel-time models chosen by name: ``crowfly`` (default) and ``network`` (OSM .pbf)."""

from geo.travel.base import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEEDS_KPH,
    MODES,
    NearestTimes,
    TravelModel,
)
from geo.travel.crowfly import CrowflyModel

__all__ = [
    "DEFAULT_CIRCUITY",
    "DEFAULT_SPEEDS_KPH",
    "MODES",
    "CrowflyModel",
    "NearestTimes",
    "TravelModel",
]
