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
    basemaps: str = _setting(
        "offline",
        "Basemaps offered by the locator's layer switcher, first is the default, comma-separated: "
        "offline (bundled outlines, no request leaves the server), osm, tianditu (needs "
        "YIZHAN_TIANDITU_KEY), amap (GCJ-02: overlays are shifted), custom (YIZHAN_TILE_URL).",
        "YIZHAN_BASEMAPS",
    )
    map_approval: str = _setting(
        "",
        "Map approval number (审图号) shown under the maps, e.g. `GS(2024)1234号`.",
        "YIZHAN_MAP_APPROVAL",
    )
    icp: str = _setting(
        "",
        "ICP record text (ICP备案号) shown under the maps, linked to beian.miit.gov.cn.",
        "YIZHAN_ICP",
    )
    api_max_limit: int = _setting(
        5000, "Largest page size `limit` the stations API accepts.", "YIZHAN_API_MAX_LIMIT"
    )
    nearest_max_k: int = _setting(
        100, "Largest `k` the nearest-station API accepts.", "YIZHAN_NEAREST_MAX_K"
    )
    geocoders: str = _setting(
        "offline",
        "Geocoding providers tried in order, comma-separated: offline, amap, tianditu, "
        "nominatim. Online ones need their key/URL below.",
        "YIZHAN_GEOCODERS",
    )
    geocode_good_enough: str = _setting(
        "street",
        "Stop trying further providers once a result is at least this precise "
        "(exact, street, village, township, county).",
        "YIZHAN_GEOCODE_GOOD_ENOUGH",
    )
    geocode_timeout_s: float = _setting(
        5.0,
        "Timeout of one request to an online geocoder (seconds).",
        "YIZHAN_GEOCODE_TIMEOUT_S",
    )
    geocode_retries: int = _setting(
        2,
        "Retries (with backoff) of an online geocoder after a timeout, 5xx or 429.",
        "YIZHAN_GEOCODE_RETRIES",
    )
    geocode_cache: bool = _setting(
        True,
        "Keep geocoding results in a SQLite cache in the instance folder.",
        "YIZHAN_GEOCODE_CACHE",
    )
    amap_key: str = _setting("", "Amap (高德) Web Service key.", "YIZHAN_AMAP_KEY")
    amap_url: str = _setting(
        "https://restapi.amap.com", "Amap Web Service base URL.", "YIZHAN_AMAP_URL"
    )
    tianditu_key: str = _setting("", "Tianditu (天地图) key (tk).", "YIZHAN_TIANDITU_KEY")
    tianditu_url: str = _setting(
        "https://api.tianditu.gov.cn", "Tianditu API base URL.", "YIZHAN_TIANDITU_URL"
    )
    nominatim_url: str = _setting(
        "https://nominatim.openstreetmap.org",
        "Nominatim base URL (a self-hosted one for bulk use; the public one allows 1 request/s).",
        "YIZHAN_NOMINATIM_URL",
    )
    nominatim_user_agent: str = _setting(
        "",
        "User-Agent sent to Nominatim, identifying the deployment (required by its policy), "
        "e.g. `Yizhan (union-it@example.org)`.",
        "YIZHAN_NOMINATIM_USER_AGENT",
    )
    geocode_rate_per_minute: int = _setting(
        30,
        "Requests per minute one client may make to /api/geocode.",
        "YIZHAN_GEOCODE_RATE_PER_MINUTE",
    )
    dask_scheduler: str = _setting(
        "",
        "Dask scheduler address for partitioned coverage runs (e.g. tcp://10.0.0.5:8786); "
        "empty: a local cluster in this process.",
        "YIZHAN_DASK_SCHEDULER",
    )
    embed_origins: str = _setting(
        "",
        "Origins of the sites allowed to embed the map (/embed) in an iframe and to receive "
        "its postMessage events, space- or comma-separated: `https://www.example-union.org.cn`"
        " (scheme://host[:port], no path); `https://*.example.cn` allows every subdomain. "
        "Empty: no other site may frame it.",
        "YIZHAN_EMBED_ORIGINS",
    )
    secret_key: str = _setting(
        "",
        "Flask secret key (sessions, CSRF). Empty: a random key per process.",
        "YIZHAN_SECRET_KEY",
    )
    session_secure: bool = _setting(
        False,
        "Send the planner's session cookie only over HTTPS (Secure flag); set it behind TLS.",
        "YIZHAN_SESSION_SECURE",
    )
    planner_jobs: int = _setting(
        1,
        "Coverage and plan runs of the planner pages executed at the same time; more wait "
        "as queued.",
        "YIZHAN_PLANNER_JOBS",
    )
    planner_dir: str = _setting(
        "",
        "Folder of the planner's job results and reports. Empty: `planner/` in the instance "
        "folder.",
        "YIZHAN_PLANNER_DIR",
    )
    planner_network: str = _setting(
        "",
        "OSM .osm.pbf file offered to the planner pages as the road-network travel model "
        "(empty: crow-fly estimate only).",
        "YIZHAN_PLANNER_NETWORK",
    )
    planner_max_upload_mb: float = _setting(
        20.0,
        "Largest file (MB) the planner pages accept as demand or candidate upload.",
        "YIZHAN_PLANNER_MAX_UPLOAD_MB",
    )
    login_rate_per_minute: int = _setting(
        10,
        "Login attempts per minute one client may make on /planner/login.",
        "YIZHAN_LOGIN_RATE_PER_MINUTE",
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


def register_env_taxonomy(environ: Mapping[str, str] | None = None) -> None:
    """Register the ``YIZHAN_EXTRA_KINDS`` / ``YIZHAN_EXTRA_SERVICES`` of ``environ`` (default
    ``os.environ``); :mod:`geo.models` calls it on its first unknown name in a process, so
    every process (spawned workers included) knows the configured kinds.

    Raises
    ------
    ValidationError
        If an entry is not ``code:中文名:English name``.
    """
    env = os.environ if environ is None else environ
    Settings(
        extra_kinds=env.get("YIZHAN_EXTRA_KINDS", ""),
        extra_services=env.get("YIZHAN_EXTRA_SERVICES", ""),
    ).register_taxonomy()


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
