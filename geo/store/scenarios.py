"""Saved planning scenarios: parameters, last result, and the registry revision it used."""

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

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "params": self.params,
            "result": self.result,
            "registry_revision": self.registry_revision,
            "stale": self.stale,
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
        )

    def save(
        self,
        name: str,
        params: dict,
        result: dict | None,
        registry_revision: int | None,
        scenario_id: str | None = None,
    ) -> Scenario:
        """Insert a new scenario, or replace the result of ``scenario_id``."""
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
                    )
                )
            else:
                conn.execute(
                    scenarios.update()
                    .where(scenarios.c.id == scenario_id)
                    .values(result=result, registry_revision=registry_revision, run_at=now)
                )
        return self.get(scenario_id)

    def get(self, scenario_id: str) -> Scenario:
        with self.engine.connect() as conn:
            row = conn.execute(scenarios.select().where(scenarios.c.id == scenario_id)).first()
        if row is None:
            raise NotFound(f"no scenario {scenario_id!r}")
        return self._row(row._mapping)

    def all(self) -> list[Scenario]:
        with self.engine.connect() as conn:
            rows = conn.execute(scenarios.select().order_by(scenarios.c.created_at)).mappings()
            return [self._row(r) for r in rows]

    def delete(self, scenario_id: str) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(sa.delete(scenarios).where(scenarios.c.id == scenario_id)).rowcount:
                raise NotFound(f"no scenario {scenario_id!r}")


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return value
