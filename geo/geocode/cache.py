"""Persistent cache of geocoder answers (SQLite, standard library only).

Online services are slow, rate-limited and metered, and Nominatim's usage policy asks clients
to cache results; so every answer of an online provider can be kept here: a
:class:`~geo.geocode.base.GeocodeResult` (as JSON), or a "not found" with its reason. Entries
are keyed by ``(provider, normalised address, normalised city)`` (:func:`normalise_address`)
and expire after a time to live: by default 30 days for results and 1 day for "not found",
so a place added to a map service is found again soon.

The cache is one SQLite file in WAL mode (readers do not block the writer; several processes
may share the file) and one connection guarded by a lock, so a :class:`GeocodeCache` can be
shared by the threads of a process. Expired entries are ignored on read and removed by
:meth:`GeocodeCache.purge_expired`. An entry that can no longer be decoded (written by an
incompatible version) counts as a miss and is deleted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from geo.geocode.base import GeocodeResult
from geo.models import Precision

LOGGER = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_NEGATIVE_TTL_S",
    "DEFAULT_TTL_S",
    "CacheEntry",
    "GeocodeCache",
    "normalise_address",
]

#: Default time to live of a cached result: 30 days.
DEFAULT_TTL_S = 30 * 24 * 3600.0
#: Default time to live of a cached "not found": 1 day.
DEFAULT_NEGATIVE_TTL_S = 24 * 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS geocode_cache (
    provider    TEXT NOT NULL,
    address_key TEXT NOT NULL,
    city_key    TEXT NOT NULL,
    found       INTEGER NOT NULL,
    result_json TEXT,
    reason      TEXT,
    address     TEXT NOT NULL,
    city        TEXT,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (provider, address_key, city_key)
);
CREATE INDEX IF NOT EXISTS ix_geocode_cache_expires ON geocode_cache (expires_at);
"""
_RESULT_FIELDS = {f.name for f in fields(GeocodeResult)}


def normalise_address(text: str | None) -> str:
    """The cache key of an address or city: NFKC, all white space removed, lower case.

    Full-width and half-width forms, spacing and letter case do not make two entries:
    ``"柳州市 城中区 ＡＢＣ"`` and ``"柳州市城中区abc"`` share one key.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    return "".join(text.split()).lower()


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer: a ``result``, or ``result is None`` and the ``reason`` it was not found.

    Times are seconds since the epoch (of the cache's clock).
    """

    result: GeocodeResult | None
    reason: str | None
    created_at: float
    expires_at: float

    @property
    def found(self) -> bool:
        return self.result is not None


def _result_to_json(result: GeocodeResult) -> str:
    return json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True)


def _result_from_json(text: str) -> GeocodeResult:
    data = json.loads(text)
    if not isinstance(data, dict) or not _RESULT_FIELDS.issuperset(data):
        raise ValueError("not a GeocodeResult")
    data["precision"] = Precision(data["precision"])
    return GeocodeResult(**data)


