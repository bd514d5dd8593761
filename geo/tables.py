"""The one reader of tables as unions keep them, and the one header matcher.

Tables come as CSV/TSV (UTF-8, UTF-8 with BOM or GB18030/GBK), Excel sheets (``.xlsx``), GeoJSON
FeatureCollections or any OGR vector layer (GeoPackage, Shapefile, FlatGeobuf). A title row above
the header is common in sheets kept by hand; the header is then found by what it contains.

Every row keeps the number a person sees when opening the file (the CSV line, the sheet row, the
feature number), so an error report can name it.

* :func:`read_table` gives a :class:`Table` of raw cells (the registry reader and the batch
  geocoder work on these);
* :func:`read_frame` gives a :class:`pandas.DataFrame` indexed by those line numbers (candidate
  sites, demand tables and points), from a path or a frame passed through;
* :func:`match_columns` maps headers onto canonical fields through an alias table
  ``{field: (alias, ...)}`` and reports unknown, duplicate and missing headers;
* :func:`check_table_file` is the cheap structural check of an upload (a readable zip within
  the size limit, a GeoJSON FeatureCollection, a non-empty CSV) made before it is queued.

Every file is read within :class:`TableLimits` (uncompressed size of an ``.xlsx``, rows, cell
length; :func:`set_table_limits` installs a deployment's): a decompression bomb or a
million-row sheet is refused with the figures, before or while it is parsed, never after.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.errors import FileFormatError

if TYPE_CHECKING:  # pandas is imported by read_frame only: reading a registry does not need it
    import pandas as pd

#: Formats :func:`detect_format` knows (``gpkg`` is read as ``ogr``).
FORMATS = ("csv", "xlsx", "geojson", "ogr")
#: How many lines :func:`read_table` searches for the header when ``find_header`` is given.
HEADER_SEARCH_ROWS = 10

#: C0/C1 control characters (NUL, ESC …) except tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class TableLimits:
    """What one table file may hold; larger files are refused with these figures.

    Attributes
    ----------
    max_rows
        Data rows (sheet rows, CSV lines, features).
    max_uncompressed_mb
        Sum of the uncompressed sizes of an ``.xlsx``'s zip members (a 400 KB file can hold a
        400 MB string).
    max_cell_chars
        Characters of one cell (32,767 is Excel's own limit).
    """

    max_rows: int = 500_000
    max_uncompressed_mb: float = 200.0
    max_cell_chars: int = 32_767

    def to_dict(self) -> dict[str, float]:
        """The limits as a plain dict (to hand them to a worker process)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TableLimits:
        """Limits from :meth:`to_dict`'s dict (missing keys: the defaults)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


_LIMITS = [TableLimits()]


def table_limits() -> TableLimits:
    """The limits this process reads tables with."""
    return _LIMITS[0]


def set_table_limits(limits: TableLimits | Mapping[str, Any] | None) -> TableLimits:
    """Install the limits this process reads tables with (``None``: the defaults)."""
    if not isinstance(limits, TableLimits):
        limits = TableLimits.from_dict(limits)
    _LIMITS[0] = limits
    return limits


def strip_control(text: str) -> tuple[str, bool]:
    """``text`` without control characters (NUL, ESC, …; tab and newlines are kept), and
    whether any was removed."""
    clean = _CONTROL.sub("", text)
    return clean, len(clean) != len(text)


#: Removed from headers before matching: white space, joiners and marks of a required column.
_HEADER_NOISE = re.compile(r"[\s_\-·.*:：]+")
_BRACKETED = re.compile(r"[(（\[【](.*?)[)）\]】]")


# --------------------------------------------------------------------------------------
# Format and text
# --------------------------------------------------------------------------------------
def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """``csv``, ``xlsx``, ``geojson`` or ``ogr`` from ``fmt`` or the file's extension.

    Raises
    ------
    FileFormatError
        An unknown ``fmt``, an old ``.xls`` file or an extension that says nothing.
    """
    path = Path(path)
    if fmt:
        fmt = fmt.lower()
        if fmt not in {"csv", "xlsx", "geojson", "ogr", "gpkg"}:
            raise FileFormatError(f"unknown format {fmt!r}; use csv, xlsx, geojson or gpkg")
        return "ogr" if fmt == "gpkg" else fmt
    ext = path.suffix.lower()
    if ext in {".csv", ".txt", ".tsv"}:
        return "csv"
    if ext in {".xlsx", ".xlsm"}:
        return "xlsx"
    if ext in {".geojson", ".json"}:
        return "geojson"
    if ext in {".gpkg", ".shp", ".fgb"}:
        return "ogr"
    if ext == ".xls":
        raise FileFormatError(
            f"{path.name}: old .xls files are not supported; "
            "save the sheet as .xlsx (Excel/WPS: 另存为 .xlsx)"
        )
    raise FileFormatError(
        f"{path.name}: cannot tell the format from the extension {ext!r}; "
        "pass --format csv|xlsx|geojson|gpkg"
    )


def decode(data: bytes, name: str) -> str:
    """Text of a file in UTF-8 (with or without BOM) or GB18030 (a superset of GBK/GB2312).

    Raises
    ------
    FileFormatError
        Neither decodes.
    """
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FileFormatError(f"{name}: not UTF-8 or GB18030 text")  # pragma: no cover


def normalise_text(value: object) -> str:
    """NFKC (full-width → ASCII), trimmed, inner runs of white space collapsed to one."""
    if value is None:
        return ""
    if isinstance(value, str):
        if not value:
            return ""
    else:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # Excel gives 12351.0 for a phone number typed as a number
        value = str(value)
    if not value.isascii():  # NFKC leaves ASCII as it is
        value = unicodedata.normalize("NFKC", value)
    return " ".join(value.split())  # str.split and re's \s agree on what white space is


def cell_text(value: object) -> str:
    """A cell as text, otherwise as written: ``""`` for blanks, ``12351`` for Excel's 12351.0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def is_blank(value: object) -> bool:
    """Whether a cell is empty (``None``, NaN or only white space)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return cell_text(value) == ""


def _blank_row(cells: list[object]) -> bool:
    return all(is_blank(c) for c in cells)


# --------------------------------------------------------------------------------------
# Header matching
# --------------------------------------------------------------------------------------
def normalise_header(text: object) -> str:
    """The key a header is matched by: NFKC, lower case, no spaces, joiners or marks.

    ``" Station ID "``, ``"station_id"`` and ``"ＳＴＡＴＩＯＮ-ID"`` all give ``"stationid"``;
    ``"*名称："`` gives ``"名称"``. Brackets are kept (see :func:`split_header`).
    """
    text = unicodedata.normalize("NFKC", "" if text is None else str(text)).lower()
    return _HEADER_NOISE.sub("", text)


def split_header(text: object) -> tuple[str, str]:
    """(key without bracketed notes, the notes): ``常住人口（万人）`` → (``常住人口``, ``万人``)."""
    key = normalise_header(text)
    notes = " ".join(_BRACKETED.findall(key))
    return _BRACKETED.sub("", key), notes


class HeaderMatcher:
    """Headers → canonical fields through an alias table ``{field: (alias, ...)}``.

    A header matches an alias when their :func:`normalise_header` keys are equal, or, failing
    that, when the header without its bracketed notes does (``经度(WGS84)`` → ``lon``). With
    ``partial=True`` a header containing an alias of four or more characters matches as a
    last resort (``2020年常住人口``).

    Raises
    ------
    ValueError
        Two fields share an alias key (the table itself is ambiguous).
    """

    def __init__(self, aliases: Mapping[str, Sequence[str]], partial: bool = False) -> None:
        self.aliases = {f: tuple(names) for f, names in aliases.items()}
        self.partial = partial
        self.index: dict[str, tuple[str, int]] = {}
        for f, names in self.aliases.items():
            for rank, alias in enumerate(names):
                key = normalise_header(alias)
                other, _ = self.index.setdefault(key, (f, rank))
                if other != f:
                    raise ValueError(f"alias {alias!r} names both {other!r} and {f!r}")

    def match(self, header: object) -> str | None:
        """The canonical field of a header, or ``None``."""
        found = self.match_ranked(header)
        return None if found is None else found[0]

    def match_ranked(self, header: object) -> tuple[str, int] | None:
        """(field, rank) of a header: rank is the matched alias's position in the table
        (earlier aliases are preferred), plus 1000 for a partial match; ``None`` if none."""
        key = normalise_header(header)
        if not key:
            return None
        if key in self.index:
            return self.index[key]
        bare, _ = split_header(header)
        if bare in self.index:
            return self.index[bare]
        if self.partial:
            for f, names in self.aliases.items():
                for rank, alias in enumerate(names):
                    a = normalise_header(alias)
                    if len(a) > 3 and a in bare:
                        return f, 1000 + rank
        return None

    def match_columns(self, headers: Sequence[object], required: Sequence[str] = ()) -> ColumnMatch:
        """Match every header; see :class:`ColumnMatch`."""
        found = [self.match_ranked(h) for h in headers]
        fields = [None if m is None else m[0] for m in found]
        texts = ["" if h is None else str(h) for h in headers]
        mapping: dict[str, int] = {}
        positions: dict[str, list[int]] = {}
        for i, f in enumerate(fields):
            if f is not None:
                positions.setdefault(f, []).append(i)
                mapping.setdefault(f, i)
        return ColumnMatch(
            headers=texts,
            fields=fields,
            mapping=mapping,
            unknown=[
                (i, t)
                for i, (t, f) in enumerate(zip(texts, fields, strict=True))
                if f is None and normalise_header(t)
            ],
            duplicates={f: p for f, p in positions.items() if len(p) > 1},
            missing=[f for f in required if f not in mapping],
            ranks=[None if m is None else m[1] for m in found],
        )


@dataclass
class ColumnMatch:
    """How a header row maps onto canonical fields.

    Attributes
    ----------
    headers
        The header texts, in order.
    fields
        The field of each header (``None`` for unknown or blank headers).
    mapping
        Field → position of its (first) column.
    unknown
        ``(position, header)`` of non-blank headers that match no field.
    duplicates
        Field → positions, for fields named by more than one column (an error: which one is
        meant cannot be told).
    missing
        Required fields with no column.
    ranks
        Per header, the position of its alias in the table (see :meth:`preferred`).
    """

    headers: list[str]
    fields: list[str | None]
    mapping: dict[str, int]
    unknown: list[tuple[int, str]] = field(default_factory=list)
    duplicates: dict[str, list[int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    ranks: list[int | None] = field(default_factory=list)

    def preferred(self, name: str) -> int | None:
        """Position of the field's column whose alias comes first in the alias table.

        For callers that choose among several columns instead of refusing them (``常住人口``
        over ``户籍人口``); ``duplicates[name]`` lists the others.
        """
        positions = self.duplicates.get(name) or (
            [self.mapping[name]] if name in self.mapping else []
        )
        if not positions:
            return None
        return min(positions, key=lambda i: (self.ranks[i] if self.ranks else 0, i))

    def header(self, name: str) -> str | None:
        """The header text of a field's column, or ``None`` if it has none."""
        i = self.mapping.get(name)
        return None if i is None else self.headers[i]

    def check(self, source: str, line: int | None = None) -> None:
        """Raise :class:`FileFormatError` for duplicate fields (missing ones are the caller's).

        The message names the source, the header line and, per field, the columns.
        """
        if not self.duplicates:
            return
        where = f"{source}: line {line}: " if line else f"{source}: "
        detail = "; ".join(
            f"{f} ({', '.join(repr(self.headers[i]) for i in p)})"
            for f, p in sorted(self.duplicates.items())
        )
        raise FileFormatError(f"{where}columns map to the same field twice: {detail}")


def match_columns(
    headers: Sequence[object],
    aliases: Mapping[str, Sequence[str]] | HeaderMatcher,
    required: Sequence[str] = (),
    partial: bool = False,
) -> ColumnMatch:
    """Map headers onto canonical fields: ``{field: (alias, ...)}`` (see :class:`HeaderMatcher`).

    Examples
    --------
    >>> m = match_columns(["经度 ", "ＬＡＴ", "备注"], {"lon": ("经度",), "lat": ("lat",)})
    >>> m.mapping, m.unknown
    ({'lon': 0, 'lat': 1}, [(2, '备注')])
    """
    matcher = aliases if isinstance(aliases, HeaderMatcher) else HeaderMatcher(aliases, partial)
    return matcher.match_columns(headers, required)


def header_finder(
    aliases: Mapping[str, Sequence[str]] | HeaderMatcher, required: Sequence[str]
) -> Callable[[list[object]], bool]:
    """A ``find_header`` for :func:`read_table`: the row naming every ``required`` field."""
    matcher = aliases if isinstance(aliases, HeaderMatcher) else HeaderMatcher(aliases)

    def found(cells: list[object]) -> bool:
        fields = {matcher.match(c) for c in cells if not is_blank(c)}
        return all(f in fields for f in required)

    return found


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------
@dataclass(slots=True)
class TableRow:
    """One data row: its line (file line, sheet row or feature number) and raw cells.

    ``cells`` line up with :attr:`Table.columns` (a short CSV row is short). Feature rows also
    carry their GeoJSON ``geometry`` (WGS-84) and feature ``id``.
    """

    line: int
    cells: list[Any]
    geometry: dict | None = None
    id: Any = None


@dataclass
class Table:
    """A table as read: its header texts and numbered rows; blank rows are skipped."""

    name: str
    format: str
    columns: list[str]
    rows: list[TableRow]
    header_line: int = 0

    @property
    def features(self) -> bool:
        """Whether the rows are GeoJSON/OGR features (properties as columns)."""
        return self.format in ("geojson", "ogr")


def read_table(
    path: str | Path,
    fmt: str | None = None,
    sheet: str | int | None = None,
    *,
    find_header: Callable[[list[object]], bool] | None = None,
    header_hint: str = "",
    limits: TableLimits | None = None,
) -> Table:
    """Read a CSV, XLSX, GeoJSON or OGR file into a :class:`Table`.

    Parameters
    ----------
    path
        The file.
    fmt
        ``csv``, ``xlsx``, ``geojson`` or ``gpkg``; by default from the extension.
    sheet
        Sheet name or 0-based position (XLSX); the first sheet by default.
    find_header
        Tells the header row among the first :data:`HEADER_SEARCH_ROWS` lines (see
        :func:`header_finder`); by default the first non-blank row is the header.
    header_hint
        Completes the message when no header is found (``"with a name column (名称/name)"``).
    limits
        Rows, uncompressed size and cell length allowed (default :func:`table_limits`).

    Raises
    ------
    FileFormatError
        No such file, an empty or unreadable file, an unknown sheet, no header, a file over
        the limits.
    """
    path = Path(path)
    limits = limits or table_limits()
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    kind = detect_format(path, fmt)
    if kind == "geojson":
        return _feature_table(_geojson_features(path), path.name, kind, limits)
    if kind == "ogr":
        return _feature_table(_ogr_features(path), path.name, kind, limits)
    if kind == "csv":
        text = decode(path.read_bytes(), path.name)
        sample = text[:4096]
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

        def numbered() -> Iterator[tuple[int, list[str]]]:
            start = 1
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1

        try:
            return _with_header(numbered(), path.name, kind, find_header, header_hint, limits)
        except csv.Error as exc:
            raise FileFormatError(f"{path.name}: line {reader.line_num}: {exc}") from None
    import openpyxl

    _check_xlsx(path, limits)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types
        raise FileFormatError(f"{path.name}: not a readable .xlsx file ({exc})") from None
    try:
        if isinstance(sheet, int):
            if not 0 <= sheet < len(wb.worksheets):
                raise FileFormatError(
                    f"{path.name}: no sheet {sheet}; it has {len(wb.worksheets)} sheets"
                )
            ws = wb.worksheets[sheet]
        elif sheet is not None:
            if sheet not in wb.sheetnames:
                raise FileFormatError(
                    f"{path.name}: no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}"
                )
            ws = wb[sheet]
        else:
            ws = wb.worksheets[0]
        rows = ((i, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True), 1))
        try:
            return _with_header(rows, path.name, kind, find_header, header_hint, limits)
        except FileFormatError:
            raise
        except Exception as exc:  # a damaged sheet inside a readable zip
            raise FileFormatError(f"{path.name}: not a readable .xlsx file ({exc})") from None
    finally:
        wb.close()


