"""Storage: SQLAlchemy 2 schema, engine and the station repository.

SQLite (a file in the instance folder) is the embedded default; any SQLAlchemy URL works
through the same repository (``YIZHAN_DATABASE_URL``).
"""

from geo.store.history import StationVersion  # issue 15 item 6
from geo.store.repository import (
    SaveResult,
    StationQuery,
    StationRepository,
    create_engine,
)
from geo.store.scenarios import Scenario, ScenarioRepository
from geo.store.users import User, UserRepository

__all__ = [
    "SaveResult",
    "Scenario",
    "ScenarioRepository",
    "StationQuery",
    "StationRepository",
    "StationVersion",
    "User",
    "UserRepository",
    "create_engine",
]
