"""Attacks on sessions and access: other users' scenarios, server paths in answers, replayed
cookies, cached pages, the debug server, and spoofed or shared client addresses.

Every test runs the real app on a real SQLite file (migrated by Alembic like ``yizhan
init-db``), logs in through the real login form, and where the issue names the CLI, runs the
real ``yizhan`` in a subprocess. A new planner page or JSON twin gets the same checks by adding
its URL to :data:`PAGES` / :data:`SCENARIO_PAGES`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

import support
from geo.store import ScenarioRepository, StationRepository, UserRepository
from geo.store.users import hash_password
from support import ROOT, close_app
from webapp.services import services

PASSWORD = "correct horse battery"
#: Planner pages of a logged-in user (each also as its JSON twin).
PAGES = ("/planner/", "/planner/scenarios", "/planner/logout")
#: Pages of one scenario ("{a}", "{b}": two scenario ids).
SCENARIO_PAGES = (
    "/planner/scenarios/{a}",
    "/planner/scenarios/compare?a={a}&b={b}",
    "/planner/scenarios/compare?a={b}&b={a}",
    "/planner/scenarios/{a}/share",
)
#: Absolute paths in any answer: POSIX folders, Windows drives, UNC shares.
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/(?:tmp|srv|home|var|opt|root|work|usr)/|[A-Za-z]:\\)")


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    """The module's database (SQLite, then PostgreSQL) with two users."""
    tmp = tmp_path_factory.mktemp("access")
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        users = UserRepository(repo.engine)
        for name in ("alice", "bob"):
            users.create(name, PASSWORD)
        yield {"tmp": tmp, "url": url, "repo": repo, "users": users}
        repo.engine.dispose()


def make_app(env, **settings):
    settings.setdefault("login_rate_per_minute", 1000)
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


