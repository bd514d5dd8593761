"""Per-client token buckets for expensive or guessable endpoints (geocoding, planner login).

The buckets live in the database (:func:`geo.store.limits.take_token`, table
``rate_buckets``), so a limit holds across every worker process of ``yizhan serve --workers
N``: a client cannot multiply its allowance by reaching another worker. There is no
in-memory fast path, because a per-process cache of a shared bucket would let each process
spend the same tokens. A limiter built without an ``engine`` (a library or
unit-test use) keeps its buckets in a private in-memory SQLite database, with
the same statement. Clients are keyed by their remote address.
"""

from __future__ import annotations

import contextlib
import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from geo.errors import RateLimited
from geo.store.limits import prune_buckets, take_token
from geo.store.schema import rate_buckets

#: Seconds between two clean-ups of idle buckets (by the process that happens to check).
PRUNE_EVERY_S = 60.0


class RateLimiter:
    """Allow ``per_minute`` requests per client, with bursts up to that many.

    Parameters
    ----------
    per_minute
        Requests per minute and client (also the burst).
    clock
        Unix time in seconds (``time.time``: the same clock in every process).
    name
        The limiter's name, the prefix of its bucket keys (``geocode``, ``login``).
    engine
        The shared database (the app's); ``None``: a private in-memory one.
    """

    def __init__(
        self,
        per_minute: int,
        clock=time.time,
        name: str = "limit",
        engine: Engine | None = None,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.clock = clock
        self.name = name
        self._engine = engine
        self._lock: threading.Lock | None = None  # serialises the private database only
        self._pruned_s = -float("inf")

    def _database(self) -> Engine:
        if self._engine is None:
            self._engine = sa.create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
            rate_buckets.create(self._engine)
            self._lock = threading.Lock()
        return self._engine

    def check(self, client: str) -> None:
        """Take one token for ``client`` or raise :class:`RateLimited`."""
        engine = self._database()
        now_s = float(self.clock())
        key = f"{self.name}:{client}"[:200]
        with self._lock or contextlib.nullcontext():
            with engine.begin() as conn:
                allowed, tokens = take_token(conn, key, self.rate, self.capacity, now_s)
            if now_s - self._pruned_s > PRUNE_EVERY_S:
                self._pruned_s = now_s
                full_s = self.capacity / self.rate if self.rate else 60.0
                prune_buckets(engine, now_s - 2 * full_s)
        if not allowed:
            wait = (1.0 - tokens) / self.rate if self.rate else 60.0
            raise RateLimited(
                f"too many requests; try again in {wait:.0f} s", retry_after=max(1, round(wait))
            )
