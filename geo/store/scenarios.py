"""Saved planning scenarios: parameters, last result, the registry revision it used, and who
may see them.

A scenario belongs to the planner user who saved it (``owner``) and is seen only by them
unless they share it (``shared``: every planner user may view and compare it; only the owner
re-runs it, changes sharing or deletes it). Scenarios without an owner (saved before owners
existed, or by ``yizhan scenario save``) are seen by nobody in the planner pages. The CLI is
an administrator's tool and reads every scenario (``viewer=None``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import overload

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.errors import NotFound
from geo.store.schema import scenarios


@dataclass
class Scenario:
    """One saved scenario. ``stale`` when the registry changed since it last ran."""

    id: str
    name: str
    params: dict
    result: dict | None
    registry_revision: int | None
    created_at: datetime
    run_at: datetime | None
    stale: bool = False
    owner: str | None = None
    shared: bool = False

    def visible_to(self, user: str | None) -> bool:
        """Whether planner user ``user`` may see it (``None``: the administrator, always)."""
        return user is None or self.shared or (self.owner is not None and self.owner == user)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "params": self.params,
            "result": self.result,
            "registry_revision": self.registry_revision,
            "stale": self.stale,
            "owner": self.owner,
            "shared": self.shared,
            "created_at": self.created_at.isoformat(),
            "run_at": self.run_at.isoformat() if self.run_at else None,
        }


class ScenarioRepository:
    """Reads and writes scenarios on the station database."""

    def __init__(self, engine: Engine, current_revision=lambda: None) -> None:
        self.engine = engine
        self.current_revision = current_revision

    def _row(self, r) -> Scenario:
        revision = self.current_revision()
        return Scenario(
            r["id"],
            r["name"],
            r["params"],
            r["result"],
            r["registry_revision"],
            _aware(r["created_at"]),
            _aware(r["run_at"]),
            stale=revision is not None and r["registry_revision"] != revision,
            owner=r["owner"],
            shared=bool(r["shared"]),
        )

    def save(
        self,
        name: str,
        params: dict,
        result: dict | None,
        registry_revision: int | None,
        scenario_id: str | None = None,
        owner: str | None = None,
    ) -> Scenario:
        """Insert a new scenario owned by ``owner``, or replace the result of ``scenario_id``
        (its owner and sharing stay)."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if scenario_id is None:
                scenario_id = uuid.uuid4().hex[:12]
                conn.execute(
                    scenarios.insert().values(
                        id=scenario_id,
                        name=name,
                        params=params,
                        result=result,
                        registry_revision=registry_revision,
                        created_at=now,
                        run_at=now,
                        owner=owner,
                        shared=False,
                    )
                )
            else:
                conn.execute(
                    scenarios.update()
                    .where(scenarios.c.id == scenario_id)
                    .values(result=result, registry_revision=registry_revision, run_at=now)
                )
        return self.get(scenario_id)

    def get(self, scenario_id: str, viewer: str | None = None) -> Scenario:
        """The scenario if ``viewer`` may see it (``None``: every scenario, the CLI).

        Raises :class:`NotFound` for a scenario that is missing *or* not visible, so that
        another user cannot tell whether it exists.
        """
        with self.engine.connect() as conn:
            row = conn.execute(scenarios.select().where(scenarios.c.id == scenario_id)).first()
        found = self._row(row._mapping) if row is not None else None
        if found is None or not found.visible_to(viewer):
            raise NotFound(f"no scenario {scenario_id!r}")
        return found

    def all(self, viewer: str | None = None) -> list[Scenario]:
        """Scenarios ``viewer`` may see (their own and shared ones; ``None``: every one)."""
        query = scenarios.select().order_by(scenarios.c.created_at)
        if viewer is not None:
            query = query.where(
                sa.or_(scenarios.c.owner == viewer, scenarios.c.shared == sa.true())
            )
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(query).mappings()]

    def set_shared(self, scenario_id: str, shared: bool, owner: str | None = None) -> Scenario:
        """Share (or stop sharing) a scenario; with ``owner``, only that user's scenario
        (:class:`NotFound` otherwise)."""
        self._update(scenario_id, owner, {"shared": bool(shared)})
        return self.get(scenario_id)

    def set_owner(self, scenario_id: str, owner: str | None) -> Scenario:
        """Give a scenario to planner user ``owner`` (``None``: to nobody; the CLI's)."""
        self._update(scenario_id, None, {"owner": owner})
        return self.get(scenario_id)

    def delete(self, scenario_id: str, owner: str | None = None) -> None:
        """Delete a scenario; with ``owner``, only that user's scenario."""
        query = sa.delete(scenarios).where(scenarios.c.id == scenario_id)
        if owner is not None:
            query = query.where(scenarios.c.owner == owner)
        with self.engine.begin() as conn:
            if not conn.execute(query).rowcount:
                raise NotFound(f"no scenario {scenario_id!r}")

    def _update(self, scenario_id: str, owned_by: str | None, values: dict) -> None:
        query = scenarios.update().where(scenarios.c.id == scenario_id)
        if owned_by is not None:
            query = query.where(scenarios.c.owner == owned_by)
        with self.engine.begin() as conn:
            if not conn.execute(query.values(**values)).rowcount:
                raise NotFound(f"no scenario {scenario_id!r}")


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return value
