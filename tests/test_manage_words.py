"""No English inside Chinese ``/manage/`` pages (issue 15, wave 3 WORDS): validator reasons
(:class:`geo.records.issues.RowIssue` ``code`` + ``params`` and the catalogue's
``reason.<code>``), conflicts (from :class:`geo.errors.Conflict` details, on every route and
in the blueprint's error handler), the strict-upload refusal; the English page says the same
in English. Also: a yes/no setting with a typo refuses to start.

On SQLite and PostgreSQL, through the real login form of a real app; the registry is a real
CSV read by the same code as ``yizhan import``.
"""

from __future__ import annotations

import ast
import csv
import html as html_lib
import io
import re
import string
from pathlib import Path

import pytest
import sqlalchemy as sa

import support
from geo.errors import ValidationError
from geo.models import Station
from geo.settings import Settings
from geo.store.changes import ChangeStore
from webapp import planner_text

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RONGSHUI, LIUZHOU = "450225", "450200"
USERS = {
    "root": ("admin", ()),
    "rs_ed": ("editor", (RONGSHUI,)),
    "lz_rev": ("reviewer", (LIUZHOU,)),
}
HEADER = ["编号", "名称", "类型", "县区", "县区代码", "经度", "纬度", "状态"]
RS = ("融水苗族自治县", RONGSHUI)
KIND = "工会爱心驿站"
VALIDATE = Path(__file__).resolve().parents[1] / "geo" / "records" / "validate.py"
#: An English sentence: three or more English words in a row (codes and ids are single words).
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;:'()-]+[A-Za-z]{2,}){2,}")


def _station(id_: str, **kw) -> Station:
    base = dict(
        id=id_,
        name=f"词语站{id_}",
        kind="rest_stop",
        lon=109.256,
        lat=25.066,
        province_code="450000",
        prefecture_code=LIUZHOU,
        county_code=RONGSHUI,
        county="融水苗族自治县",
        phone="0772-5123456",
    )
    base.update(kw)
    return Station(**base)


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manage_words")
    settings = {"instance_path": str(tmp / "instance"), "approval": False}
    with support.workspace(request, tmp, USERS, PASSWORD, **settings) as env:
        yield env


@pytest.fixture
def repo(env):
    repo = env["repo"]
    with repo.engine.begin() as conn:
        for table in ("station_changes", "station_versions", "stations"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    repo.save([_station("W1"), _station("W2", lon=109.30, lat=25.10)], actor="setup")
    return repo


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def element_text(page: str, element_id: str) -> str:
    """The text inside the element with ``element_id`` (tags dropped, entities unescaped)."""
    start = page.index(f'id="{element_id}"')
    start = page.index(">", start) + 1
    tag = re.match(r".*<(\w+)[^<]*$", page[: page.index(f'id="{element_id}"')], re.S)
    assert tag is not None
    end = page.index(f"</{tag.group(1)}>", start)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page[start:end]))


def assert_no_english(text: str) -> None:
    assert not ENGLISH.search(text), f"English inside a Chinese page: {text!r}"
    assert re.search(r"[\u4e00-\u9fff]", text), text


