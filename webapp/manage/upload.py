"""Registry upload through the web (issue 15 item 3): ``/manage/upload``.

An editor (permission ``edit``) uploads a CSV, XLSX or GeoJSON registry file with a reason;
it is read, validated and classed by :func:`geo.records.preview.preview` (the same reading and
validation as ``yizhan import``) and NOTHING is written. The preview page shows the counts
and a table per class (new; changed, field by field; unchanged; rejected with line, field and
reason; outside the user's areas, including a change that would move a station out). Then:

- ``POST /manage/upload/<token>/commit`` (``strict`` optional) writes the new and changed
  stations in one transaction (:func:`submit_upload`); rejected and outside rows are never
  written — by default the rest is written and they are reported, with ``strict=1`` any of
  them refuses the whole commit. A station changed by someone else since the preview refuses
  the commit (``409``, with what changed) and nothing is written;
- ``POST /manage/upload/<token>/cancel`` forgets the preview;
- ``GET /manage/upload/<token>/report.xlsx|csv``: the report (formula-escaped).

The preview is kept server-side by :class:`PreviewStore`: one JSON file per token in the
instance folder (``<instance>/uploads``), bound to the user and expiring
(``MANAGE_UPLOAD_TTL_S``, default one hour), so every worker of ``yizhan serve --workers N``
on the machine finds it. A token of another user, unknown or expired answers ``404``. The
upload's size and type limits are the planner's (:func:`webapp.planner.save_upload`,
``YIZHAN_PLANNER_MAX_UPLOAD_MB``). Every page has a JSON twin.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import current_app, g, jsonify, redirect, request, send_file, url_for

from geo.errors import Conflict, FileFormatError, ImportRefused, NotFound, ValidationError
from geo.records import preview as previews
from geo.store.changes import needs_approval
from webapp import auth
from webapp.errors import wants_json
from webapp.manage import bp, error_dict, error_message, reason_text, render, requires, upload_map
from webapp.services import services

#: Seconds a preview stays committable.
DEFAULT_TTL_S = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
#: The form field of the file (its suffixes: ``webapp.planner.UPLOAD_SUFFIXES``).
FIELD = "registry"


class PreviewStore:
    """Previews kept between requests: ``<folder>/<token>.json`` holding the user, the
    expiry (epoch seconds), the reason and the preview; after a commit, its result too.

    A commit *claims* the file by renaming it (atomic on one file system), so two
    concurrent commits of one token never both write.
    """

    def __init__(self, folder: Path, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.folder = Path(folder)
        self.ttl_s = float(ttl_s)

    def _path(self, token: str, suffix: str = ".json") -> Path:
        if not _TOKEN.match(token or ""):
            raise NotFound(auth.text("manage.upload.not_found"))
        return self.folder / f"{token}{suffix}"

    def _write(self, path: Path, data: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.replace(tmp, path)

    def put(self, user: str, reason: str, upload: previews.UploadPreview) -> str:
        """Keep ``upload`` for ``user``; its new token."""
        self.sweep()
        token = secrets.token_urlsafe(24)
        data = {
            "user": user,
            "expires_at": time.time() + self.ttl_s,
            "reason": reason,
            "preview": upload.to_dict(),
            "committed": None,
        }
        self._write(self._path(token), data)
        return token

    def get(self, token: str, user: str, path: Path | None = None) -> dict:
        """The stored entry; :class:`NotFound` if unknown, another user's, or expired."""
        path = path or self._path(token)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise NotFound(auth.text("manage.upload.not_found")) from None
        if data.get("user") != user:
            raise NotFound(auth.text("manage.upload.not_found"))
        if data.get("committed") is None and time.time() > float(data["expires_at"]):
            path.unlink(missing_ok=True)
            raise NotFound(auth.text("manage.upload.expired"), reason="expired")
        return data

    def claim(self, token: str, user: str) -> tuple[dict, Path]:
        """Take the entry for a commit (no other request can take it meanwhile)."""
        path, claimed = self._path(token), self._path(token, f".{secrets.token_hex(4)}.lock")
        try:
            os.rename(path, claimed)
        except OSError:
            raise NotFound(auth.text("manage.upload.not_found")) from None
        try:
            return self.get(token, user, claimed), claimed
        except NotFound:
            if claimed.exists():  # another user's token: give it back untouched
                os.rename(claimed, path)
            raise

    def release(self, token: str, claimed: Path, data: dict | None = None) -> None:
        """Give a claimed entry back (``data``: with its new content)."""
        if data is not None:
            self._write(claimed, data)
        os.rename(claimed, self._path(token))

    def delete(self, token: str, user: str) -> None:
        """Forget the entry (only its user may)."""
        self.get(token, user)
        self._path(token).unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove expired entries (and committed ones past twice the time to live)."""
        if not self.folder.is_dir():
            return
        now = time.time()
        for path in self.folder.glob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                grace = self.ttl_s if data.get("committed") else 0
                if now > float(data["expires_at"]) + grace:
                    path.unlink(missing_ok=True)
            except (OSError, ValueError, KeyError, TypeError):
                continue


def store() -> PreviewStore:
    """This app's :class:`PreviewStore`."""
    config = current_app.config
    folder = config.get("MANAGE_UPLOAD_DIR") or Path(services().settings.instance_path) / "uploads"
    return PreviewStore(Path(folder), float(config.get("MANAGE_UPLOAD_TTL_S", DEFAULT_TTL_S)))


