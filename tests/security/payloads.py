"""Shared attack payloads for the standing security suite (``tests/security/``): try each on
every text field of every new page or file format (station names, unions, addresses,
candidate names, notes ...).

``PAYLOADS`` try to run script where text is placed in HTML or JavaScript (tags, attribute
breaks, ``</script>``, template-literal interpolation and backticks, line separators, Jinja
markup); ``FORMULAS`` try to run as spreadsheet formulas when a CSV or XLSX export is opened
(OWASP CSV injection). Upload payloads are *generated* (small on disk, written directly with
:mod:`zipfile` or seeded :class:`random.Random`): :data:`MALFORMED_UPLOADS` names a writer per
malformed file, :func:`xlsx_bomb` and :func:`xlsx_many_rows` write the decompression bombs,
:data:`CONTROL_TEXTS` are text values with NUL and other control characters;
:data:`LAYOUT_TEXTS` try to break a page layout (bidi overrides, very long names).
"""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from xml.sax.saxutils import escape

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


def _cell(ref: str, value: object) -> str:
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def _row(n: int, values: Iterable[object]) -> str:
    cells = "".join(_cell(f"{chr(65 + i)}{n}", v) for i, v in enumerate(values))
    return f'<row r="{n}">{cells}</row>'


def write_xlsx(path: Path, sheet_chunks: Iterable[str]) -> Path:
    """A minimal valid ``.xlsx`` whose sheet XML is the given chunks (streamed, deflated)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(_SHEET_HEAD.encode())
            for chunk in sheet_chunks:
                member.write(chunk.encode())
            member.write(_SHEET_TAIL.encode())
    return path


def xlsx_rows(path: Path, rows: Iterable[Iterable[object]]) -> Path:
    """An ``.xlsx`` with these rows (first row: the header)."""
    return write_xlsx(path, (_row(n, r) for n, r in enumerate(rows, 1)))


def xlsx_bomb(path: Path, string_mb: int = 400) -> Path:
    """A candidates sheet whose one cell holds a ``string_mb`` MB string (about 0.1 % on disk)."""

    def chunks():
        yield _row(1, ["lon", "lat", "name"])
        yield '<row r="2"><c r="A2"><v>108.9</v></c><c r="B2"><v>24.5</v></c>'
        yield '<c r="C2" t="inlineStr"><is><t>'
        block = "A" * (1024 * 1024)
        for _ in range(string_mb):
            yield block
        yield "</t></is></c></row>"

    return write_xlsx(path, chunks())


def xlsx_many_rows(path: Path, rows: int = 1_000_000, seed: int = 42) -> Path:
    """A candidates sheet with ``rows`` data rows (lon, lat inside Guangxi), no dimension."""
    rng = random.Random(seed)

    def chunks():
        yield _row(1, ["lon", "lat"])
        buf = []
        for n in range(2, rows + 2):
            lon, lat = round(rng.uniform(108, 110), 4), round(rng.uniform(24, 25), 4)
            buf.append(
                f'<row r="{n}"><c r="A{n}"><v>{lon}</v></c><c r="B{n}"><v>{lat}</v></c></row>'
            )
            if len(buf) == 10_000:
                yield "".join(buf)
                buf = []
        yield "".join(buf)

    return write_xlsx(path, chunks())


def _empty_csv(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _random_xlsx(path: Path) -> Path:
    path.write_bytes(random.Random(42).randbytes(4096))
    return path


def _truncated_xlsx(path: Path) -> Path:
    full = xlsx_rows(path.with_name("full-" + path.name), [["lon", "lat"], [108.9, 24.5]])
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _features_object(path: Path) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": {"type": "Feature"}}),
        encoding="utf-8",
    )
    return path


def _deep_json(path: Path, depth: int = 100_000) -> Path:
    path.write_text('{"type":"FeatureCollection","features":' + "[" * depth + "]" * depth + "}")
    return path


#: Malformed uploads: ``(file name, writer(path) -> path)``; each must be refused with a message.
MALFORMED_UPLOADS: list[tuple[str, Callable[[Path], Path]]] = [
    ("empty.csv", _empty_csv),
    ("random.xlsx", _random_xlsx),
    ("truncated.xlsx", _truncated_xlsx),
    ("features-object.geojson", _features_object),
    ("deep.geojson", _deep_json),
]

#: Text values with control characters (NUL, ESC, BEL, DEL, C1) to put in any text field.
CONTROL_TEXTS = ["站\x00点", "\x1b[31m红\x1b[0m", "铃\x07", "删\x7f除", "C1\x9b控制"]


#: Text that tries to break a page layout (PDF, print): a right-to-left override that would
#: show the rest reversed, right-to-left scripts, zero-width and combining characters, emoji
#: sequences, a name far longer than any column or page.
LAYOUT_TEXTS: list[str] = [
    "\u202eevil.exe\u202c 站点",
    "مركز الخدمة עמדה",
    "零\u200b宽\u200d字符\ufeff",
    "Z\u0351\u0352\u0353algo 站",
    "👩\u200d🔧 工会驿站 🇨🇳",
    "超长站点名称" * 500,
]


#: Script in HTML/JavaScript contexts.
PAYLOADS: list[str] = [
    '${alert("x")}',
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "\"'><svg onload=alert(1)>",
    "`;alert(1);`",
    "`${alert(1)}`",
    "\\`);alert(1);//",
    "a\u2028b\u2029c;alert(1)",
    "<iframe srcdoc='<script>parent.alert(1)</script>'></iframe>",
    "{{ 7*7 }} {{ cycler.__init__.__globals__.os.getpid() }}",
    "{% raw %}",
    "{# not a comment",
    "&lt;b&gt;not bold&lt;/b&gt; &amp;",
    "javascript:alert(1)",
]

#: Spreadsheet formulas (a leading =, +, -, @, tab or carriage return).
FORMULAS: list[str] = [
    '=HYPERLINK("http://evil","x")',
    "=cmd|' /C calc'!A0",
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "'=1+1",
    "-",
    "+86 10 1234 5678",
]