def check_table_file(
    path: str | Path, fmt: str | None = None, limits: TableLimits | None = None
) -> str:
    """The cheap structural check of a table file, made before it is queued for reading.

    Refuses an empty file, an ``.xlsx`` that is not a readable zip (random bytes, truncated)
    or whose members uncompress beyond the limit, a GeoJSON that is not a FeatureCollection
    (or is nested too deeply), a CSV that is not text. Rows are not read (that is
    :func:`read_table`'s work, within the row limit); returns the format.

    Raises
    ------
    FileFormatError
        What is wrong, with the figures.
    """
    path = Path(path)
    limits = limits or table_limits()
    kind = detect_format(path, fmt)
    try:
        size = path.stat().st_size
    except OSError:
        raise FileFormatError(f"{path.name}: no such file") from None
    if size == 0:
        raise FileFormatError(f"{path.name}: empty file")
    if kind == "xlsx":
        _check_xlsx(path, limits)
    elif kind == "geojson":
        _geojson_features(path)
    elif kind == "csv":
        with path.open("rb") as f:
            head = f.read(65536)
        if b"\x00" in head:
            raise FileFormatError(f"{path.name}: not a text (CSV) file")
        try:
            head.decode("utf-8-sig")
        except UnicodeDecodeError as exc:  # a multi-byte character cut at the end is fine
            if exc.start < len(head) - 4:
                decode(head, path.name)
    return kind