def submit_upload(upload: previews.UploadPreview, user, reason: str, *, strict: bool):
    """Write a previewed upload for ``user``: ONE transaction, ``source="upload"``.

    The one place an upload's commit goes through. With approval on (issue 15 item 5) an
    editor's upload becomes pending changes, one per new or changed station, stored in one
    transaction (:func:`geo.records.preview.propose`); nothing is published until approved.
    """
    svc = services()
    if needs_approval(user, bool(svc.settings.approval)):
        return previews.propose(svc.repo, upload, user.name, reason, strict=strict)
    return previews.commit(svc.repo, upload, user.name, reason, strict=strict)


def _form_page(status: int = 200, error: ValidationError | None = None, reason: str = ""):
    settings = services().settings
    data = {
        "max_upload_mb": settings.planner_max_upload_mb,
        "types": [".csv", ".xlsx", ".geojson", ".json"],
        "areas": list(g.user.areas),
    }
    if error is not None and wants_json():
        return jsonify(error.to_dict()), status
    return render(
        "manage/upload.html",
        data,
        status,
        error=error.message if error else None,
        error_field=error.field if error else None,
        reason=reason,
    )


def _entry_data(token: str, entry: dict) -> dict[str, Any]:
    upload = previews.UploadPreview.from_dict(entry["preview"])
    body = upload.to_dict()
    body.pop("stations")
    for row in [*body["items"], *body["warnings"]]:  # the reason in the page's language too
        if row["kind"] in ("rejected", "warning"):
            row["reason_text"] = reason_text(row)
    return {
        "token": token,
        "reason": entry.get("reason") or "",
        "expires_at": entry["expires_at"],
        "committed": entry.get("committed"),
        **body,
        "urls": {
            "page": url_for("manage.upload_preview", token=token),
            "commit": url_for("manage.upload_commit", token=token),
            "cancel": url_for("manage.upload_cancel", token=token),
            "report_xlsx": url_for("manage.upload_report", token=token, fmt="xlsx"),
            "report_csv": url_for("manage.upload_report", token=token, fmt="csv"),
        },
    }


def _refusal(error: Any) -> str:
    """What a refused commit says in the page's language: a strict refusal with its counts,
    a conflict from its details, else the error's message."""
    if isinstance(error, ImportRefused) and "rejected" in error.details:
        return auth.text(
            "manage.words.strict_refused",
            rejected=error.details.get("rejected", 0),
            outside=error.details.get("outside", 0),
        )
    return error_message(error)


def _preview_page(token: str, entry: dict, status: int = 200, error: Any = None):
    data = _entry_data(token, entry)
    if error is not None and wants_json():
        body = error_dict(error)
        body["error"]["message"] = _refusal(error)
        return jsonify({**body, "upload": data}), status
    upload = previews.UploadPreview.from_dict(entry["preview"])
    by_class = {k: upload.of(k) for k in previews.CLASSES}
    return render(
        "manage/upload_preview.html",
        data,
        status,
        classes=previews.CLASSES,
        by_class=by_class,
        map_config=upload_map.map_config(by_class, upload.counts),
        error=_refusal(error) if error is not None else None,
        conflict=error.details.get("changes") if isinstance(error, Conflict) else None,
    )


