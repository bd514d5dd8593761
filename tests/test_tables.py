"""The one table reader and header matcher: formats, encodings, title rows, line numbers."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

from geo import tables
from geo.errors import FileFormatError
from geo.records import read_registry
from geo.tables import (
    HeaderMatcher,
    header_finder,
    match_columns,
    normalise_header,
    read_frame,
    read_table,
)

ALIASES = {"name": ("名称", "name"), "lon": ("经度", "lon"), "lat": ("纬度", "lat")}
FIND = header_finder(ALIASES, ("name",))
CSV = "某某县站点名录（2026年）\n名称,经度,纬度,备注\n甲站,109.41,24.33,x\n\n乙站,109.5,24.4,\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_title_row_encodings_and_line_numbers(tmp_path, encoding):
    path = tmp_path / "t.csv"
    path.write_bytes(CSV.encode(encoding))
    table = read_table(path, find_header=FIND)
    assert table.format == "csv" and table.header_line == 2
    assert table.columns == ["名称", "经度", "纬度", "备注"]
    # The blank line 4 is skipped; line numbers are the file's own.
    assert [(r.line, r.cells[0]) for r in table.rows] == [(3, "甲站"), (5, "乙站")]


def test_csv_without_finder_takes_first_row_and_tabs_are_sniffed(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("\n名称\t经度\n甲\t109\n", encoding="utf-8")
    table = read_table(path)
    assert table.header_line == 2 and table.columns == ["名称", "经度"]
    assert table.rows[0].cells == ["甲", "109"]


def test_quoted_newline_keeps_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('名称,备注\n甲,"两\n行"\n乙,x\n', encoding="utf-8")
    assert [r.line for r in read_table(path).rows] == [2, 4]


def test_no_header_is_refused_with_the_hint(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("编号,地址\n1,柳州\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="no header row with a name column"):
        read_table(path, find_header=FIND, header_hint="with a name column")
    empty = tmp_path / "e.csv"
    empty.write_text("\n,,\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="empty file"):
        read_table(empty)
    with pytest.raises(FileFormatError, match="no such file"):
        read_table(tmp_path / "none.csv")


def test_xlsx_sheet_choice_and_row_numbers(tmp_path):
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["这一页不是数据"])
    ws = wb.create_sheet("站点")
    ws.append(["站点名录"])
    ws.append(["名称", "经度", "纬度"])
    ws.append(["甲站", 109.41, 24.33])
    wb.save(path)
    table = read_table(path, sheet="站点", find_header=FIND)
    assert table.header_line == 2 and [r.line for r in table.rows] == [3]
    assert table.rows[0].cells == ["甲站", 109.41, 24.33]
    assert read_table(path, sheet=1, find_header=FIND).rows[0].line == 3
    with pytest.raises(FileFormatError, match="no sheet '站'"):
        read_table(path, sheet="站")
    frame = read_frame(path, sheet="站点", find_header=FIND)
    assert frame.index.tolist() == [3] and frame.loc[3, "经度"] == "109.41"


def _geojson(tmp_path, features):
    path = tmp_path / "t.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def test_geojson_features_are_rows(tmp_path):
    point = {"type": "Point", "coordinates": [109.4, 24.3]}
    square = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
    path = _geojson(
        tmp_path,
        [
            {"type": "Feature", "id": "a", "geometry": point, "properties": {"名称": "甲"}},
            {"type": "Feature", "geometry": square, "properties": {"备注": "x", "lon": 1}},
        ],
    )
    table = read_table(path)
    assert table.features and table.columns == ["名称", "备注", "lon"]
    assert [(r.line, r.cells, r.id) for r in table.rows] == [
        (1, ["甲", None, None], "a"),
        (2, [None, "x", 1], None),
    ]
    with pytest.raises(FileFormatError, match="feature 2 is a Polygon, not a Point"):
        read_frame(path)
    frame = read_frame(path, geometry="inside")
    assert frame.index.tolist() == [1, 2] and frame.attrs["polygons"] == 1
    assert frame.loc[1, "lon"] == "109.4" and frame.loc[1, "id"] == "a"
    assert 0 < float(frame.loc[2, "lon"]) < 2  # the geometry wins over a lon property


def test_header_normalisation():
    assert normalise_header(" Station ID ") == normalise_header("station_id") == "stationid"
    assert normalise_header("ＳＴＡＴＩＯＮ－ＩＤ") == "stationid"
    assert normalise_header("*名称：") == "名称"
    assert tables.split_header("常住人口（万人）") == ("常住人口", "万人")


def test_match_columns_full_width_spaced_and_bracketed():
    m = match_columns(["名 称", "ＬＯＮ", "纬度(WGS84)", "备注", ""], ALIASES)
    assert m.mapping == {"name": 0, "lon": 1, "lat": 2}
    assert m.unknown == [(3, "备注")] and not m.duplicates and not m.missing
    assert m.header("lat") == "纬度(WGS84)"
    assert match_columns(["名称"], ALIASES, required=("lon", "lat")).missing == ["lon", "lat"]


def test_duplicate_mapped_headers_are_reported_not_silently_first():
    m = match_columns(["名称", "lon", "经度", "lat"], ALIASES)
    assert m.duplicates == {"lon": [1, 2]}
    with pytest.raises(FileFormatError, match=r"line 3: columns map to the same field twice: lon"):
        m.check("t.csv", 3)


def test_registry_with_lon_twice_is_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("名称,类型,lon,lon,lat\n甲,工会爱心驿站,109.4,0,24.3\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="same field twice: lon"):
        read_registry(path)


def test_ambiguous_alias_table_is_refused():
    with pytest.raises(ValueError, match="names both"):
        HeaderMatcher({"a": ("x_y",), "b": ("xy",)})


def test_partial_match_is_a_last_resort():
    aliases = {"population": ("常住人口", "pop")}
    assert match_columns(["2020年常住人口"], aliases).mapping == {}
    assert match_columns(["2020年常住人口"], aliases, partial=True).mapping == {"population": 0}


def test_dataframe_passes_through_numbered_from_two():
    source = pd.DataFrame({"code": ["450203", None], "pop": [1.5, float("nan")]})
    frame = read_frame(source)
    assert frame.index.tolist() == [2, 3] and frame.index.name == "line"
    assert frame["code"].tolist() == ["450203", ""] and frame["pop"].tolist() == ["1.5", ""]
    raw = read_frame(source, text=False)
    assert raw["pop"].iloc[0] == 1.5
    assert source.index.tolist() == [0, 1]  # the caller's frame is not changed


def test_read_frame_raw_cells_blank_is_none(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("名称,经度\n甲,\n", encoding="utf-8")
    frame = read_frame(path, text=False)
    assert frame.loc[2, "名称"] == "甲" and frame.loc[2, "经度"] is None


def test_preferred_column_follows_the_alias_order():
    aliases = {"population": ("常住人口", "户籍人口", "population")}
    m = match_columns(["户籍人口", "常住人口（万人）", "代码"], aliases)
    assert m.duplicates == {"population": [0, 1]} and m.preferred("population") == 1
    assert m.preferred("code") is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("\u3000柳州\u00a0 市\t", "柳州 市"),  # ideographic and no-break spaces
        ("ＡＢ１２", "AB12"),
        ("plain  ascii\n", "plain ascii"),
        (12351.0, "12351"),
        (1.5, "1.5"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_text(value, expected):
    assert tables.normalise_text(value) == expected


def test_row_and_cell_limits_refuse_with_the_figures(tmp_path):
    from geo.tables import TableLimits

    path = tmp_path / "t.csv"
    path.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(11)), encoding="utf-8")
    assert len(read_table(path, limits=TableLimits(max_rows=11)).rows) == 11
    with pytest.raises(FileFormatError, match="more than 10 rows"):
        read_table(path, limits=TableLimits(max_rows=10))
    path.write_text("a,b\n1," + "字" * 101 + "\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="line 2: column 2 holds 101 characters"):
        read_table(path, limits=TableLimits(max_cell_chars=100))
    doc = {"type": "FeatureCollection", "features": [{"properties": {"a": i}} for i in range(3)]}
    geo_path = tmp_path / "t.geojson"
    geo_path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(FileFormatError, match="more than 2 rows"):
        read_table(geo_path, limits=TableLimits(max_rows=2))


def test_xlsx_limits_are_checked_before_openpyxl_parses(tmp_path):
    """Rows are counted in the sheet's XML (openpyxl would parse a whole sheet without a
    <dimension> to size it); the uncompressed size comes from the zip's directory."""
    from geo.tables import TableLimits, check_table_file

    wb = openpyxl.Workbook()
    for i in range(30):
        wb.active.append([f"r{i}", i])
    wb.save(tmp_path / "t.xlsx")
    assert len(read_table(tmp_path / "t.xlsx", limits=TableLimits(max_rows=29)).rows) == 29
    with pytest.raises(FileFormatError, match="more than 28 rows"):
        read_table(tmp_path / "t.xlsx", limits=TableLimits(max_rows=28))  # while reading
    with pytest.raises(FileFormatError, match="more than 5 rows"):
        check_table_file(tmp_path / "t.xlsx", limits=TableLimits(max_rows=5))  # counted first
    with pytest.raises(FileFormatError, match=r"uncompresses to .* more than the limit"):
        read_table(tmp_path / "t.xlsx", limits=TableLimits(max_uncompressed_mb=0.001))


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"type": "FeatureCollection", "features": {"type": "Feature"}}, "list of features"),
        ({"type": "FeatureCollection", "features": [[1, 2]]}, "feature 1 is not a JSON object"),
        ({"type": "FeatureCollection", "features": [{"properties": [1]}]}, "properties is not"),
        ({"type": "FeatureCollection", "features": [{"geometry": "x"}]}, "geometry is not"),
        ([1, 2, 3], "not a GeoJSON FeatureCollection"),
    ],
)
def test_malformed_geojson_is_a_file_format_error(tmp_path, doc, message):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(FileFormatError, match=message):
        read_table(path)


def test_deeply_nested_json_and_empty_files_are_refused(tmp_path):
    from geo.tables import check_table_file

    deep = tmp_path / "deep.geojson"
    deep.write_text('{"features":' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    with pytest.raises(FileFormatError, match="nested too deeply"):
        read_table(deep)
    for name in ("empty.csv", "empty.xlsx", "empty.geojson"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(FileFormatError, match="empty file"):
            check_table_file(tmp_path / name)


def test_strip_control_keeps_tabs_and_newlines():
    from geo.tables import strip_control

    assert strip_control("a\x00b\x1bc\x7fd\x9be") == ("abcde", True)
    assert strip_control("a\tb\nc\r") == ("a\tb\nc\r", False)
    assert strip_control("正常文本") == ("正常文本", False)