# -- the catalogue covers every reason ------------------------------------------------------
def _literals(expr: ast.expr) -> list[str]:
    """The strings a code expression can be: a literal, or either side of ``a if c else b``."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.IfExp):
        return _literals(expr.body) + _literals(expr.orelse)
    return []


def _codes_in_validate() -> dict[str, set[str]]:
    """Every reason code validate.py can give, with the params it passes (AST walk): the
    ``code=`` of each ``check.reject/warn`` and ``RowIssue`` call (string constants, also in
    a conditional), and the codes :func:`_unknown_term` builds from its ``what``."""
    tree = ast.parse(VALIDATE.read_text(encoding="utf-8"))
    # the two helpers that pass a code on (RowCheck._issue, _unknown_term) are not sites
    helpers = {"_issue", "_unknown_term"}
    skipped = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and f.name in helpers
        for n in ast.walk(f)
    }
    codes: dict[str, set[str]] = {}
    calls = 0
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "_unknown_term":
            what = node.args[2]
            assert isinstance(what, ast.Constant)
            codes[f"{what.value}_unknown"] = {"value"}
            codes[f"{what.value}_unknown_hint"] = {"value", "suggestion"}
            continue
        if name not in ("reject", "warn", "RowIssue"):
            continue
        calls += 1
        kw = {k.arg: k.value for k in node.keywords}
        assert "code" in kw, f"line {node.lineno}: a reason without a code"
        params = {k for k in kw if k not in ("code", "params", None)}
        if isinstance(kw.get("params"), ast.Dict):
            params |= {k.value for k in kw["params"].keys if isinstance(k, ast.Constant)}
        found = _literals(kw["code"])
        assert found, f"line {node.lineno}: the code must be a string literal"
        for code in found:
            codes.setdefault(code, set()).update(params)
    assert calls >= 30  # every reject / warn / RowIssue site
    return codes


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_reason_code_has_zh_and_en_with_the_same_placeholders():
    codes = _codes_in_validate()
    codes["id_exists"] = {"id"}  # geo.workspace.submit
    for code, params in sorted(codes.items()):
        key = f"reason.{code}"
        assert key in planner_text.MESSAGES, f"{key} has no translation"
        zh, en = planner_text.MESSAGES[key]
        assert _placeholders(zh) == _placeholders(en), key
        assert _placeholders(zh) <= params, f"{key}: placeholders not given by validate.py"
        assert re.search(r"[\u4e00-\u9fff]", zh), key
        filled = {p: "X" for p in params}
        assert planner_text.text(key, "zh", **filled)
        assert planner_text.text(key, "en", **filled)


# -- station form ------------------------------------------------------------------------
def test_station_form_reasons_in_the_pages_language(env, repo):
    client = login(env, "rs_ed")
    form = {"csrf_token": client.csrf, "base_version": "1", "kind": "飞机场", "lon": "abc"}
    rv = client.post("/manage/stations/W1", data=form)
    assert rv.status_code == 400
    page = rv.get_data(as_text=True)
    kind, lon = element_text(page, "ms-err-kind"), element_text(page, "ms-err-lon")
    assert "未知的类型" in kind and "飞机场" in kind
    assert "经度不是数字" in lon
    for text in (kind, lon):
        assert_no_english(text)
    rv = client.post("/manage/stations/W1?lang=en", data=form)
    page = rv.get_data(as_text=True)
    assert "unknown kind" in element_text(page, "ms-err-kind")
    assert "longitude is not a number" in element_text(page, "ms-err-lon")
    # the JSON twin keeps the library's messages, and the issues' codes
    doc = client.post("/manage/stations/W1?format=json", data=form).get_json()
    assert "longitude is not a number" in doc["errors"]["lon"]


# -- upload: rejected rows, the report, the strict refusal ----------------------------------
def _csv(env, rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _upload(client, data: bytes):
    return client.post(
        "/manage/upload?format=json",
        data={
            "registry": (io.BytesIO(data), "r.csv"),
            "reason": "年度更新",
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )


UPLOAD_ROWS = [
    ["W-NEW", "新建词语站", KIND, *RS, "109.2300", "25.0500", "运营中"],
    ["W-BAD", "坏行词语站", KIND, *RS, "abc", "25.0500", "运营中"],
]


def test_upload_preview_and_report_reasons_in_the_pages_language(env, repo):
    client = login(env, "rs_ed")
    body = _upload(client, _csv(env, UPLOAD_ROWS)).get_json()
    (bad,) = [r for r in body["items"] if r["kind"] == "rejected"]
    assert bad["reason"] == "longitude is not a number"  # the CLI's text stays
    assert bad["code"] == "lon_not_number" and bad["reason_text"] == "经度不是数字"
    page = client.get(body["urls"]["page"]).get_data(as_text=True)
    assert "经度不是数字" in page and "longitude is not a number" not in page
    english = client.get(body["urls"]["page"] + "?lang=en").get_data(as_text=True)
    assert "longitude is not a number" in english
    client.get(body["urls"]["page"] + "?lang=zh")
    report = client.get(body["urls"]["report_csv"]).get_data().decode("utf-8-sig")
    assert "经度不是数字" in report and "longitude is not a number" not in report


def test_strict_refusal_in_the_pages_language(env, repo):
    client = login(env, "rs_ed")
    body = _upload(client, _csv(env, UPLOAD_ROWS)).get_json()
    form = {"csrf_token": client.csrf, "strict": "1"}
    rv = client.post(body["urls"]["commit"], data=form)
    assert rv.status_code == 422
    refusal = element_text(rv.get_data(as_text=True), "mg-error")
    assert "严格模式" in refusal and "1 行被拒绝" in refusal and "0 行" in refusal
    assert_no_english(refusal)
    doc = client.post(body["urls"]["commit"] + "?format=json", data=form).get_json()
    assert doc["error"]["code"] == "import_refused" and "严格模式" in doc["error"]["message"]
    rv = client.post(body["urls"]["commit"] + "?lang=en", data=form)
    assert "Strict mode: 1 rows rejected" in element_text(rv.get_data(as_text=True), "mg-error")
    assert repo.get("W-NEW") is None


# -- conflicts ---------------------------------------------------------------------------
def test_upload_conflict_in_the_pages_language(env, repo):
    client = login(env, "rs_ed")
    rows = [["W1", "改名词语站", KIND, *RS, "109.256", "25.066", "运营中"]]
    body = _upload(client, _csv(env, rows)).get_json()
    other = repo.get("W1")
    other.phone = "12351"
    repo.save([other], actor="root", source="web", reason="电话")
    rv = client.post(body["urls"]["commit"], data={"csrf_token": client.csrf})
    assert rv.status_code == 409
    refusal = element_text(rv.get_data(as_text=True), "mg-error")
    assert "W1" in refusal and "已被修改" in refusal and "root" in refusal
    assert_no_english(refusal)
    doc = client.post(
        body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf}
    ).get_json()
    assert doc["error"]["code"] == "conflict" and doc["error"]["station_id"] == "W1"
    assert "已被修改" in doc["error"]["message"]
    rv = client.post(body["urls"]["commit"] + "?lang=en", data={"csrf_token": client.csrf})
    assert "changed since version 1" in element_text(rv.get_data(as_text=True), "mg-error")


def test_approving_a_decided_change_in_the_pages_language(env, repo):
    change = ChangeStore(repo).propose(
        "edit", _station("W2", phone="9"), base_version=1, author="rs_ed"
    )
    reviewer = login(env, "lz_rev")
    url = f"/manage/changes/{change.id}/approve"
    assert reviewer.post(url, data={"csrf_token": reviewer.csrf}).status_code == 303
    rv = reviewer.post(url, data={"csrf_token": reviewer.csrf})
    assert rv.status_code == 409
    refusal = element_text(rv.get_data(as_text=True), "mg-error")
    assert f"#{change.id}" in refusal and "已批准" in refusal
    assert_no_english(refusal)


def test_an_uncaught_conflict_on_any_manage_route_is_a_409_in_the_pages_language(
    env, repo, monkeypatch
):
    """A Conflict a route does not catch (here from the user store under /manage/users, a
    route with no conflict handling of its own) answers with the blueprint's handler: 409,
    the conflict in the page's language; JSON keeps the dict."""
    from geo.store.history import conflict
    from geo.store.users import UserRepository

    repo.save([_station("W1", phone="1")], actor="root", source="web", reason="x")
    with repo.engine.connect() as conn:
        exc = conflict(conn, "W1", 1, 2)

    def create(*args, **kwargs):
        raise exc

    monkeypatch.setattr(UserRepository, "create", create)
    client = login(env, "root")
    form = {
        "csrf_token": client.csrf,
        "name": "newbie",
        "password": "pw-123456789",
        "role": "staff",
    }
    rv = client.post("/manage/users", data=form)
    assert rv.status_code == 409
    page = rv.get_data(as_text=True)
    assert "已被修改" in page and "changed since" not in page
    rv = client.post("/manage/users?format=json", data=form)
    error = rv.get_json()["error"]
    assert rv.status_code == 409 and error["code"] == "conflict"
    assert error["current_version"] == 2 and "已被修改" in error["message"]
    rv = client.post("/manage/users?lang=en", data=form)
    assert "changed since version 1" in rv.get_data(as_text=True)


