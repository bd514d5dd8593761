"""A chain of geocoders tried in order, with fallback, and batch runs.

The chain asks each provider in turn. A result at least as precise as ``good_enough`` ends
the search; a coarser one is kept while later providers are tried, and the finest is returned.
A provider that fails (down, slow, out of quota, garbage) is logged as a warning and skipped;
"not found" from every provider raises :class:`GeocodeNotFound` with each one's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from geo.errors import GeocodeNotFound, ProviderError
from geo.geocode.base import Geocoder, GeocodeResult, precision_rank
from geo.models import Precision

LOGGER = logging.getLogger(__name__)


class GeocoderChain:
    """Providers tried in order (see the module docstring)."""

    name = "chain"

    def __init__(
        self, providers: Sequence[Geocoder], good_enough: Precision | str = Precision.STREET
    ) -> None:
        if not providers:
            raise ValueError("a geocoder chain needs at least one provider")
        self.providers = list(providers)
        self.good_enough = Precision(good_enough)

    def geocode(self, address: str, city: str | None = None) -> GeocodeResult:
        best: GeocodeResult | None = None
        reasons: list[str] = []
        codes: list[str] = []  # the providers' ``reason`` codes, "not found" before failures
        failed = False
        for provider in self.providers:
            try:
                result = self._ask(provider, address, city)
            except GeocodeNotFound as exc:
                reasons.append(f"{provider.name}: {exc.message}")
                code = exc.details.get("reason")
                if isinstance(code, str):
                    codes.append(code)
                continue
            except ProviderError as exc:
                LOGGER.warning(
                    "geocoder %s failed (%s); trying the next provider", provider.name, exc.message
                )
                reasons.append(f"{provider.name} failed: {exc.message}")
                failed = True
                continue
            if best is None or precision_rank(result.precision) < precision_rank(best.precision):
                best = result
            if precision_rank(result.precision) <= precision_rank(self.good_enough):
                break
        if best is None:
            # The first provider's reason code says why to the user (the offline gazetteer's
            # "no place name" is more useful than a later service's "no match"); when no
            # provider said "not found", every one failed.
            reason = codes[0] if codes else ("providers_failed" if failed else None)
            raise GeocodeNotFound("; ".join(reasons) or "no provider answered", reason=reason)
        return best

    @staticmethod
    def _ask(provider: Geocoder, address: str, city: str | None) -> GeocodeResult:
        return provider.geocode(address, city)


@dataclass
class BatchRow:
    """Outcome of one address in a batch: a result, or the reason it failed."""

    index: int
    address: str
    result: GeocodeResult | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        return "ok" if self.result is not None else "failed"


def geocode_many(
    geocoder: Geocoder,
    addresses: Iterable[str],
    city: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[BatchRow]:
    """Geocode every address; no row is lost: each ends with a result or a reason."""
    rows = []
    for i, address in enumerate(addresses):
        row = BatchRow(i, address)
        try:
            row.result = geocoder.geocode(address, city)
        except GeocodeNotFound as exc:
            row.error = exc.message
        except ProviderError as exc:
            row.error = f"provider failed: {exc.message}"
        rows.append(row)
        if progress is not None:
            progress(1)
    return rows
