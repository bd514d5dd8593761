"""Geocoder protocol and result type shared by every provider.

A provider turns address text into a :class:`GeocodeResult` in WGS-84, or raises
:class:`~geo.errors.GeocodeNotFound` (nothing found: the reason is in the message) or
:class:`~geo.errors.ProviderError` (the service failed: the chain falls back to the next
provider). Providers never invent a position.

A "not found" carries a stable machine code in ``details["reason"]`` (one of
:data:`NOT_FOUND_REASONS`, JSON ``error.reason``) beside its English message, so a page can say
why in its own language. A result says what was recognised (:meth:`GeocodeResult.recognised`)
and whether only a coarse part of the text was placed (:meth:`GeocodeResult.partial`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

from geo.models import Precision

#: Longest address text accepted (characters); longer input is refused, not truncated.
MAX_ADDRESS_CHARS = 200

#: Why an address was not found: ``GeocodeNotFound.details["reason"]`` → what it means.
NOT_FOUND_REASONS: dict[str, str] = {
    "empty": "the address is empty",
    "too_long": f"the address is longer than {MAX_ADDRESS_CHARS} characters",
    "not_chinese": "no Chinese place name in the text",
    "ambiguous": "the text fits several places; the county or city is needed",
    "province_only": "only a province is named: too coarse to place",
    "no_place_name": "no known place name at the start of the address",
    "no_position": "no position is known for the places named",
    "no_match": "the geocoding service found no match",
    "too_coarse": "the service's match is too coarse to be a position",
    "outside_china": "the match is outside China's service area",
    "providers_failed": "every geocoding service failed (down, slow, out of quota)",
}

#: Finest first: the order used to compare precisions.
PRECISION_ORDER = [
    Precision.EXACT,
    Precision.STREET,
    Precision.VILLAGE,
    Precision.TOWNSHIP,
    Precision.COUNTY,
    Precision.PREFECTURE,
    Precision.UNKNOWN,
]


def precision_rank(p: Precision | str) -> int:
    """0 for ``exact`` … larger for coarser precisions."""
    return PRECISION_ORDER.index(Precision(p))


@dataclass
class GeocodeResult:
    """One geocoded address.

    Attributes
    ----------
    lon, lat
        WGS-84 position (converted from the provider's system).
    precision
        How precisely the position is known (the unit whose position was used).
    provider
        Name of the provider that answered (``offline``, ``amap`` …).
    confidence
        0–1: the provider's own score where it gives one, else a documented estimate.
    codes
        Admin codes found: ``province_code``, ``prefecture_code``, ``county_code``,
        ``township_code``, ``village_code`` (missing levels absent).
    names
        Admin names at the same keys without ``_code`` (``province``, ``county`` …).
    formatted
        The address as the provider understood it.
    rest
        What remains after the admin units (road, number, building).
    ambiguous
        True when the text fits several units equally well; ``candidates`` lists them.
    notes
        What the provider corrected while reading the text (a wrong or former higher unit
        replaced by the stated lower one), for the user to check.
    """

    lon: float
    lat: float
    precision: Precision
    provider: str
    confidence: float = 1.0
    codes: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    formatted: str = ""
    rest: str = ""
    ambiguous: bool = False
    candidates: list[dict] = field(default_factory=list)
    query: str = ""
    notes: list[str] = field(default_factory=list)

    def recognised(self) -> str:
        """The name of the unit whose position was used (``柳州市``), else ``formatted``."""
        return self.names.get(self.precision.value) or self.formatted

    def partial(self) -> bool:
        """True when text after the admin units (``rest``) was not placed: the position is an
        admin unit's (``precision`` coarser than ``street``), not the place asked for
        (``柳州火车站`` placed at 柳州市)."""
        return bool(self.rest.strip()) and precision_rank(self.precision) > precision_rank(
            Precision.STREET
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["precision"] = self.precision.value
        return d


@runtime_checkable
class Geocoder(Protocol):
    """What every provider implements."""

    name: str

    def geocode(self, address: str, city: str | None = None) -> GeocodeResult:
        """Geocode ``address`` (``city`` narrows the search where the service allows).

        Raises
        ------
        GeocodeNotFound
            Nothing found; the message says why.
        ProviderError
            The service failed (down, timeout, quota, key, garbage).
        """
        ...
