"""Travel-time models chosen by name: ``crowfly`` (default) and ``network`` (OSM .pbf)."""

from geo.travel.base import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEEDS_KPH,
    MODES,
    NearestTimes,
    PairMinutes,
    TravelModel,
)
from geo.travel.crowfly import CrowflyModel
from geo.travel.network import (
    SPEED_TABLES_KPH,
    NetworkModel,
    NodeTimes,
    RoadGraph,
    parse_maxspeed,
)

__all__ = [
    "DEFAULT_CIRCUITY",
    "DEFAULT_SPEEDS_KPH",
    "MODES",
    "SPEED_TABLES_KPH",
    "CrowflyModel",
    "NearestTimes",
    "NetworkModel",
    "NodeTimes",
    "PairMinutes",
    "RoadGraph",
    "TravelModel",
    "parse_maxspeed",
]