# -- yes/no settings ---------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["flase", "of", "ture", "2", "enabled"])
def test_a_yes_no_setting_with_a_typo_refuses_to_start(raw):
    with pytest.raises(ValidationError) as info:
        Settings.from_env({"YIZHAN_APPROVAL": raw})
    message = info.value.message
    assert "YIZHAN_APPROVAL" in message and raw in message
    for word in ("1/0", "true/false", "yes/no", "on/off"):
        assert word in message


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        *[("1", True), ("TRUE", True), ("Yes", True), ("on", True)],
        *[("0", False), ("False", False), ("NO", False), ("off", False)],
    ],
)
def test_a_yes_no_setting_accepts_the_usual_spellings(raw, value):
    assert Settings.from_env({"YIZHAN_APPROVAL": raw}).approval is value


@pytest.mark.parametrize("raw", ["", " ", "\t"])
def test_a_blank_yes_no_setting_is_its_default_not_off(raw):
    """``YIZHAN_APPROVAL=`` (an env file line, or ``${VAR}`` of an unset host variable) is
    unset: approval stays on (its default) and editors' changes still wait. Before, blank
    meant off and editors published directly."""
    from webapp.settings import WebSettings

    assert Settings.from_env({"YIZHAN_APPROVAL": raw}).approval is True
    assert Settings.from_env({"YIZHAN_DEMAND_SIGNALS": raw}).demand_signals is True
    web = WebSettings.from_env({"YIZHAN_APPROVAL": raw, "YIZHAN_SESSION_SECURE": raw})
    assert web.approval is True
    assert web.session_secure is WebSettings().session_secure


def test_a_fields_warning_is_shown_with_its_own_text_not_its_rejections(env):
    """A field with a rejection and a warning: each message keeps its own reason (the
    warning used to be rendered from the rejection's issue)."""
    from geo.records.issues import RowIssue
    from geo.workspace import SubmitResult
    from webapp.manage.stations import _said

    rejected = RowIssue(1, "hours", "bad", "x", code="id_exists", params={"id": "A1"})
    warned = RowIssue(1, "hours", "odd", "x", code="duplicate_id", params={"line": "7"})
    result = SubmitResult("edit", errors={"hours": "bad"}, warnings={"hours": "odd"})
    result.issues["hours"] = rejected
    result.warning_issues["hours"] = warned
    with env["app"].test_request_context("/manage/stations/A1"):
        errors = _said(result.issues, result.errors)
        warnings = _said(result.warning_issues, result.warnings)
    assert errors["hours"].endswith(planner_text.reason_text(rejected, "zh"))
    assert warnings["hours"].endswith(planner_text.reason_text(warned, "zh"))
    assert "A1" in errors["hours"] and "7" in warnings["hours"] and "A1" not in warnings["hours"]