class GeocodeCache:
    """A persistent, thread-safe cache of geocoding answers.

    Parameters
    ----------
    path
        SQLite file (created with its folder), or ``":memory:"``.
    ttl_s
        Time to live of results, seconds (default 30 days).
    negative_ttl_s
        Time to live of "not found" answers, seconds (default 1 day).
    clock
        Injectable ``time.time`` (tests of expiry).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        negative_ttl_s: float = DEFAULT_NEGATIVE_TTL_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if ttl_s <= 0 or negative_ttl_s <= 0:
            raise ValueError("ttl_s and negative_ttl_s must be positive")
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.ttl_s = float(ttl_s)
        self.negative_ttl_s = float(negative_ttl_s)
        self._clock = clock or time.time
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, timeout=30.0, check_same_thread=False, isolation_level=None
        )
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        self._hits = 0
        self._negative_hits = 0
        self._misses = 0
        self._writes = 0

    # -- life cycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> GeocodeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------
    def get(self, provider: str, address: str, city: str | None = None) -> CacheEntry | None:
        """The live entry for ``(provider, address, city)``, or ``None`` (missing or expired)."""
        key = (provider, normalise_address(address), normalise_address(city))
        now = self._clock()
        with self._lock:
            row = self._conn.execute(
                "SELECT found, result_json, reason, created_at, expires_at FROM geocode_cache "
                "WHERE provider = ? AND address_key = ? AND city_key = ?",
                key,
            ).fetchone()
            if row is None or row[4] <= now:
                self._misses += 1
                return None
            found, result_json, reason, created_at, expires_at = row
            result = None
            if found:
                try:
                    result = _result_from_json(result_json)
                except (ValueError, TypeError, KeyError):
                    LOGGER.warning("dropping an undecodable cache entry for %s", provider)
                    self._conn.execute(
                        "DELETE FROM geocode_cache "
                        "WHERE provider = ? AND address_key = ? AND city_key = ?",
                        key,
                    )
                    self._misses += 1
                    return None
                self._hits += 1
            else:
                self._negative_hits += 1
        return CacheEntry(result, reason, created_at, expires_at)

    # -- writing -----------------------------------------------------------------------------
    def put(
        self,
        provider: str,
        address: str,
        city: str | None,
        result: GeocodeResult,
        *,
        ttl_s: float | None = None,
    ) -> None:
        """Store ``result`` for ``(provider, address, city)`` (replacing an older entry)."""
        self._write(provider, address, city, _result_to_json(result), None, ttl_s or self.ttl_s)

    def put_not_found(
        self,
        provider: str,
        address: str,
        city: str | None,
        reason: str,
        *,
        ttl_s: float | None = None,
    ) -> None:
        """Store "not found" with its ``reason`` for ``(provider, address, city)``."""
        self._write(provider, address, city, None, reason, ttl_s or self.negative_ttl_s)

    def _write(
        self,
        provider: str,
        address: str,
        city: str | None,
        result_json: str | None,
        reason: str | None,
        ttl_s: float,
    ) -> None:
        now = self._clock()
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO geocode_cache (provider, address_key, city_key, found, "
                "result_json, reason, address, city, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    provider,
                    normalise_address(address),
                    normalise_address(city),
                    int(result_json is not None),
                    result_json,
                    reason,
                    address,
                    city,
                    now,
                    now + ttl_s,
                ),
            )
            self._writes += 1

    def purge_expired(self) -> int:
        """Delete expired entries; return how many were deleted."""
        with self._lock:
            cur = self._conn.execute(
                "DELETE FROM geocode_cache WHERE expires_at <= ?", (self._clock(),)
            )
            return cur.rowcount

    def clear(self, provider: str | None = None) -> int:
        """Delete all entries (of one ``provider``); return how many were deleted."""
        with self._lock:
            if provider is None:
                cur = self._conn.execute("DELETE FROM geocode_cache")
            else:
                cur = self._conn.execute(
                    "DELETE FROM geocode_cache WHERE provider = ?", (provider,)
                )
            return cur.rowcount

    # -- statistics --------------------------------------------------------------------------
    def stats(self) -> dict:
        """Counts: entries in the file (``entries``, ``found``, ``not_found``, ``expired``,
        ``by_provider``) and this object's lookups (``hits``, ``negative_hits``, ``misses``,
        ``writes``)."""
        now = self._clock()
        with self._lock:
            rows = self._conn.execute(
                "SELECT provider, found, expires_at <= ?, COUNT(*) FROM geocode_cache "
                "GROUP BY provider, found, expires_at <= ?",
                (now, now),
            ).fetchall()
            counters = {
                "hits": self._hits,
                "negative_hits": self._negative_hits,
                "misses": self._misses,
                "writes": self._writes,
            }
        by_provider: dict[str, int] = {}
        found = not_found = expired = 0
        for provider, is_found, is_expired, count in rows:
            if is_expired:
                expired += count
                continue
            by_provider[provider] = by_provider.get(provider, 0) + count
            if is_found:
                found += count
            else:
                not_found += count
        return {
            "path": self.path,
            "entries": found + not_found,
            "found": found,
            "not_found": not_found,
            "expired": expired,
            "by_provider": by_provider,
            **counters,
        }