def _check_xlsx(path: Path, limits: TableLimits) -> None:
    """Refuse an ``.xlsx`` that is not a zip, or whose members uncompress beyond the limit.

    The sizes come from the zip's central directory; :mod:`zipfile` (which openpyxl reads
    through) never inflates a member beyond its declared size, so the check is sound.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileFormatError(
            f"{path.name}: not a readable .xlsx file ({exc}); save it again as .xlsx"
        ) from None
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_mb * 1024 * 1024:
        raise FileFormatError(
            f"{path.name}: uncompresses to {total / 1048576:,.0f} MB, more than the limit of "
            f"{limits.max_uncompressed_mb:g} MB"
        )
    if not any(i.filename == "xl/workbook.xml" for i in infos):
        raise FileFormatError(f"{path.name}: not a readable .xlsx file (no workbook inside)")
    # openpyxl parses a whole sheet to size it when the sheet has no <dimension>: count first.
    for info in infos:
        sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        most = limits.max_rows + HEADER_SEARCH_ROWS  # the header and a title may sit above
        if sheet and _count_sheet_rows(path, info.filename, limits.max_rows) > most:
            raise _too_many_rows(path.name, limits)


def _count_sheet_rows(path: Path, member: str, limit: int) -> int:
    """Rows of a sheet (``<row>`` elements, blank ones too), counted in its XML as it inflates
    (a few MB at a time, no parsing), stopping as soon as there are more than ``limit`` data
    rows plus the header search.

    Any sheet of a workbook over the limit refuses the workbook, not only the sheet read."""
    stop = limit + HEADER_SEARCH_ROWS
    count = 0
    tail = b""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member) as f:
            while chunk := f.read(4 * 1024 * 1024):
                data = tail + chunk
                count += data.count(b"<row ") + data.count(b"<row>")
                tail = data[-5:]
                count -= tail.count(b"<row ") + tail.count(b"<row>")  # counted again next
                if count > stop:
                    return count
    except (KeyError, zipfile.BadZipFile, OSError, EOFError):
        return 0  # openpyxl's own reading reports a damaged member
    return count + tail.count(b"<row ") + tail.count(b"<row>")


def _geojson_features(path: Path) -> list:
    """The features of a GeoJSON FeatureCollection (or one Feature)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path.name}: not valid GeoJSON ({exc})") from None
    if not text.strip():
        raise FileFormatError(f"{path.name}: empty file")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise FileFormatError(f"{path.name}: not valid GeoJSON ({exc})") from None
    except RecursionError:  # the decoder's own bound on nesting
        raise FileFormatError(f"{path.name}: not valid GeoJSON (nested too deeply)") from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise FileFormatError(
            f"{path.name}: not a GeoJSON FeatureCollection (needs a list of features)"
        )
    for n, feat in enumerate(features, 1):
        if feat is not None and not isinstance(feat, dict):
            raise FileFormatError(f"{path.name}: feature {n} is not a JSON object")
        props = (feat or {}).get("properties")
        if props is not None and not isinstance(props, dict):
            raise FileFormatError(f"{path.name}: feature {n}: properties is not a JSON object")
        geom = (feat or {}).get("geometry")
        if geom is not None and not isinstance(geom, dict):
            raise FileFormatError(f"{path.name}: feature {n}: geometry is not a JSON object")
    return features


