"""A small per-client token bucket for expensive public endpoints (geocoding).

In-process and in-memory: each server process keeps its own buckets, which is what a
single-machine deployment needs. Clients are keyed by their remote address.
"""

from __future__ import annotations

import threading
import time

from geo.errors import RateLimited


class RateLimiter:
    """Allow ``per_minute`` requests per client, with bursts up to that many."""

    def __init__(self, per_minute: int, clock=time.monotonic, max_clients: int = 10_000):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one token for ``client`` or raise :class:`RateLimited`."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                wait = (1.0 - tokens) / self.rate if self.rate else 60.0
                self._buckets[client] = (tokens, now)
                raise RateLimited(
                    f"too many requests; try again in {wait:.0f} s", retry_after=max(1, round(wait))
                )
            if len(self._buckets) >= self.max_clients and client not in self._buckets:
                self._buckets.pop(next(iter(self._buckets)))
            self._buckets[client] = (tokens - 1.0, now)
