"""Typed, documented settings, read from ``YIZHAN_*`` environment variables.

Every setting has a type, a default and a help text; ``README.md`` documents each one (a test
checks it). Library functions take explicit arguments; these settings only supply the
defaults used by the CLI and the web app.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from geo.errors import ValidationError

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"


def _setting(default, help: str, env: str):
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class Settings:
    """All settings of a Yizhan deployment (see each field's ``help`` metadata)."""

    instance_path: Path = _setting(
        Path("instance"),
        "Folder for the embedded database and caches; created on first use.",
        "YIZHAN_INSTANCE_PATH",
    )
    database_url: str | None = _setting(
        None,
        "SQLAlchemy database URL. Default: a SQLite file `yizhan.db` in the instance folder.",
        "YIZHAN_DATABASE_URL",
    )
    default_crs: str = _setting(
        "wgs84",
        "Coordinate system assumed for imported coordinates that do not declare one "
        "(wgs84, gcj02 or bd09).",
        "YIZHAN_DEFAULT_CRS",
    )
    duplicate_radius_m: float = _setting(
        50.0,
        "Two records with the same name closer than this (metres) are duplicates.",
        "YIZHAN_DUPLICATE_RADIUS_M",
    )
    extra_kinds: str = _setting(
        "",
        "Extra station kinds, `code:中文名:English name` separated by `;`.",
        "YIZHAN_EXTRA_KINDS",
    )
    extra_services: str = _setting(
        "",
        "Extra services, same syntax as YIZHAN_EXTRA_KINDS.",
        "YIZHAN_EXTRA_SERVICES",
    )
    tile_url: str = _setting(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Basemap XYZ tile URL (WGS-84/Web Mercator tiles). Empty: no tiles, the bundled "
        "county outlines only (intranets).",
        "YIZHAN_TILE_URL",
    )
    tile_attribution: str = _setting(
        "© OpenStreetMap contributors",
        "Attribution shown for the basemap tiles.",
        "YIZHAN_TILE_ATTRIBUTION",
    )
    api_max_limit: int = _setting(
        5000, "Largest page size `limit` the stations API accepts.", "YIZHAN_API_MAX_LIMIT"
    )
    nearest_max_k: int = _setting(
        100, "Largest `k` the nearest-station API accepts.", "YIZHAN_NEAREST_MAX_K"
    )
    secret_key: str = _setting(
        "",
        "Flask secret key (sessions, CSRF). Empty: a random key per process.",
        "YIZHAN_SECRET_KEY",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), then ``overrides``.

        Raises
        ------
        ValidationError
            If a variable cannot be converted to the setting's type.
        """
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            env = f.metadata["env"]
            if env not in environ:
                continue
            raw = environ[env]
            try:
                values[f.name] = _convert(f.type, raw)
            except ValueError as exc:
                raise ValidationError(f"{env}={raw!r}: {exc}", field=env) from None
        values.update(overrides)
        return cls(**values)

    @property
    def database(self) -> str:
        """The effective database URL."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(Path(self.instance_path) / 'yizhan.db').resolve()}"

    def register_taxonomy(self) -> None:
        """Add the configured extra kinds and services to the open taxonomy."""
        from geo.models import Term, register_kind, register_service

        for text, register in (
            (self.extra_kinds, register_kind),
            (self.extra_services, register_service),
        ):
            for item in filter(None, (s.strip() for s in text.split(";"))):
                parts = [p.strip() for p in item.split(":")]
                if len(parts) != 3 or not all(parts):
                    raise ValidationError(
                        f"taxonomy entry {item!r} must be code:中文名:English name",
                        field="extra_kinds",
                    )
                register(Term(*parts))


def _convert(type_name: str, raw: str):
    if "Path" in type_name:
        return Path(raw)
    if type_name.startswith("int"):
        return int(raw)
    if type_name.startswith("float"):
        return float(raw)
    if type_name.startswith("bool"):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if type_name.startswith("dict"):
        return json.loads(raw)
    return raw


def documented_settings() -> list[tuple[str, str, object, str]]:
    """``(name, env, default, help)`` for every setting, in declaration order."""
    return [
        (f.name, f.metadata["env"], f.default, f.metadata["help"])
        for f in dataclasses.fields(Settings)
    ]
