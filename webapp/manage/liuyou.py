"""The 六有 page under ``/manage/liuyou`` (issue 15 item 7); the standard, its counts and the
workbook are :mod:`geo.liuyou` (nothing is computed here).

- ``GET /manage/liuyou`` (``?area=CODE``, default: each of the user's areas): per area, the
  counts per county and township (every unit of the area, those without stations with 0;
  per criterion pass / fail / unknown) and each station's outcomes. JSON twin:
  ``{"criteria": [...], "areas": [{"code", "name", "counties", "townships", "stations"}]}``
  with the rows of :func:`geo.liuyou.unit_rows` and :func:`geo.liuyou.station_rows`.
- ``GET /manage/liuyou.xlsx?area=CODE``: the same workbook as ``yizhan liuyou report``
  (:func:`geo.liuyou.write_report`).

An area outside the user's areas is refused (``403``).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from types import SimpleNamespace

from flask import g, request, send_file

from geo import access, liuyou
from geo.errors import Forbidden, ValidationError
from geo.gazetteer import default_gazetteer
from webapp import auth
from webapp.manage import bp, render, requires
from webapp.services import services


def _asked_areas() -> list[str]:
    """The areas to show: ``?area=`` (checked against the user's areas) or the user's own;
    for a user without areas (all) and no ``?area=``, every station under ``""``."""
    asked = (request.args.get("area") or "").strip()
    if not asked:
        return list(g.user.areas) or [""]
    code = access.area_code(asked)
    unit = default_gazetteer().get(code)
    place = SimpleNamespace(
        **{f"{level}_code": unit.ancestor(level) if unit else "" for level in access.AREA_LEVELS}
    )
    if not access.user_covers(g.user, place):
        raise Forbidden(auth.text("manage.out_of_area"))
    return [code]


def _area_report(code: str, stations, rules, gazetteer, lang: str) -> dict:
    mine = [s for s in stations if not code or liuyou.in_area(s, code)]
    assessments = liuyou.assess_all(mine, rules, gazetteer)
    counties, towns = liuyou.summarise(mine, assessments, code or None, gazetteer)
    return {
        "code": code,
        "name": access.area_name(code) if code else "",
        "counties": liuyou.unit_rows(counties, lang),
        "townships": liuyou.unit_rows(towns, lang),
        "stations": liuyou.station_rows(mine, assessments, lang),
    }


@bp.get("/liuyou")
@requires("view_manage")
def liuyou_page():
    """六有 counts per county and township, and per station, for my areas."""
    areas = _asked_areas()
    gazetteer = default_gazetteer()
    rules = services().settings.liuyou()
    stations = access.filter_to_areas(services().repo.all(), g.user.areas)
    lang = auth.page_lang()
    data = {
        "criteria": [{"code": c.code, "zh": c.zh, "en": c.en} for c in liuyou.CRITERIA],
        "outcomes": [o.value for o in liuyou.Outcome],
        "areas": [_area_report(a, stations, rules, gazetteer, lang) for a in areas],
    }
    return render("manage/liuyou.html", data)


@bp.get("/liuyou.xlsx")
@requires("view_manage")
def liuyou_xlsx():
    """The 六有 workbook of ``?area=`` (as ``yizhan liuyou report``)."""
    if not (request.args.get("area") or "").strip():
        raise ValidationError(auth.text("manage.liuyou.area_required"), field="area")
    (code,) = _asked_areas()
    gazetteer = default_gazetteer()
    stations = [
        s
        for s in access.filter_to_areas(services().repo.all(), g.user.areas)
        if liuyou.in_area(s, code)
    ]
    lang = "en" if auth.page_lang() == "en" else "zh"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "liuyou.xlsx"
        liuyou.write_report(path, stations, code, services().settings.liuyou(), gazetteer, lang)
        body = path.read_bytes()
    return send_file(
        io.BytesIO(body),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"liuyou-{code}.xlsx",
        max_age=0,
    )
