"""The ``yizhan`` command line: a thin shell over :mod:`geo` (and :mod:`webapp` for ``serve``).

Every verb documents itself (``yizhan --help``, ``yizhan VERB --help``). The database is the
SQLite file in the instance folder unless ``--database`` or ``YIZHAN_DATABASE_URL`` says
otherwise. ``python -m webapp.cli`` runs the same command.

The top layer: it may import both :mod:`geo` and :mod:`webapp`; :mod:`geo` imports neither.
"""

from __future__ import annotations

# each module registers its verbs: admin, analysis, registry; print (issue 15 item 9),
# history and audit (item 6), 六有 report (item 7)
import webapp.cli.demand  # noqa: F401  (demand signals, issue 15 item 8)
from webapp.cli import admin, analysis, audit, liuyou, paper, registry  # noqa: F401
from webapp.cli._base import DEMO_REGISTRY, Context, main

__all__ = ["DEMO_REGISTRY", "Context", "main"]
