"""User administration under ``/manage/users`` (administrators only: ``manage_users``).

- ``GET /manage/users``: every user with role, areas (code and place name), state, last login;
  a form to create one. JSON twin: ``{"users": [...], "roles": [...]}``.
- ``POST /manage/users`` (``name``, ``password``, ``role``, ``areas``): create; ``201`` JSON
  with the user, or a redirect back to the list.
- ``POST /manage/users/<name>`` (``role``, ``areas``, and/or ``action=disable|enable``): change
  the role and replace the areas, or disable/enable (which ends the user's sessions).
  ``GET`` (JSON twin) shows the user.

Areas come as one text (``areas``: codes separated by commas, spaces or lines) and/or repeated
``area`` fields; each is checked against the bundled gazetteer (:func:`geo.access.area_code`).
An invalid value is refused with ``400`` naming the field, and nothing is written. An
administrator cannot disable themselves or take away their own administrator role (the last
way back in would be the CLI).
"""

from __future__ import annotations

import re

from flask import g, jsonify, redirect, request, url_for

from geo import access
from geo.errors import ValidationError
from webapp import auth
from webapp.errors import wants_json
from webapp.manage import bp, render, requires

_SEPARATORS = re.compile(r"[\s,，、;；]+")


def _form_areas() -> list[str]:
    values = request.form.getlist("area")
    for text in request.form.getlist("areas"):
        values += [v for v in _SEPARATORS.split(text) if v]
    return values


def _page_data(**extra) -> dict:
    return {
        "users": [u.to_dict() for u in auth.users().all()],
        "roles": [r.value for r in access.Role],
        **extra,
    }


def _invalid(exc: ValidationError, status: int = 400, form: dict | None = None):
    """The users page (or JSON) with the error next to its field; nothing was written."""
    if wants_json():
        return jsonify(exc.to_dict()), status
    return render(
        "manage/users.html",
        _page_data(),
        status,
        error=exc.message,
        error_field=exc.field,
        form=form or {},
    )


@bp.route("/users", methods=["GET", "POST"])
@requires("manage_users")
def users():
    """List users; POST creates one."""
    if request.method == "GET":
        return render("manage/users.html", _page_data(), form={})
    form = {
        "name": (request.form.get("name") or "").strip(),
        "role": request.form.get("role") or access.DEFAULT_ROLE.value,
        "areas": " ".join(_form_areas()),
    }
    try:
        user = auth.users().create(
            form["name"], request.form.get("password") or "", form["role"], _form_areas()
        )
    except ValidationError as exc:
        return _invalid(exc, form=form)
    if wants_json():
        body = {"user": user.to_dict(), "url": url_for("manage.user", name=user.name)}
        return jsonify(body), 201
    return redirect(url_for("manage.users"), 303)


@bp.route("/users/<name>", methods=["GET", "POST"])
@requires("manage_users")
def user(name: str):
    """One user (JSON twin); POST changes role and areas, or disables/enables."""
    store = auth.users()
    current = store.get(name)  # NotFound: 404
    if request.method == "GET":
        if wants_json():
            return {"user": current.to_dict()}
        return redirect(url_for("manage.users"), 303)
    action = request.form.get("action") or "save"
    own = name == g.user.name
    try:
        if action in ("disable", "enable"):
            if own and action == "disable":
                raise ValidationError(auth.text("manage.users.self"), field="action")
            store.set_disabled(name, action == "disable")
        elif action == "save":
            role = request.form.get("role") or current.role
            if own and access.parse_role(role) is not access.Role.ADMIN:
                raise ValidationError(auth.text("manage.users.self"), field="role")
            store.set_role(name, role, areas=_form_areas())
        else:
            raise ValidationError(f"unknown action {action!r}", field="action")
    except ValidationError as exc:
        return _invalid(exc)
    changed = store.get(name)
    if wants_json():
        return {"user": changed.to_dict()}
    return redirect(url_for("manage.users"), 303)
