"""What an import reports: one :class:`RowIssue` per problem, gathered in an
:class:`ImportReport`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class RowIssue:
    """One problem with one input row. ``line`` is the file line / sheet row / feature number.

    ``reason`` is the English sentence (the CLI's); ``code`` names the reason and ``params``
    fill its template, so a page can say it in its own language (``reason.<code>`` in
    :data:`webapp.planner_text.MESSAGES`, zh and en, the same ``{placeholders}``).
    """

    line: int
    field: str | None
    reason: str
    value: str | None = None
    id: str | None = None
    name: str | None = None
    code: str = ""
    params: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass
class ImportReport:
    """What an import did: counts, ids, and every rejected row and warning."""

    source: str
    format: str
    rows: int = 0
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)
    committed: bool = False
    strict: bool = False
    #: Station id -> the line it was read from, for every valid row (not in :meth:`to_dict`).
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def rejected_lines(self) -> list[int]:
        """The lines with at least one rejection, in order."""
        return sorted({r.line for r in self.rejected})

    def to_dict(self) -> dict:
        """The report as JSON-ready data (counts first)."""
        return {
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "committed": self.committed,
            "strict": self.strict,
            "counts": {
                "imported": len(self.imported),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "rejected_rows": len(self.rejected_lines),
                "warnings": len(self.warnings),
            },
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [dataclasses.asdict(r) for r in self.rejected],
            "warnings": [dataclasses.asdict(w) for w in self.warnings],
        }

    def summary(self) -> str:
        """One line for people: rows, new, updated, unchanged, rejected, warnings."""
        c = self.to_dict()["counts"]
        verb = "committed" if self.committed else "NOT committed"
        return (
            f"{self.source}: {self.rows} rows; {c['imported']} new, {c['updated']} updated, "
            f"{c['unchanged']} unchanged, {c['rejected_rows']} rejected, "
            f"{c['warnings']} warnings ({verb})"
        )