def _too_many_rows(name: str, limits: TableLimits) -> FileFormatError:
    return FileFormatError(
        f"{name}: more than {limits.max_rows:,} rows (the limit); split the file"
    )


def _check_cells(cells: Sequence[Any], name: str, line: int, limits: TableLimits) -> None:
    for i, c in enumerate(cells):
        if isinstance(c, str) and len(c) > limits.max_cell_chars:
            raise FileFormatError(
                f"{name}: line {line}: column {i + 1} holds {len(c):,} characters, more than "
                f"the limit of {limits.max_cell_chars:,}"
            )


def _with_header(
    rows: Iterator[tuple[int, list[Any]]],
    name: str,
    kind: str,
    find_header: Callable[[list[object]], bool] | None,
    header_hint: str,
    limits: TableLimits | None = None,
) -> Table:
    """Find the header row, then keep the non-blank rows after it (within the limits)."""
    limits = limits or table_limits()
    columns: list[str] | None = None
    header_line = 0
    out: list[TableRow] = []
    for line, cells in rows:
        _check_cells(cells, name, line, limits)
        if columns is None:
            if _blank_row(cells):
                pass
            elif find_header is None or find_header(cells):
                columns, header_line = [cell_text(c) for c in cells], line
                continue
            if line >= HEADER_SEARCH_ROWS and find_header is not None:
                break
            continue
        if _blank_row(cells):
            continue
        if len(out) >= limits.max_rows:
            raise _too_many_rows(name, limits)
        out.append(TableRow(line, cells))
    if columns is None:
        if find_header is None:
            raise FileFormatError(f"{name}: empty file")
        raise FileFormatError(
            f"{name}: no header row {header_hint} in the first {HEADER_SEARCH_ROWS} lines".replace(
                "  ", " "
            )
        )
    return Table(name, kind, columns, out, header_line)