def login(client, name="alice", password=PASSWORD, **environ):
    rv = client.post(
        "/planner/login?format=json",
        data={"name": name, "password": password, "csrf_token": token(client)},
        **environ,
    )
    client.csrf = (rv.get_json() or {}).get("csrf_token")
    return rv


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app, cookie: str):
    """A fresh client (another browser) presenting a saved session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/planner/?format=json")


# -- 10: scenarios are scoped like jobs; no server paths --------------------------------------


@pytest.fixture(scope="module")
def scenarios(env):
    """Two scenarios of alice whose parameters name uploads in her job folder, as a planner
    save stores them; and one without an owner (saved before owners existed / by the CLI)."""
    upload = env["tmp"] / "jobs" / "AliceJob123" / "inputs" / "candidates-secret-sites.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("name,lon,lat\n秘密候选点,109.2,25.1\n", encoding="utf-8")
    repo = env["repo"]
    store = ScenarioRepository(repo.engine, repo.revision)
    params = {"kind": "legal_aid", "region": "450225", "add": 1, "candidates": str(upload)}
    result = {
        "sites": ["秘密候选点"],
        "gains": [3.0],
        "share_before": 0.5,
        "share_after": 0.6,
        "messages": [f"candidates from {upload}"],
    }
    a = store.save("alice A", params, result, repo.revision(), owner="alice")
    b = store.save("alice B", params, result, repo.revision(), owner="alice")
    legacy = store.save("legacy", params, result, repo.revision())
    return {"a": a.id, "b": b.id, "legacy": legacy.id, "upload": upload, "store": store}


def test_other_users_cannot_list_view_compare_or_rerun_a_scenario(app, env, scenarios):
    bob = app.test_client()
    assert login(bob, "bob").status_code == 200
    listing = bob.get("/planner/scenarios?format=json").get_json()["scenarios"]
    assert listing == []
    page = bob.get("/planner/scenarios").get_data(as_text=True)
    assert "alice A" not in page and "秘密候选点" not in page
    jobs = services(app).jobs.root
    before = set(jobs.iterdir()) if jobs.exists() else set()
    for sid in (scenarios["a"], scenarios["legacy"], "no-such-scenario"):
        for template in SCENARIO_PAGES:
            url = template.format(a=sid, b=scenarios["b"])
            for rv in (bob.get(url), bob.get(url, headers={"Accept": "application/json"})):
                assert rv.status_code == 404, url  # not 403: existence is not revealed
                assert "秘密候选点" not in rv.get_data(as_text=True)
        for url in (f"/planner/scenarios/{sid}", f"/planner/scenarios/{sid}/share"):
            rv = bob.post(url + "?format=json", data={"csrf_token": bob.csrf, "shared": "1"})
            assert rv.status_code == 404, url
    # The answers for someone else's scenario and for none at all are the same.
    other = bob.get(f"/planner/scenarios/{scenarios['a']}?format=json").get_json()
    missing = bob.get("/planner/scenarios/no-such-scenario?format=json").get_json()
    assert other["error"]["code"] == missing["error"]["code"]
    assert (set(jobs.iterdir()) if jobs.exists() else set()) == before  # nothing re-ran
    assert scenarios["store"].get(scenarios["a"]).shared is False


def test_owner_sees_own_scenarios_without_server_paths(app, env, scenarios):
    alice = app.test_client()
    login(alice)
    listing = alice.get("/planner/scenarios?format=json").get_json()["scenarios"]
    assert [s["id"] for s in listing] == [scenarios["a"], scenarios["b"]]  # not the legacy one
    assert alice.get(f"/planner/scenarios/{scenarios['legacy']}").status_code == 404
    folders = [str(env["tmp"]), str(scenarios["upload"].parent)]
    for template in ("/planner/scenarios", *SCENARIO_PAGES):
        url = template.format(a=scenarios["a"], b=scenarios["b"])
        for rv in (alice.get(url), alice.get(url, headers={"Accept": "application/json"})):
            assert rv.status_code in (200, 303), url
            text = rv.get_data(as_text=True)
            assert not any(f in text for f in folders), (url, text)
            assert not ABSOLUTE_PATH.search(text), (url, text)
    doc = alice.get(f"/planner/scenarios/{scenarios['a']}?format=json").get_json()["scenario"]
    assert doc["params"]["candidates"] == scenarios["upload"].name  # the file name stays
    assert doc["result"]["messages"] == [f"candidates from {scenarios['upload'].name}"]
    assert doc["owner"] == "alice" and doc["mine"] is True
    # The stored parameters keep the path: the owner's re-run reads the file.
    assert scenarios["store"].get(scenarios["a"]).params["candidates"] == str(scenarios["upload"])


def test_sharing_is_explicit_read_only_and_needs_csrf(app, env, scenarios):
    alice, bob = app.test_client(), app.test_client()
    login(alice)
    login(bob, "bob")
    url = f"/planner/scenarios/{scenarios['b']}/share?format=json"
    assert alice.post(url, data={"shared": "1"}).status_code == 400  # no CSRF token
    assert bob.get(f"/planner/scenarios/{scenarios['b']}").status_code == 404
    rv = alice.post(url, data={"shared": "1", "csrf_token": alice.csrf})
    assert rv.status_code == 200 and rv.get_json()["scenario"]["shared"] is True
    try:
        listing = bob.get("/planner/scenarios?format=json").get_json()["scenarios"]
        assert [(s["id"], s["mine"]) for s in listing] == [(scenarios["b"], False)]
        page = bob.get(f"/planner/scenarios/{scenarios['b']}").get_data(as_text=True)
        # the owner's name is data (<bdi translate="no">): compare the text without tags
        assert "由 alice 共享" in re.sub(r"<[^>]+>", "", page) and "pl-rerun" not in page
        assert "pl-share-scenario" not in page
        own = alice.get(f"/planner/scenarios/{scenarios['b']}").get_data(as_text=True)
        assert "pl-rerun" in own and 'id="pl-share-scenario"' in own and "取消共享" in own
        doc = bob.get(f"/planner/scenarios/{scenarios['b']}?format=json").get_json()
        assert doc["scenario"]["owner"] == "alice"
        assert not ABSOLUTE_PATH.search(json.dumps(doc, ensure_ascii=False))
        cmp_ = f"/planner/scenarios/compare?a={scenarios['b']}&b={scenarios['b']}&format=json"
        assert bob.get(cmp_).status_code == 200
        # Compare with an unshared scenario of alice: still 404.
        cmp_a = f"/planner/scenarios/compare?a={scenarios['b']}&b={scenarios['a']}&format=json"
        assert bob.get(cmp_a).status_code == 404
        # Read-only: bob can neither re-run it nor change its sharing.
        rerun = bob.post(
            f"/planner/scenarios/{scenarios['b']}?format=json", data={"csrf_token": bob.csrf}
        )
        assert rerun.status_code == 403
        unshare = bob.post(url, data={"shared": "0", "csrf_token": bob.csrf})
        assert unshare.status_code == 403
        assert scenarios["store"].get(scenarios["b"]).shared is True
    finally:
        rv = alice.post(url, data={"shared": "0", "csrf_token": alice.csrf})
        assert rv.get_json()["scenario"]["shared"] is False
    assert bob.get(f"/planner/scenarios/{scenarios['b']}").status_code == 404


def test_cli_reads_every_scenario_and_adopt_gives_one_to_a_user(env, scenarios):
    cli_env = {**os.environ, "YIZHAN_DATABASE_URL": env["url"]}
    listed = support.cli("scenario", "list", env=cli_env).stdout
    assert all(scenarios[k] in listed for k in ("a", "b", "legacy"))
    shown = json.loads(support.cli("scenario", "show", scenarios["legacy"], env=cli_env).stdout)
    assert shown["name"] == "legacy"
    bad = support.cli("user", "adopt", "nobody", scenarios["legacy"], env=cli_env, check=False)
    assert bad.returncode == 1 and "no user" in bad.stderr
    support.cli("user", "adopt", "bob", scenarios["legacy"], env=cli_env)
    try:
        assert scenarios["store"].get(scenarios["legacy"], viewer="bob").owner == "bob"
    finally:
        scenarios["store"].set_owner(scenarios["legacy"], None)


def test_migration_0004_keeps_scenarios_and_users(tmp_path):
    """A database at 0003 with a scenario and a user upgrades in place: the scenario has no
    owner (shown to nobody in the pages), the user keeps their password, version 0."""
    from alembic import command
    from alembic.config import Config

    from geo.store.repository import MIGRATIONS

    repo = StationRepository.from_url(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with repo.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(
            sa.text(
                "INSERT INTO scenarios (id, name, params, created_at) "
                "VALUES ('old1', 'old', '{}', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO users (name, password_hash, disabled, created_at) "
                "VALUES ('old', :h, 0, '2026-01-01 00:00:00')"
            ),
            {"h": hash_password(PASSWORD)},
        )
    assert repo.init_schema() >= "0004"  # upgraded through 0004 (to the head)
    store = ScenarioRepository(repo.engine)
    old = store.get("old1")
    assert old.owner is None and old.shared is False
    assert store.all(viewer="old") == [] and [s.id for s in store.all()] == ["old1"]
    users = UserRepository(repo.engine)
    assert users.verify("old", PASSWORD).session_version == 0
    with repo.engine.begin() as conn:  # and back down, and up again
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert "owner" not in {c["name"] for c in sa.inspect(repo.engine).get_columns("scenarios")}
    assert repo.init_schema() >= "0004"  # upgraded through 0004 (to the head)
    repo.engine.dispose()


# -- 11: sessions end on the server -----------------------------------------------------------


def test_saved_cookie_is_refused_after_logout(app):
    c = app.test_client()
    assert login(c).status_code == 200
    saved = session_cookie(c)
    assert replay(app, saved).status_code == 200  # the copy works while logged in
    assert c.post("/planner/logout?format=json", data={"csrf_token": c.csrf}).status_code == 200
    rv = replay(app, saved)
    assert rv.status_code == 401 and rv.get_json()["error"]["code"] == "unauthorized"
    assert replay(app, saved).status_code == 401  # stays refused
    assert login(c).status_code == 200  # a new login works
    assert c.get("/planner/?format=json").status_code == 200


@pytest.mark.slow
def test_saved_cookie_is_refused_after_cli_passwd_disable_and_logout(app, env):
    cli_env = {**os.environ, "YIZHAN_DATABASE_URL": env["url"]}
    env["users"].create("carol", PASSWORD)

    def run(*args, stdin=None):
        proc = subprocess.run(
            [sys.executable, "-m", "webapp.cli", "user", *args],
            cwd=ROOT,
            env=cli_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr

    c = app.test_client()
    login(c, "carol")
    saved = session_cookie(c)
    run("passwd", "carol", "--password-stdin", stdin="a brand new secret\n")
    assert replay(app, saved).status_code == 401
    assert c.get("/planner/?format=json").status_code == 401  # the browser itself too

    login(c, "carol", "a brand new secret")
    saved = session_cookie(c)
    assert replay(app, saved).status_code == 200
    run("passwd", "carol", "--disable")
    assert replay(app, saved).status_code == 401
    run("passwd", "carol", "--enable")
    assert replay(app, saved).status_code == 401  # enabling again does not revive it

    login(c, "carol", "a brand new secret")
    saved = session_cookie(c)
    run("logout", "carol")
    assert replay(app, saved).status_code == 401


def test_session_without_version_or_with_a_forged_one_is_refused(app, env):
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    version = env["users"].get("alice").session_version
    for doc in (
        {"user": "alice"},
        {"user": "alice", "ver": version + 1},
        {"user": "alice", "ver": str(version)},
        {"user": "alice", "ver": True},
    ):
        assert replay(app, serializer.dumps(doc)).status_code == 401, doc
    assert replay(app, serializer.dumps({"user": "alice", "ver": version})).status_code == 200


# -- 12: caching, the debug server, proxies ---------------------------------------------------


def test_planner_answers_are_never_cached(app, scenarios):
    anonymous = app.test_client()
    for url in ("/planner/login", "/planner/login?format=json", "/planner/", "/planner/logout"):
        assert anonymous.get(url).headers["Cache-Control"] == "no-store", url
    c = app.test_client()
    rv = login(c)
    assert rv.headers["Cache-Control"] == "no-store"
    urls = [*PAGES, *(t.format(a=scenarios["a"], b=scenarios["b"]) for t in SCENARIO_PAGES)]
    for url in [*urls, "/planner/scenarios/none", "/planner/coverage/none"]:
        for rv in (c.get(url), c.get(url, headers={"Accept": "application/json"})):
            assert rv.headers["Cache-Control"] == "no-store", url
            assert "Cookie" in rv.headers.get("Vary", ""), url
    # The public map stays cacheable: the rule is the planner's.
    assert "no-store" not in (c.get("/api/kinds").headers.get("Cache-Control") or "")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org", "[::]"])
def test_serve_debug_refuses_a_non_loopback_host(tmp_path, host):
    env = {**os.environ, "YIZHAN_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    proc = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "serve", "--debug", "--host", host, "--port", "9"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--debug" in proc.stderr and host in proc.stderr
    assert "serving" not in proc.stdout


def test_serve_debug_accepts_loopback_hosts(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from flask import Flask

    from webapp.cli import main

    started = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: started.append(kw))
    database = f"sqlite:///{tmp_path / 'd.db'}"
    for host in ("127.0.0.1", "::1", "localhost", "[::1]"):
        result = CliRunner().invoke(
            main, ["--database", database, "serve", "--debug", "--host", host, "--port", "5999"]
        )
        assert result.exit_code == 0, result.output
    assert [kw["host"] for kw in started] == ["127.0.0.1", "::1", "localhost", "[::1]"]
    assert all(kw["debug"] for kw in started)


def forwarded(ip: str) -> dict:
    return {"headers": {"X-Forwarded-For": ip}, "environ_base": {"REMOTE_ADDR": "127.0.0.1"}}


def with_probe(application):
    """Add ``/_probe``: the client address, scheme and host the app sees."""
    from flask import request

    application.add_url_rule(
        "/_probe",
        "probe",
        lambda: {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host},
    )
    return application.test_client()


PROXY_HEADERS = {
    "X-Forwarded-For": "198.51.100.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "yizhan.example.org",
}


def test_behind_a_trusted_proxy_clients_get_their_own_limit_buckets(env):
    application = make_app(env, trusted_proxies=1, login_rate_per_minute=2)
    try:
        one, two = application.test_client(), application.test_client()
        codes = [
            login(one, password="wrong password!", **forwarded("203.0.113.7")).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 429]
        # Another client behind the same proxy is not throttled by the first one.
        assert login(two, **forwarded("198.51.100.2")).status_code == 200
    finally:
        close_app(application)
    # The client's address, scheme and host come through (nginx's proxy_set_header lines).
    probe = with_probe(make_app(env, trusted_proxies=1))
    seen = probe.get("/_probe", headers=PROXY_HEADERS).get_json()
    assert seen == {"addr": "198.51.100.9", "scheme": "https", "host": "yizhan.example.org"}
    # Only the last hop is trusted: a value the client put in front is not taken.
    spoofed = {**PROXY_HEADERS, "X-Forwarded-For": "1.2.3.4, 198.51.100.9"}
    assert probe.get("/_probe", headers=spoofed).get_json()["addr"] == "198.51.100.9"
    services(probe.application).repo.engine.dispose()

    geo_app = make_app(env, trusted_proxies=1, geocode_rate_per_minute=2)
    try:
        c = geo_app.test_client()

        def geocode(ip):
            return c.get("/api/geocode", query_string={"q": "柳州"}, **forwarded(ip)).status_code

        assert [geocode("203.0.113.7") for _ in range(3)][-1] == 429
        assert geocode("198.51.100.2") != 429
    finally:
        close_app(geo_app)


def test_without_trusted_proxies_forwarded_for_is_ignored(env):
    application = make_app(env, login_rate_per_minute=2)
    try:
        c = application.test_client()
        codes = [
            login(c, password="wrong password!", **forwarded(f"203.0.113.{i}")).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 429]  # a new X-Forwarded-For each time does not help
    finally:
        close_app(application)
    probe = with_probe(make_app(env))
    seen = probe.get("/_probe", headers=PROXY_HEADERS).get_json()
    assert seen == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost"}
    services(probe.application).repo.engine.dispose()
    geo_app = make_app(env, geocode_rate_per_minute=2)
    try:
        c = geo_app.test_client()
        query = {"q": "柳州"}
        codes = [
            c.get("/api/geocode", query_string=query, **forwarded(f"10.0.0.{i}")).status_code
            for i in range(3)
        ]
        assert codes[-1] == 429
    finally:
        close_app(geo_app)


def test_trusted_proxies_setting_is_read_from_the_environment(env):
    application = support.make_app(
        env["url"], {"YIZHAN_TRUSTED_PROXIES": "2"}, planner_dir=str(env["tmp"] / "jobs2")
    )
    try:
        assert services(application).settings.trusted_proxies == 2
        seen = application.test_client().get(
            "/planner/login?format=json",
            headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.1, 10.0.0.1"},
        )
        assert seen.status_code == 200
        assert application.wsgi_app.x_for == 2  # type: ignore[attr-defined]
    finally:
        close_app(application)