@bp.route("/upload", methods=["GET", "POST"])
@requires("edit")
def upload():
    """The upload form; POST reads the file into a preview (nothing written)."""
    if request.method == "GET":
        return _form_page()
    from geo.gazetteer import default_gazetteer
    from webapp.planner import save_upload

    reason = (request.form.get("reason") or "").strip()
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=_tmp_root()))
    try:
        if not reason:
            raise ValidationError(auth.text("manage.upload.reason_missing"), field="reason")
        path = save_upload(FIELD, folder, required=True)
        assert path is not None
        name = request.files[FIELD].filename or Path(path).name
        settings = services().settings
        try:
            result = previews.preview(
                services().repo,
                path,
                areas=g.user.areas,
                source_name=name,
                crs=settings.default_crs,
                duplicate_radius_m=settings.duplicate_radius_m,
                gazetteer=default_gazetteer(),
            )
        except FileFormatError as exc:
            raise ValidationError(
                auth.text("err.upload_unreadable", file=name, why=exc.message), field=FIELD
            ) from None
    except ValidationError as exc:
        return _form_page(400, exc, reason)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    token = store().put(g.user.name, reason, result)
    if wants_json():
        return jsonify(_entry_data(token, store().get(token, g.user.name))), 201
    return redirect(url_for("manage.upload_preview", token=token), 303)


def _tmp_root() -> str:
    root = store().folder / "incoming"
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


@bp.get("/upload/<token>")
@requires("edit")
def upload_preview(token: str):
    """The preview (or, after the commit, what was written)."""
    return _preview_page(token, store().get(token, g.user.name))


def _show(token: str):
    """``GET`` of a write route: the preview (JSON twin) or a redirect to its page."""
    entry = store().get(token, g.user.name)
    if wants_json():
        return jsonify(_entry_data(token, entry))
    return redirect(url_for("manage.upload_preview", token=token), 303)


@bp.route("/upload/<token>/commit", methods=["GET", "POST"])
@requires("edit")
def upload_commit(token: str):
    """POST writes the preview's new and changed stations (one transaction); GET shows it."""
    if request.method == "GET":
        return _show(token)
    strict = request.form.get("strict") in ("1", "on", "true", "yes")
    previews_ = store()
    entry, claimed = previews_.claim(token, g.user.name)
    if entry.get("committed") is not None:
        previews_.release(token, claimed)
        raise Conflict(auth.text("manage.upload.already"), token=token)
    upload = previews.UploadPreview.from_dict(entry["preview"])
    try:
        result = submit_upload(upload, g.user, entry.get("reason") or "", strict=strict)
    except (Conflict, ImportRefused) as exc:
        previews_.release(token, claimed)
        return _preview_page(token, entry, exc.status, exc)
    except BaseException:
        previews_.release(token, claimed)
        raise
    entry["committed"] = {
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "pending": list(getattr(result, "pending", [])),  # change ids waiting for review
        "strict": strict,
        "at": time.time(),
    }
    previews_.release(token, claimed, entry)
    if wants_json():
        return jsonify(_entry_data(token, entry))
    return redirect(url_for("manage.upload_preview", token=token), 303)


@bp.route("/upload/<token>/cancel", methods=["GET", "POST"])
@requires("edit")
def upload_cancel(token: str):
    """POST forgets the preview (nothing was written); GET shows it."""
    if request.method == "GET":
        return _show(token)
    entry = store().get(token, g.user.name)
    if entry.get("committed") is not None:
        raise Conflict(auth.text("manage.upload.already"), token=token)
    store().delete(token, g.user.name)
    if wants_json():
        return jsonify({"cancelled": True, "token": token})
    return redirect(url_for("manage.upload"), 303)


@bp.get("/upload/<token>/report.<fmt>")
@requires("edit")
def upload_report(token: str, fmt: str):
    """The preview's report as XLSX or CSV (text cells formula-escaped)."""
    if fmt not in ("xlsx", "csv"):
        raise NotFound(auth.text("manage.upload.not_found"))
    upload = previews.UploadPreview.from_dict(store().get(token, g.user.name)["preview"])
    buf = io.BytesIO()
    previews.write_report(upload, buf, fmt, reason_text)
    buf.seek(0)
    mimetype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return send_file(
        buf, mimetype=mimetype, as_attachment=True, download_name=f"upload-report.{fmt}"
    )