def _feature_table(
    features: list, name: str, kind: str, limits: TableLimits | None = None
) -> Table:
    """Features as rows: their properties as columns (in order of first appearance)."""
    limits = limits or table_limits()
    if len(features) > limits.max_rows:
        raise _too_many_rows(name, limits)
    columns: dict[str, int] = {}
    props_list = []
    for feat in features:
        props = (feat or {}).get("properties") or {}
        props_list.append(props)
        for k in props:
            columns.setdefault(str(k), len(columns))
    rows = []
    for n, (feat, props) in enumerate(zip(features, props_list, strict=True), 1):
        cells: list[Any] = [None] * len(columns)
        for k, v in props.items():
            cells[columns[str(k)]] = v
        _check_cells(cells, name, n, limits)
        feat = feat or {}
        rows.append(TableRow(n, cells, feat.get("geometry") or None, feat.get("id")))
    return Table(name, kind, list(columns), rows, 0)


def _ogr_features(path: Path) -> list:
    import pyogrio

    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise FileFormatError(f"{path.name}: cannot read ({exc})") from None
    if gdf.crs is not None and gdf.crs.to_epsg() not in (4326, 4490):
        gdf = gdf.to_crs(4326)
    return json.loads(gdf.to_json(drop_id=True))["features"]


