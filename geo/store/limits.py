"""Token buckets in the database: request limits that hold across server processes.

A limiter (login throttling, the geocoding rate limit) keeps one row per client in
``rate_buckets``; :func:`take_token` refills and takes in **one** ``INSERT … ON CONFLICT DO
UPDATE … RETURNING`` statement, which SQLite and PostgreSQL both run atomically, so two
workers of ``yizhan serve --workers N`` answering the same client cannot both spend its last
token. Every expression of the ``SET`` clause reads the row as it was before the statement.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.store.schema import rate_buckets


def _upsert(dialect: str) -> Any:
    """The dialect's ``insert`` (the one with ``on_conflict_do_update``)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    raise NotImplementedError(f"rate limits need SQLite or PostgreSQL, not {dialect}")


def take_token(
    conn: Connection, key: str, rate_per_s: float, capacity: float, now_s: float
) -> tuple[bool, float]:
    """Refill ``key``'s bucket to ``now_s`` and take one token if there is one.

    Parameters
    ----------
    conn
        An open connection (the caller commits).
    key
        The bucket, e.g. ``"login:203.0.113.5"``.
    rate_per_s
        Tokens added per second.
    capacity
        The bucket's size (the largest burst); a new bucket starts full.
    now_s
        Unix time in seconds (the same clock in every process).

    Returns
    -------
    tuple of (bool, float)
        Whether a token was taken, and the tokens left.
    """
    t = rate_buckets.c
    # min(capacity, tokens + elapsed * rate), without the dialects' different min/least
    raw = t.tokens + sa.case((t.updated_s < now_s, now_s - t.updated_s), else_=0.0) * rate_per_s
    refill = sa.case((raw > capacity, capacity), else_=raw)
    insert = _upsert(conn.dialect.name)(rate_buckets).values(
        key=key, tokens=capacity - 1.0, updated_s=now_s, allowed=capacity >= 1.0
    )
    statement = insert.on_conflict_do_update(
        index_elements=[t.key],
        set_={
            "tokens": sa.case((refill >= 1.0, refill - 1.0), else_=refill),
            "updated_s": now_s,
            "allowed": refill >= 1.0,
        },
    ).returning(t.allowed, t.tokens)
    allowed, tokens = conn.execute(statement).one()
    return bool(allowed), float(tokens)


def prune_buckets(engine: Engine, before_s: float) -> int:
    """Delete buckets not used since ``before_s`` (Unix seconds): a bucket idle long enough
    to be full again is the same as no bucket. Returns how many went."""
    with engine.begin() as conn:
        result = conn.execute(rate_buckets.delete().where(rate_buckets.c.updated_s < before_s))
        return result.rowcount or 0
