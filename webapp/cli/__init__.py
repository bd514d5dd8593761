"""The ``yizhan`` command line: a thin shell over :mod:`geo` (and :mod:`webapp` for ``serve``).

Every verb documents itself (``yizhan --help``, ``yizhan VERB --help``). The database is the
SQLite file in the instance folder unless ``--database`` or ``YIZHAN_DATABASE_URL`` says
otherwise. ``python -m webapp.cli`` runs the same command.

The top layer: it may import both :mod:`geo` and :mod:`webapp`; :mod:`geo` imports neither.
"""

from __future__ import annotations

from webapp.cli import admin, analysis, registry  # noqa: F401 - each registers its verbs
from webapp.cli import liuyou as _liuyou  # noqa: F401 - 六有 report (issue 15 item 7)
from webapp.cli._base import DEMO_REGISTRY, Context, main

__all__ = ["DEMO_REGISTRY", "Context", "main"]
