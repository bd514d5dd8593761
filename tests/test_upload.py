"""Registry upload through the web (issue 15 item 3): preview classes, commit, cancel,
conflicts and tokens; the library (:mod:`geo.records.preview`) and ``/manage/upload`` on a
real app, on SQLite and PostgreSQL.

The registry is a real CSV read by the same code as ``yizhan import``: stored stations of 融水
(450225) are imported from it first, then an upload with one row of each case is previewed:
new, changed field, unchanged, bad row, outside the area (a 柳江 450206 station) and a change
that moves a 融水 station to 柳江.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

import support
from geo.errors import Conflict, ImportRefused
from geo.gazetteer import default_gazetteer
from geo.records import import_registry
from geo.records.preview import UploadPreview, commit, preview

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RONGSHUI, LIUJIANG = "450225", "450206"
USERS = {
    "root": ("admin", ()),
    "rs_editor": ("editor", (RONGSHUI,)),
    "rs_editor2": ("editor", (RONGSHUI,)),
    "lz_reviewer": ("reviewer", ("450200",)),
}
HEADER = ["编号", "名称", "类型", "县区", "县区代码", "经度", "纬度", "开放时间", "状态"]
KIND, OPEN, HOURS = "工会爱心驿站", "运营中", "每天 08:00-18:00"
RS = ("融水苗族自治县", RONGSHUI)
LJ = ("柳江区", LIUJIANG)
#: Stored before the upload (all in 融水).
SEED = [
    ["RS-1", "融水镇工会驿站一", KIND, *RS, "109.2432", "25.0628", HOURS, OPEN],
    ["RS-2", "融水镇工会驿站二", KIND, *RS, "109.2500", "25.0700", HOURS, OPEN],
    ["RS-3", "融水镇工会驿站三", KIND, *RS, "109.2600", "25.0800", HOURS, OPEN],
]
#: The upload: one row of each case (lines 2..7).
UPLOAD = [
    SEED[0],  # unchanged
    [*SEED[1][:7], "每天 07:00-21:00", OPEN],  # changed: hours
    ["RS-NEW", "融水新建驿站", KIND, *RS, "109.2300", "25.0500", "", OPEN],  # new
    ["RS-BAD", "坏行驿站", KIND, *RS, "abc", "25.0500", "", OPEN],  # rejected
    ["LJ-NEW", "柳江新建驿站", KIND, *LJ, "109.3134", "24.2534", "", OPEN],  # outside
    [*SEED[2][:3], *LJ, "109.3048", "24.2405", HOURS, OPEN],  # moved out of 融水
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("upload")
    # uploads publishing directly; with approval: the last test
    settings = {"instance_path": str(tmp / "instance"), "approval": False}
    with support.workspace(request, tmp, USERS, PASSWORD, **settings) as env:
        yield env


@pytest.fixture
def seeded(env):
    """The stored registry: exactly :data:`SEED`, without older history."""
    repo = env["repo"]
    with repo.transaction() as conn:
        conn.execute(sa.text("DELETE FROM station_versions"))
        conn.execute(sa.text("DELETE FROM stations"))
    import_registry(
        repo,
        write_csv(env["tmp"] / "seed.csv", SEED),
        gazetteer=default_gazetteer(),
        actor="seed",
        source="cli",
    )
    return env


def snapshot(env) -> list:
    with env["repo"].engine.connect() as conn:
        return [
            conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
            for t in ("stations", "station_versions")
        ]


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def upload(client, data: bytes, name: str = "registry.csv", reason: str = "年度更新"):
    return client.post(
        "/manage/upload?format=json",
        data={"registry": (io.BytesIO(data), name), "reason": reason, "csrf_token": client.csrf},
        content_type="multipart/form-data",
    )


def upload_bytes(env) -> bytes:
    return write_csv(env["tmp"] / "upload.csv", UPLOAD).read_bytes()


def classes(items) -> dict[str, str]:
    return {r["id"]: r["kind"] for r in items if r["kind"] != "rejected"}


# -- the library ------------------------------------------------------------------------
def test_preview_classes_every_case(seeded):
    before = snapshot(seeded)
    path = write_csv(seeded["tmp"] / "up.csv", UPLOAD)
    p = preview(seeded["repo"], path, areas=[RONGSHUI], gazetteer=default_gazetteer())
    assert snapshot(seeded) == before  # nothing written
    kinds = {r.id: r.kind for r in p.items if r.kind != "rejected"}
    assert kinds == {
        "RS-1": "unchanged",
        "RS-2": "changed",
        "RS-NEW": "new",
        "LJ-NEW": "outside",
        "RS-3": "outside",
    }
    assert p.counts == {
        "new": 1,
        "changed": 1,
        "unchanged": 1,
        "rejected": 1,
        "outside": 2,
        "warnings": len(p.warnings),
    }
    changed = p.of("changed")[0]
    assert changed.line == 3
    assert changed.changes == {"hours": ["每天 08:00-18:00", "每天 07:00-21:00"]}
    (bad,) = {r.line for r in p.of("rejected")}
    assert bad == 5 and p.of("rejected")[0].field in ("lon", "lat")
    outside = {r.id: r for r in p.of("outside")}
    assert outside["LJ-NEW"].reason == "outside" and outside["LJ-NEW"].line == 6
    assert outside["RS-3"].reason == "moved_out"
    assert outside["RS-3"].changes["county_code"] == [RONGSHUI, LIUJIANG]
    assert set(p.stations) == {"RS-2", "RS-NEW"}
    assert p.expected_versions == {"RS-2": 1, "RS-NEW": 0}
    # the preview survives JSON (how the web keeps it)
    again = UploadPreview.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again.to_dict() == p.to_dict()


def test_preview_by_prefecture_user_sees_no_outside(seeded):
    path = write_csv(seeded["tmp"] / "up.csv", UPLOAD)
    p = preview(seeded["repo"], path, areas=["450200"], gazetteer=default_gazetteer())
    assert p.counts["outside"] == 0 and p.counts["new"] == 2 and p.counts["changed"] == 2


def test_commit_writes_exactly_new_and_changed(seeded):
    repo = seeded["repo"]
    path = write_csv(seeded["tmp"] / "up.csv", UPLOAD)
    p = preview(repo, path, areas=[RONGSHUI], gazetteer=default_gazetteer())
    stored_rs3 = repo.get("RS-3")
    result = commit(repo, p, "rs_editor", "年度更新")
    assert sorted(result.inserted) == ["RS-NEW"] and result.updated == ["RS-2"]
    assert repo.get("LJ-NEW") is None  # outside: never written
    assert repo.get("RS-3") == stored_rs3  # the move out of the area: not written
    assert repo.get("RS-2").hours == "每天 07:00-21:00"
    with repo.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT station_id, actor, source, reason FROM station_versions "
                "WHERE source = 'upload' ORDER BY station_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("RS-2", "rs_editor", "upload", "年度更新"),
        ("RS-NEW", "rs_editor", "upload", "年度更新"),
    ]


def test_strict_commit_refuses_everything(seeded):
    before = snapshot(seeded)
    path = write_csv(seeded["tmp"] / "up.csv", UPLOAD)
    p = preview(seeded["repo"], path, areas=[RONGSHUI], gazetteer=default_gazetteer())
    with pytest.raises(ImportRefused):
        commit(seeded["repo"], p, "rs_editor", "x", strict=True)
    assert snapshot(seeded) == before


def test_change_between_preview_and_commit_refuses_commit(seeded):
    repo = seeded["repo"]
    path = write_csv(seeded["tmp"] / "up.csv", UPLOAD)
    p = preview(repo, path, areas=[RONGSHUI], gazetteer=default_gazetteer())
    other = repo.get("RS-2")
    other.phone = "12351"
    repo.save([other], actor="someone", source="web", reason="电话")
    before = snapshot(seeded)
    with pytest.raises(Conflict) as caught:
        commit(repo, p, "rs_editor", "x")
    assert caught.value.details["station_id"] == "RS-2"
    assert caught.value.details["changes"][0]["actor"] == "someone"
    assert snapshot(seeded) == before
    assert repo.get("RS-NEW") is None


# -- the web ----------------------------------------------------------------------------
def test_web_upload_preview_commit(seeded):
    client = login(seeded, "rs_editor")
    before = snapshot(seeded)
    rv = upload(client, upload_bytes(seeded))
    assert rv.status_code == 201, rv.get_data(as_text=True)
    body = rv.get_json()
    assert snapshot(seeded) == before  # the preview writes nothing
    assert "stations" not in body
    assert classes(body["items"]) == {
        "RS-1": "unchanged",
        "RS-2": "changed",
        "RS-NEW": "new",
        "LJ-NEW": "outside",
        "RS-3": "outside",
    }
    assert body["counts"]["rejected"] == 1
    rejected = [r for r in body["items"] if r["kind"] == "rejected"]
    assert rejected[0]["line"] == 5 and rejected[0]["reason"]
    # the HTML page: counts and tables per class
    html = client.get(body["urls"]["page"]).get_data(as_text=True)
    assert "融水新建驿站" in html and "每天 07:00-21:00" in html and "柳江新建驿站" in html
    assert "此修改会把站点移出您负责的区域" in html
    # the report: one row per changed field, rejection and outside row
    rv = client.get(body["urls"]["report_xlsx"])
    assert rv.status_code == 200
    ws = load_workbook(io.BytesIO(rv.data))["明细"]
    kinds = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert {"新增", "修改", "未变", "拒绝", "区域外"} <= set(kinds)
    rv = client.get(body["urls"]["report_csv"])
    assert rv.data.startswith("\ufeff".encode()) and "区域外" in rv.data.decode("utf-8-sig")
    # commit
    rv = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 200, rv.get_data(as_text=True)
    done = rv.get_json()["committed"]
    assert done["inserted"] == ["RS-NEW"] and done["updated"] == ["RS-2"]
    repo = seeded["repo"]
    assert repo.get("LJ-NEW") is None and repo.get("RS-3").county_code == RONGSHUI
    versions = repo.history("RS-NEW")
    assert [(v.actor, v.source, v.reason) for v in versions] == [
        ("rs_editor", "upload", "年度更新")
    ]
    # a second commit of the same preview is refused
    again = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert again.status_code == 409
    # cancelling a committed upload is refused too
    rv = client.post(body["urls"]["cancel"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 409


def test_web_html_flow_redirects(seeded):
    client = login(seeded, "rs_editor")
    rv = client.post(
        "/manage/upload",
        data={
            "registry": (io.BytesIO(upload_bytes(seeded)), "名录.csv"),
            "reason": "年度更新",
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )
    assert rv.status_code == 303
    page = rv.headers["Location"]
    html = client.get(page).get_data(as_text=True)
    assert 'id="mg-commit"' in html and "名录.csv" in html
    rv = client.post(page + "/commit", data={"csrf_token": client.csrf, "strict": "1"})
    assert rv.status_code == 422  # strict: some rows rejected / outside → nothing written
    assert seeded["repo"].get("RS-NEW") is None
    rv = client.post(page + "/commit", data={"csrf_token": client.csrf})
    assert rv.status_code == 303
    assert "已写入" in client.get(page).get_data(as_text=True)
    assert seeded["repo"].get("RS-NEW") is not None


def test_web_cancel_writes_nothing(seeded):
    client = login(seeded, "rs_editor")
    before = snapshot(seeded)
    body = upload(client, upload_bytes(seeded)).get_json()
    rv = client.post(body["urls"]["cancel"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 200 and rv.get_json()["cancelled"] is True
    rv = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 404
    assert snapshot(seeded) == before


def test_web_conflict_between_preview_and_commit(seeded):
    client = login(seeded, "rs_editor")
    body = upload(client, upload_bytes(seeded)).get_json()
    repo = seeded["repo"]
    other = repo.get("RS-2")
    other.phone = "12351"
    repo.save([other], actor="rs_editor2", source="web", reason="电话")
    before = snapshot(seeded)
    rv = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 409
    err = rv.get_json()["error"]
    assert err["station_id"] == "RS-2" and err["changes"][0]["actor"] == "rs_editor2"
    assert snapshot(seeded) == before
    html = client.post(body["urls"]["commit"], data={"csrf_token": client.csrf})
    assert html.status_code == 409 and "rs_editor2" in html.get_data(as_text=True)


def test_web_token_of_another_user_is_refused(seeded):
    owner, other = login(seeded, "rs_editor"), login(seeded, "rs_editor2")
    body = upload(owner, upload_bytes(seeded)).get_json()
    before = snapshot(seeded)
    for path in (body["urls"]["page"], body["urls"]["report_xlsx"]):
        assert other.get(path + "?format=json").status_code == 404
    for path in (body["urls"]["commit"], body["urls"]["cancel"]):
        rv = other.post(path + "?format=json", data={"csrf_token": other.csrf})
        assert rv.status_code == 404
    assert snapshot(seeded) == before
    # the owner's preview is still there and still commits
    rv = owner.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": owner.csrf})
    assert rv.status_code == 200


def test_web_expired_token_is_refused(seeded):
    client = login(seeded, "rs_editor")
    app = seeded["app"]
    app.config["MANAGE_UPLOAD_TTL_S"] = 0.5
    try:
        body = upload(client, upload_bytes(seeded)).get_json()
    finally:
        app.config.pop("MANAGE_UPLOAD_TTL_S")
    time.sleep(0.6)
    before = snapshot(seeded)
    rv = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 404
    assert snapshot(seeded) == before


@pytest.mark.parametrize("token", ["../../etc/passwd", "x" * 32 + ".json", "short"])
def test_web_bad_tokens_are_not_found(seeded, token):
    client = login(seeded, "rs_editor")
    assert client.get(f"/manage/upload/{token}?format=json").status_code == 404


def test_web_upload_refuses_bad_files_and_writes_nothing(seeded):
    client = login(seeded, "rs_editor")
    before = snapshot(seeded)
    kept = seeded["tmp"] / "instance" / "uploads"
    previews_before = sorted(kept.glob("*.json"))
    assert upload(client, b"").status_code == 400
    assert upload(client, b"\x00\x01garbage", name="x.xlsx").status_code == 400
    rv = upload(client, upload_bytes(seeded), name="x.exe")
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "registry"
    rv = upload(client, upload_bytes(seeded), reason=" ")
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "reason"
    assert snapshot(seeded) == before
    assert sorted(kept.glob("*.json")) == previews_before
    assert not list((kept / "incoming").iterdir())  # the uploaded files are gone


def test_rongshui_editor_sees_liujiang_station_outside(seeded):
    """An editor of 融水 (450225) uploading a 柳江 (450206) station: outside, not written."""
    client = login(seeded, "rs_editor")
    rows = [
        [
            "LJ-X",
            "柳江拉堡驿站",
            "工会爱心驿站",
            "柳江区",
            LIUJIANG,
            "109.3134",
            "24.2534",
            "",
            "运营中",
        ]
    ]
    body = upload(client, write_csv(seeded["tmp"] / "lj.csv", rows).read_bytes()).get_json()
    assert [(r["id"], r["kind"], r["reason"]) for r in body["items"]] == [
        ("LJ-X", "outside", "outside")
    ]
    rv = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 200 and rv.get_json()["committed"]["inserted"] == []
    assert seeded["repo"].get("LJ-X") is None


def test_reviewer_without_edit_area_and_staff_roles(seeded):
    """A prefecture reviewer (edit in 450200) sees 柳江 rows as in its area."""
    client = login(seeded, "lz_reviewer")
    body = upload(client, upload_bytes(seeded)).get_json()
    assert body["counts"]["outside"] == 0 and body["counts"]["new"] == 2


def test_upload_form_json_twin_and_roles(seeded):
    client = login(seeded, "rs_editor")
    body = client.get("/manage/upload?format=json").get_json()
    assert body["areas"] == [RONGSHUI] and ".xlsx" in body["types"] and body["max_upload_mb"] > 0
    html = client.get("/manage/upload").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'name="csrf_token"' in html
    assert 'href="/manage/upload"' in client.get("/manage/").get_data(as_text=True)


def test_get_of_a_write_route_only_shows(seeded):
    client = login(seeded, "rs_editor")
    before = snapshot(seeded)
    body = upload(client, upload_bytes(seeded)).get_json()
    for url in (body["urls"]["commit"], body["urls"]["cancel"]):
        assert client.get(url).status_code == 303
        assert client.get(url + "?format=json").get_json()["token"] == body["token"]
    assert snapshot(seeded) == before


def test_with_approval_an_editors_upload_becomes_pending_changes(seeded):
    """YIZHAN_APPROVAL on: committing an editor's upload publishes nothing; the new and the
    changed station each wait as a pending change (one transaction), approved one by one."""
    from geo.store.changes import ChangeStore

    tmp = seeded["tmp"]
    app = support.make_app(
        seeded["url"],
        planner_dir=str(tmp / "jobs-approval"),
        instance_path=str(tmp / "instance-approval"),
        tile_url="",
        login_rate_per_minute=1000,
        approval=True,
    )
    try:
        client = login({**seeded, "app": app}, "rs_editor")
        before = snapshot(seeded)
        body = upload(client, upload_bytes(seeded)).get_json()
        rv = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
        assert rv.status_code == 200, rv.get_data(as_text=True)
        done = rv.get_json()["committed"]
        assert done["inserted"] == [] and done["updated"] == [] and len(done["pending"]) == 2
        repo = seeded["repo"]
        assert repo.get("RS-NEW") is None and repo.history("RS-2")[-1].version == 1
        store = ChangeStore(repo)
        pending = {store.get(i).station_id: store.get(i) for i in done["pending"]}
        assert set(pending) == {"RS-NEW", "RS-2"}
        assert {c.action for c in pending.values()} == {"create", "edit"}
        assert all(c.state == "pending" and c.source == "upload" for c in pending.values())
        html = client.get(body["urls"]["page"]).get_data(as_text=True)
        assert 'data-pending="2"' in html
        assert snapshot(seeded) == before  # stations and history untouched
    finally:
        support.close_app(app)


def test_rows_claiming_my_county_with_coordinates_elsewhere_are_outside(seeded):
    """A 融水 editor's row that states 融水 (450225) but whose coordinates lie in 柳江 (the
    gazetteer's seat of 450206): outside, as a new station and as a move of RS-1; nothing of
    them is written (the stated codes alone would have let them in)."""
    from geo.gazetteer import default_gazetteer

    seat = default_gazetteer().get(LIUJIANG)
    x, y = f"{seat.lon:.4f}", f"{seat.lat:.4f}"
    client = login(seeded, "rs_editor")
    rows = [
        ["RS-FAR", "融水远端驿站", KIND, *RS, x, y, HOURS, OPEN],
        ["RS-1", "融水镇工会驿站一", KIND, *RS, x, y, HOURS, OPEN],
    ]
    body = upload(client, write_csv(seeded["tmp"] / "far.csv", rows).read_bytes()).get_json()
    assert {(r["id"], r["kind"], r["reason"]) for r in body["items"]} == {
        ("RS-FAR", "outside", "outside"),
        ("RS-1", "outside", "moved_out"),
    }
    rv = client.post(body["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 200 and rv.get_json()["committed"]["inserted"] == []
    assert seeded["repo"].get("RS-FAR") is None and seeded["repo"].get("RS-1").lon == 109.2432
