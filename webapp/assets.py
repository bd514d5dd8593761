"""Library assets the web pages share with :mod:`geo`: Leaflet at ``/static/vendor/leaflet/``.

Leaflet ships once, as package data of :mod:`geo.assets` (the offline HTML maps embed it);
this blueprint serves those same files under the URL the templates use
(``url_for('static', filename='vendor/leaflet/…')``). The rule is more specific than Flask's
``/static/<path:filename>``, so it wins for these paths; caching, ETags and conditional
requests are Flask's, as for every static file.
"""

from __future__ import annotations

from flask import Blueprint, Flask, send_from_directory

from geo.assets import LEAFLET_DIR

bp = Blueprint("assets", __name__)


@bp.get("/static/vendor/leaflet/<path:filename>")
def leaflet(filename: str):
    """One file of the vendored Leaflet release."""
    return send_from_directory(LEAFLET_DIR, filename)


def init_app(app: Flask) -> None:
    """Serve the library's assets from ``app``."""
    app.register_blueprint(bp)
