"""Library settings: typed, documented, read from ``YIZHAN_*`` environment variables.

Every setting has a type, a default and a help text; ``README.md`` documents each one (a test
checks it). Library functions take explicit arguments; these settings only supply the
defaults used by the CLI, notebooks and the web app: the database, data folders, geocoding
providers and keys, the taxonomy extras, partitioned runs. Settings of the web shell only
(Flask secret, session, embed origins, basemaps, API bounds, rate limits, planner pages) are
:class:`webapp.settings.WebSettings`, which extends these and is built the same way.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from geo.errors import ValidationError

if TYPE_CHECKING:
    from geo.liuyou import LiuyouRules

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"


def setting(default, help: str, env: str):
    """A settings field: its default, help text and ``YIZHAN_*`` environment variable."""
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class Settings:
    """The library's settings of a Yizhan deployment (see each field's ``help`` metadata)."""

    instance_path: Path = setting(
        Path("instance"),
        "Folder for the embedded database and caches; created on first use.",
        "YIZHAN_INSTANCE_PATH",
    )
    database_url: str | None = setting(
        None,
        "SQLAlchemy database URL. Default: a SQLite file `yizhan.db` in the instance folder.",
        "YIZHAN_DATABASE_URL",
    )
    default_crs: str = setting(
        "wgs84",
        "Coordinate system assumed for imported coordinates that do not declare one "
        "(wgs84, gcj02 or bd09).",
        "YIZHAN_DEFAULT_CRS",
    )
    duplicate_radius_m: float = setting(
        50.0,
        "Two records with the same name closer than this (metres) are duplicates.",
        "YIZHAN_DUPLICATE_RADIUS_M",
    )
    extra_kinds: str = setting(
        "",
        "Extra station kinds, `code:中文名:English name` separated by `;`.",
        "YIZHAN_EXTRA_KINDS",
    )
    extra_services: str = setting(
        "",
        "Extra services, same syntax as YIZHAN_EXTRA_KINDS.",
        "YIZHAN_EXTRA_SERVICES",
    )
    geocoders: str = setting(
        "offline",
        "Geocoding providers tried in order, comma-separated: offline, amap, tianditu, "
        "nominatim. Online ones need their key/URL below.",
        "YIZHAN_GEOCODERS",
    )
    geocode_good_enough: str = setting(
        "street",
        "Stop trying further providers once a result is at least this precise "
        "(exact, street, village, township, county).",
        "YIZHAN_GEOCODE_GOOD_ENOUGH",
    )
    geocode_timeout_s: float = setting(
        5.0,
        "Timeout of one request to an online geocoder (seconds).",
        "YIZHAN_GEOCODE_TIMEOUT_S",
    )
    geocode_retries: int = setting(
        2,
        "Retries (with backoff) of an online geocoder after a timeout, 5xx or 429.",
        "YIZHAN_GEOCODE_RETRIES",
    )
    geocode_cache: bool = setting(
        True,
        "Keep geocoding results in a SQLite cache in the instance folder.",
        "YIZHAN_GEOCODE_CACHE",
    )
    amap_key: str = setting("", "Amap (高德) Web Service key.", "YIZHAN_AMAP_KEY")
    amap_url: str = setting(
        "https://restapi.amap.com", "Amap Web Service base URL.", "YIZHAN_AMAP_URL"
    )
    tianditu_key: str = setting("", "Tianditu (天地图) key (tk).", "YIZHAN_TIANDITU_KEY")
    tianditu_url: str = setting(
        "https://api.tianditu.gov.cn", "Tianditu API base URL.", "YIZHAN_TIANDITU_URL"
    )
    nominatim_url: str = setting(
        "https://nominatim.openstreetmap.org",
        "Nominatim base URL (a self-hosted one for bulk use; the public one allows 1 request/s).",
        "YIZHAN_NOMINATIM_URL",
    )
    nominatim_user_agent: str = setting(
        "",
        "User-Agent sent to Nominatim, identifying the deployment (required by its policy), "
        "e.g. `Yizhan (union-it@example.org)`.",
        "YIZHAN_NOMINATIM_USER_AGENT",
    )
    dask_scheduler: str = setting(
        "",
        "Dask scheduler address for partitioned coverage runs (e.g. tcp://10.0.0.5:8786); "
        "empty: a local cluster in this process.",
        "YIZHAN_DASK_SCHEDULER",
    )
    # printed door signs and posters (issue 15 item 9)
    public_url: str = setting(
        "",
        "Public base URL of the site (e.g. https://yizhan.example.org.cn): the QR codes of "
        "printed door signs and posters link to its station pages. Empty: the web app uses "
        "the request's host URL and `yizhan print` needs --base-url.",
        "YIZHAN_PUBLIC_URL",
    )
    # 六有 (issue 15 item 7): the facility taxonomy's extras and what each criterion requires
    extra_facilities: str = setting(
        "",
        "Extra 六有 facilities, same syntax as YIZHAN_EXTRA_KINDS.",
        "YIZHAN_EXTRA_FACILITIES",
    )
    liuyou_rules: str = setting(
        "",
        "What each 六有 criterion requires: a JSON object overriding the defaults of "
        "geo.liuyou.LiuyouRules (name_words, min_precision, required_facilities, "
        "min_services, require_phone).",
        "YIZHAN_LIUYOU_RULES",
    )
    # approval (issue 15 item 5): editors' changes wait for a reviewer of the area
    approval: bool = setting(
        True,
        "Approval of editors' changes: on, a change by an editor (a role without the review "
        "permission) waits in /manage/changes until a reviewer of its area approves it, and "
        "the public map, API, OGC and embed keep showing the approved data; off, edits "
        "publish directly. Reviewers and administrators always publish directly.",
        "YIZHAN_APPROVAL",
    )
    # review queue (issue 15 item 4)
    stale_days: int = setting(
        365,
        "A station not updated for this many days is listed as stale in the review queue.",
        "YIZHAN_STALE_DAYS",
    )
    # township outlines for the review queue (issue 15 item 4, TOWN)
    township_boundaries: Path | None = setting(
        None,
        "Township outlines (GeoJSON, GeoPackage, shapefile …) with a column of 9- or 12-digit "
        "township codes (named township_code, code, 乡镇代码, XZQDM, adcode or gb, or the only "
        "column of such codes) and a stated CRS (converted to WGS-84). When set, the review "
        "queue lists stations whose point lies in another township's outline; read once at "
        "start, a bad file refuses to start. Unset: township positions are not checked.",
        "YIZHAN_TOWNSHIP_BOUNDARIES",
    )
    # demand signals from the public map (issue 15 item 8)
    demand_signals: bool = setting(
        True,
        "Count the public map's demand signals for planners: searches and 'use my location' "
        "by H3 cell (resolution 7, about 5 km²) and day, station-page views and navigation "
        "clicks by station and day. Counts only: no IP, no exact position (README: Privacy). "
        "Off: nothing is recorded and the planner's layer says so.",
        "YIZHAN_DEMAND_SIGNALS",
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
            if not raw.strip() and str(f.type).startswith("bool"):
                # ``VAR=`` (an env file line, ``${VAR}`` of an unset host variable) is unset:
                # the default, never "off" (a blank YIZHAN_APPROVAL must not publish edits).
                continue
            try:
                # A string: this module and its subclasses use postponed annotations.
                values[f.name] = _convert(str(f.type), raw)
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
        from geo.models import register_taxonomy_text

        register_taxonomy_text(self.extra_kinds, self.extra_services)
        from geo.liuyou import register_facilities_text  # 六有 (issue 15 item 7)

        register_facilities_text(self.extra_facilities)
        from geo.gazetteer import use_township_outlines  # township outlines (issue 15 item 4)

        use_township_outlines(self.township_boundaries)

    def liuyou(self) -> LiuyouRules:
        """The configured 六有 rules (:class:`geo.liuyou.LiuyouRules`)."""
        from geo.liuyou import LiuyouRules

        return LiuyouRules.from_text(self.liuyou_rules)


#: The spellings a yes/no setting accepts (case-insensitive); blank is the setting's default
#: (:meth:`Settings.from_env`), never "off": ``YIZHAN_APPROVAL=`` must not publish edits.
BOOL_TRUE = ("1", "true", "yes", "on")
BOOL_FALSE = ("0", "false", "no", "off")


def parse_bool(raw: str) -> bool:
    """A yes/no setting: 1/0, true/false, yes/no, on/off (any case).

    Raises
    ------
    ValueError
        Any other value, blank included (a typo such as ``flase`` must not silently mean
        off; :meth:`Settings.from_env` reads a blank variable as unset).
    """
    text = raw.strip().lower()
    if text in BOOL_TRUE:
        return True
    if text in BOOL_FALSE:
        return False
    accepted = ", ".join(f"{t}/{f}" for t, f in zip(BOOL_TRUE, BOOL_FALSE, strict=True))
    raise ValueError(f"not a yes/no value; use one of {accepted} (case-insensitive)")


def _convert(type_name: str, raw: str):
    if "Path" in type_name:
        return Path(raw)
    if type_name.startswith("int"):
        return int(raw)
    if type_name.startswith("float"):
        return float(raw)
    if type_name.startswith("bool"):
        return parse_bool(raw)
    if type_name.startswith("dict"):
        return json.loads(raw)
    return raw


def documented_settings(
    settings_class: type[Settings] = Settings,
) -> list[tuple[str, str, object, str]]:
    """``(name, env, default, help)`` for every setting of ``settings_class``, in order.

    The library's by default; :func:`webapp.settings.documented_settings` gives both.
    """
    return [
        (f.name, f.metadata["env"], f.default, f.metadata["help"])
        for f in dataclasses.fields(settings_class)
    ]
