"""Web settings: what only the Flask shell reads, on top of the library's settings.

:class:`WebSettings` extends :class:`geo.settings.Settings` with the Flask secret and session
flags, the embed allow-list, basemaps and map notices, the public API's bounds, the rate
limits and the planner pages' folders and jobs. It is built the same documented way
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
        "Largest file (MB) the planner pages accept as demand or candidate upload.",
        "YIZHAN_PLANNER_MAX_UPLOAD_MB",
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
