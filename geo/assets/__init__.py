"""Files shipped with the library: Leaflet for offline HTML maps (:mod:`geo.maps`).

``leaflet/`` is the one copy of Leaflet in the project: the saved maps embed it, and the web
app serves the same files at ``/static/vendor/leaflet/`` (:mod:`webapp.assets`). It is
reproduced from a pinned npm release by ``scripts/vendor_assets.sh``.
"""

from __future__ import annotations

from pathlib import Path

#: The vendored Leaflet release (``leaflet.js``, ``leaflet.css``, ``images/``, ``LICENSE``).
LEAFLET_DIR = Path(__file__).resolve().parent / "leaflet"
