"""Web settings: what only the Flask shell reads, on top of the library's settings.

:class:`WebSettings` extends :class:`geo.settings.Settings` with the Flask secret and session
flags, the embed allow-list, basemaps and map notices, the public API's bounds, the rate
limits, the planner pages' folders and jobs, and the production server's connection
limits. It is built the same documented way
(``WebSettings.from_env()``, ``YIZHAN_*`` variables; each field has a help text that the
README documents, checked by ``tests/test_docs.py``), so one object carries a deployment's
settings through the web app while :mod:`geo` only ever sees library settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from geo.settings import Settings, setting


@dataclass(frozen=True)
class WebSettings(Settings):
    """The library settings plus the web shell's (see each field's ``help`` metadata)."""

    tile_url: str = setting(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Basemap XYZ tile URL (WGS-84/Web Mercator tiles). Empty: no tiles, the bundled "
        "county outlines only (intranets).",
        "YIZHAN_TILE_URL",
    )
    tile_attribution: str = setting(
        "© OpenStreetMap contributors",
        "Attribution shown for the basemap tiles.",
        "YIZHAN_TILE_ATTRIBUTION",
    )
    basemaps: str = setting(
        "offline",
        "Basemaps offered by the locator's layer switcher, first is the default, comma-separated: "
        "offline (bundled outlines, no request leaves the server), osm, tianditu (needs "
        "YIZHAN_TIANDITU_KEY), amap (GCJ-02: overlays are shifted), custom (YIZHAN_TILE_URL).",
        "YIZHAN_BASEMAPS",
    )
    map_approval: str = setting(
        "",
        "Map approval number (审图号) shown under the maps, e.g. `GS(2024)1234号`.",
        "YIZHAN_MAP_APPROVAL",
    )
    icp: str = setting(
        "",
        "ICP record text (ICP备案号) shown under the maps, linked to beian.miit.gov.cn.",
        "YIZHAN_ICP",
    )
    api_max_limit: int = setting(
        5000, "Largest page size `limit` the stations API accepts.", "YIZHAN_API_MAX_LIMIT"
    )
    nearest_max_k: int = setting(
        100, "Largest `k` the nearest-station API accepts.", "YIZHAN_NEAREST_MAX_K"
    )
    index_max_stations: int = setting(
        2_000_000,
        "Above this many stations `/api/nearest` and `/api/stations?bbox=` are answered by the "
        "database (PostGIS on PostgreSQL) instead of the in-memory index (which would need "
        "about 3.5 kB of memory per station in every worker). Below it they are too while "
        "the index is being built (after start and after the registry changed).",
        "YIZHAN_INDEX_MAX_STATIONS",
    )
    default_mode: str = setting(
        "ebike",
        "Travel mode the locator starts with (its minutes and the mode picker) unless a link "
        "names one: ebike (电动车, the couriers' vehicle), walk or car. `/api/nearest` keeps "
        "its documented default (walk).",
        "YIZHAN_DEFAULT_MODE",
    )
    geocode_rate_per_minute: int = setting(
        30,
        "Requests per minute one client may make to /api/geocode.",
        "YIZHAN_GEOCODE_RATE_PER_MINUTE",
    )
    embed_origins: str = setting(
        "",
        "Origins of the sites allowed to embed the map (/embed) in an iframe and to receive "
        "its postMessage events, space- or comma-separated: `https://www.example-union.org.cn`"
        " (scheme://host[:port], no path); `https://*.example.cn` allows every subdomain. "
        "Empty: no other site may frame it.",
        "YIZHAN_EMBED_ORIGINS",
    )
    secret_key: str = setting(
        "",
        "Flask secret key (sessions, CSRF). Empty: a random key per process.",
        "YIZHAN_SECRET_KEY",
    )
    session_secure: bool = setting(
        False,
        "Send the planner's session cookie only over HTTPS (Secure flag); set it behind TLS.",
        "YIZHAN_SESSION_SECURE",
    )
    planner_jobs: int = setting(
        1,
        "Coverage and plan runs of the planner pages executed at the same time; more wait "
        "as queued.",
        "YIZHAN_PLANNER_JOBS",
    )
    planner_jobs_per_user: int = setting(
        3,
        "Unfinished (queued or running) coverage and plan runs one planner user may have; "
        "one more is refused with 429. 0: no limit.",
        "YIZHAN_PLANNER_JOBS_PER_USER",
    )
    job_time_limit_s: float = setting(
        3600.0,
        "Seconds a planner coverage or plan run may run before it is stopped (its worker "
        "process terminated, the job failed with 超过时间限制). 0: no limit.",
        "YIZHAN_JOB_TIME_LIMIT_S",
    )
    planner_dir: str = setting(
        "",
        "Folder of the planner's job results and reports. Empty: `planner/` in the instance "
        "folder.",
        "YIZHAN_PLANNER_DIR",
    )
    planner_network: str = setting(
        "",
        "OSM .osm.pbf file offered to the planner pages as the road-network travel model "
        "(empty: crow-fly estimate only).",
        "YIZHAN_PLANNER_NETWORK",
    )
    planner_max_upload_mb: float = setting(
        20.0,
        "Largest file (MB) the planner pages accept as demand or candidate upload. A form "
        "with uploads may send two files: its request body may be twice this plus 1 MB; a "
        "larger body is refused (413) before it is read.",
        "YIZHAN_PLANNER_MAX_UPLOAD_MB",
    )
    max_form_kb: int = setting(
        64,
        "Largest request body (KB) of a POST without files (login, logout, saving a "
        "scenario …); a larger body is refused (413) before it is read.",
        "YIZHAN_MAX_FORM_KB",
    )
    table_max_rows: int = setting(
        500_000,
        "Most data rows an uploaded or imported table (CSV, XLSX, GeoJSON) may have.",
        "YIZHAN_TABLE_MAX_ROWS",
    )
    table_max_uncompressed_mb: float = setting(
        200.0,
        "Largest uncompressed size (MB) of an .xlsx file's contents (decompression bombs).",
        "YIZHAN_TABLE_MAX_UNCOMPRESSED_MB",
    )
    table_max_cell_chars: int = setting(
        32_767,
        "Most characters one table cell may hold (Excel's own limit is 32,767).",
        "YIZHAN_TABLE_MAX_CELL_CHARS",
    )
    trusted_proxies: int = setting(
        0,
        "Number of reverse proxies (e.g. 1 for nginx) in front of the server whose "
        "X-Forwarded-For/-Proto/-Host headers are trusted, so rate limits and logs see the "
        "client's address. 0: the headers are ignored (a client cannot spoof its address). "
        "Never set it higher than the proxies that really are there.",
        "YIZHAN_TRUSTED_PROXIES",
    )
    login_rate_per_minute: int = setting(
        10,
        "Login attempts per minute one client may make on /planner/login.",
        "YIZHAN_LOGIN_RATE_PER_MINUTE",
    )

    threads: int = setting(
        8,
        "Worker threads of the production server (`yizhan serve`, waitress); `--threads` "
        "overrides it.",
        "YIZHAN_THREADS",
    )
    connection_limit: int = setting(
        1000,
        "Open client connections `yizhan serve` accepts at once (kept-alive ones included); "
        "more wait unanswered in the listen backlog. The soft open-file limit is raised to "
        "fit at start.",
        "YIZHAN_CONNECTION_LIMIT",
    )
    channel_timeout_s: int = setting(
        30,
        "Seconds an idle kept-alive connection stays open before `yizhan serve` closes it.",
        "YIZHAN_CHANNEL_TIMEOUT_S",
    )
    listen_backlog: int = setting(
        2048,
        "Listen backlog of `yizhan serve`: connections the kernel holds before they are "
        "accepted (capped by net.core.somaxconn).",
        "YIZHAN_BACKLOG",
    )
    max_queue: int = setting(
        128,
        "Requests that may wait for a busy worker thread of `yizhan serve`; more are refused "
        "at once with 503 and `Retry-After: 1` (load shedding). 0: no limit.",
        "YIZHAN_MAX_QUEUE",
    )

    def __post_init__(self) -> None:
        # A misspelt YIZHAN_DEFAULT_MODE fails at start, not on every locator page.
        from geo.models import parse_mode

        object.__setattr__(
            self, "default_mode", parse_mode(self.default_mode, "YIZHAN_DEFAULT_MODE")
        )

    @property
    def upload_body_bytes(self) -> int:
        """Largest request body of a form with uploads (two files plus 1 MB of fields)."""
        return int((2 * self.planner_max_upload_mb + 1) * 1024 * 1024)

    @property
    def form_body_bytes(self) -> int:
        """Largest request body of a POST without files."""
        return int(self.max_form_kb * 1024)

    def table_limits(self):
        """The :class:`geo.tables.TableLimits` of these settings."""
        from geo.tables import TableLimits

        return TableLimits(
            max_rows=int(self.table_max_rows),
            max_uncompressed_mb=float(self.table_max_uncompressed_mb),
            max_cell_chars=int(self.table_max_cell_chars),
        )

    @classmethod
    def of(cls, settings: Settings) -> WebSettings:
        """``settings`` as web settings: a library :class:`Settings` gets the web defaults."""
        if isinstance(settings, cls):
            return settings
        values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)}
        return cls(**values)


def documented_settings() -> list[tuple[str, str, object, str]]:
    """``(name, env, default, help)`` for every setting, the library's then the web's."""
    return [
        (f.name, f.metadata["env"], f.default, f.metadata["help"])
        for f in dataclasses.fields(WebSettings)
    ]