def read_frame(
    source: str | Path | pd.DataFrame,
    sheet: str | int | None = None,
    fmt: str | None = None,
    *,
    text: bool = True,
    geometry: str = "point",
    find_header: Callable[[list[object]], bool] | None = None,
    header_hint: str = "",
    limits: TableLimits | None = None,
) -> pd.DataFrame:
    """A table as a DataFrame whose index is each row's line number (named ``line``).

    Parameters
    ----------
    source
        A file (see :func:`read_table`) or a DataFrame, passed through (its rows numbered from
        2, as if its header were line 1).
    text
        Every cell as text (blanks ``""``); otherwise cells as read (blanks ``None``).
    geometry
        For features: ``"point"`` puts a Point's coordinates into ``lon``/``lat`` (overriding
        properties of those names) and refuses other geometries; ``"inside"`` replaces a
        polygon by a point inside it (their number is in ``frame.attrs["polygons"]``).
    find_header, header_hint, limits
        See :func:`read_table`.

    The frame's ``attrs`` hold ``name`` (file name, or ``"table"``), ``format``,
    ``header_line`` (0 for features) and ``polygons``.

    Raises
    ------
    FileFormatError
        An unreadable file or, with ``geometry="point"``, a feature that is not a point.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        if text:
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
        frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
        frame.attrs.update(name="table", format="frame", header_line=1, polygons=0)
        return frame
    table = read_table(
        source, fmt, sheet, find_header=find_header, header_hint=header_hint, limits=limits
    )
    width = len(table.columns)
    data = [(r.cells + [None] * width)[:width] for r in table.rows]
    polygons = 0
    if table.features:
        columns = list(table.columns)
        extra = [c for c in ("lon", "lat") if c not in columns]
        if "id" not in columns and any(r.id not in (None, "") for r in table.rows):
            extra.append("id")
        columns += extra
        ilon, ilat = columns.index("lon"), columns.index("lat")
        for r, cells in zip(table.rows, data, strict=True):
            cells.extend([None] * len(extra))
            if "id" in extra:
                cells[columns.index("id")] = r.id
            point = _point(r, table.name, geometry)
            if point is not None:
                cells[ilon], cells[ilat] = point
                polygons += r.geometry is not None and r.geometry.get("type") != "Point"
    else:
        columns = table.columns
    frame = pd.DataFrame(data, columns=columns, dtype=object)
    frame.index = pd.Index([r.line for r in table.rows], name="line", dtype="int64")
    frame = frame.map(cell_text) if text else frame.map(lambda v: None if is_blank(v) else v)
    frame.attrs.update(
        name=table.name, format=table.format, header_line=table.header_line, polygons=polygons
    )
    return frame


def _point(row: TableRow, name: str, geometry: str) -> tuple[float, float] | None:
    geom = row.geometry
    if not geom:
        return None
    kind = geom.get("type")
    if kind == "Point":
        coords = list(geom.get("coordinates") or [])
        x, y = [*coords, None, None][:2]
        return x, y
    if geometry == "inside" and kind in ("Polygon", "MultiPolygon"):
        import shapely.geometry

        pt = shapely.geometry.shape(geom).representative_point()
        return pt.x, pt.y
    raise FileFormatError(f"{name}: feature {row.line} is a {kind}, not a Point")
