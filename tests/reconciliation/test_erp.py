"""ERP import: real-world exports load; a corpus of malformed files each gives its one-line error."""

import io
import zipfile

import pandas as pd
import pytest
from openpyxl import Workbook

from reconciliation.erp import ColumnMapping, ErpLimits, load_erp, parse_erp
from reconciliation.errors import ReconciliationError
from tests.reconciliation.factories import erp_frame, write_csv
from warehouse.site import load_site
from tests.conftest import DEFAULT_SITE


@pytest.fixture(scope="module")
def site():
    return load_site(DEFAULT_SITE)


def _xlsx(path, rows, sheet="Stock"):
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_csv_with_bom_vietnamese_and_leading_zeros(tmp_path, site):
    p = write_csv(tmp_path / "e.csv", erp_frame(), bom=True)
    snap = load_erp(p, site=site)
    assert snap.rows["sku"].tolist() == ["000401001", "000401002", "000401003"]
    assert snap.rows["description"][0] == "Lốp xe 205/55R16"
    assert snap.rows["qty"].tolist() == [4, 6, 2]


def test_sap_column_names_and_semicolons(tmp_path, site):
    df = pd.DataFrame({"LGPLA": ["A01-B01-L1-P1"], "MATNR": ["000401001"], "GESME": ["1.200"], "CHARG": ["L7"]})
    p = write_csv(tmp_path / "sap.csv", df, sep=";")
    snap = load_erp(p, ColumnMapping(thousands=".", decimal=","), site=site)
    assert snap.rows.iloc[0].to_dict() | {} == snap.rows.iloc[0].to_dict()
    assert snap.rows["qty"][0] == 1200 and snap.rows["lot"][0] == "L7"


def test_thousands_separator(tmp_path):
    df = pd.DataFrame({"Bin": ["X1"], "Material": ["1"], "Quantity": ["1,200"]})
    assert load_erp(write_csv(tmp_path / "e.csv", df)).rows["qty"][0] == 1200


def test_mapping_file_for_other_exports(tmp_path, site):
    df = pd.DataFrame({"Vị trí": ["A01-B01-L1-P1"], "Mã hàng": ["000401001"], "Số lượng": ["3"]})
    p = write_csv(tmp_path / "vn.csv", df)
    m = tmp_path / "map.yaml"
    m.write_text("bin: Vị trí\nsku: Mã hàng\nqty: Số lượng\n", encoding="utf-8")
    from reconciliation.erp import load_mapping

    assert load_erp(p, load_mapping(m), site=site).rows["qty"][0] == 3


def test_xlsx_keeps_text_and_reads_the_named_sheet(tmp_path, site):
    p = _xlsx(tmp_path / "e.xlsx", [["Bin", "Material", "Quantity"], ["A01-B01-L1-P1", "000401001", 5]])
    snap = load_erp(p, site=site)
    assert snap.rows["sku"][0] == "000401001" and snap.rows["qty"][0] == 5


def test_duplicates_are_summed_with_a_warning(tmp_path):
    df = pd.DataFrame({"Bin": ["X1", "X1"], "Material": ["7", "7"], "Quantity": ["2", "3"]})
    with pytest.warns(UserWarning, match="quantities summed"):
        snap = load_erp(write_csv(tmp_path / "d.csv", df))
    assert snap.rows["qty"].tolist() == [5] and snap.warnings


def _bytes(name, data):
    def make(tmp):
        (tmp / name).write_bytes(data)
        return tmp / name

    return make


def _csv(text):
    return _bytes("e.csv", text.encode("utf-8"))


def _corrupt_xlsx(tmp):
    p = tmp / "e.xlsx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    p.write_bytes(buf.getvalue())
    return p


HEADER = "Bin,Material,Quantity\n"
MALFORMED = [
    ("empty file", _csv(""), "e.csv: file is empty; expected a header row"),
    ("header only", _csv(HEADER), "e.csv: header only, no stock rows"),
    ("missing quantity column", _csv("Bin,Material\nA01-B01-L1-P1,1\n"), "e.csv: no qty column; expected one of ['quantity'"),
    ("missing bin column", _csv("Where,Material,Quantity\nx,1,2\n"), "e.csv: no bin column"),
    ("mapped column missing", None, "e.csv: column 'LGPLA' (mapped to bin) is missing"),
    ("negative quantity", _csv(HEADER + "A01-B01-L1-P1,1,-3\n"), "e.csv: row 2: column 'Quantity': -3 is negative; expected a quantity >= 0"),
    ("non-numeric quantity", _csv(HEADER + "A01-B01-L1-P1,1,2\nA01-B01-L1-P2,1,many\n"), "e.csv: row 3: column 'Quantity': 'many' is not a number"),
    ("fractional quantity", _csv(HEADER + "A01-B01-L1-P1,1,2.5\n"), "e.csv: row 2: column 'Quantity': 2.5 is not a whole number"),
    ("empty bin", _csv(HEADER + ",1,2\n"), "e.csv: row 2: column 'Bin' is empty; expected a bin id"),
    ("empty sku", _csv(HEADER + "A01-B01-L1-P1,,2\n"), "e.csv: row 2: column 'Material' is empty"),
    ("unknown bin", _csv(HEADER + "A01-B01-L1-P1,1,2\nZ99-B01-L1-P1,1,2\n"), "e.csv: row 3: column 'Bin': bin 'Z99-B01-L1-P1' is not on site"),
    ("duplicate refused", _csv(HEADER + "A01-B01-L1-P1,1,2\nA01-B01-L1-P1,1,4\n"), "e.csv: rows 2, 3: bin 'A01-B01-L1-P1' and SKU '1' appear more than once"),
    ("latin-1 bytes", _bytes("e.csv", (HEADER + "A01-B01-L1-P1,1,2,L\xf6p\n").replace(",L\xf6p", "").encode() + "A01-B01-L1-P2,L\xf6p,3\n".encode("latin-1")), "e.csv: row 3: not UTF-8 text"),
    ("ragged row", _csv(HEADER + "A01-B01-L1-P1,1,2\nA01-B01-L1-P2,1,2,9,9\n"), "e.csv: row 3: wrong number of fields"),
    ("corrupt xlsx", _corrupt_xlsx, "e.xlsx: not a readable XLSX workbook"),
    ("xlsx without the sheet", None, "e.xlsx: sheet 'Bestand' not found"),
    ("unsupported type", _bytes("e.pdf", b"%PDF-1.4"), "e.pdf: unsupported file type '.pdf'; expected .csv or .xlsx"),
    ("missing file", lambda tmp: tmp / "nope.csv", "nope.csv: ERP file not found"),
]


@pytest.mark.parametrize("name,make,expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_erp_files(tmp_path, site, name, make, expected):
    mapping = ColumnMapping()
    if name == "mapped column missing":
        p = _csv(HEADER + "A01-B01-L1-P1,1,2\n")(tmp_path)
        mapping = ColumnMapping(bin="LGPLA")
    elif name == "xlsx without the sheet":
        p = _xlsx(tmp_path / "e.xlsx", [["Bin", "Material", "Quantity"], ["A01-B01-L1-P1", "1", 2]])
        mapping = ColumnMapping(sheet="Bestand")
    else:
        p = make(tmp_path)
    with pytest.raises(ReconciliationError) as e:
        load_erp(p, mapping, site=site, duplicates="refuse")
    msg = str(e.value)
    assert "\n" not in msg
    assert expected in msg, msg


def test_corpus_is_large_enough():
    assert len(MALFORMED) >= 15


def test_malformed_file_through_the_cli_exits_1(tmp_path, capsys):
    from rackscan.cli import main
    from tests.reconciliation.factories import bundle_with_observations, observations

    b = bundle_with_observations(tmp_path / "b", observations([("A01-B01-L1-P1", "1", 2)]))
    p = _csv(HEADER + "A01-B01-L1-P1,1,-3\n")(tmp_path)
    assert main(["reconcile", "--flight", str(b), "--erp", str(p)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {p}: row 2: column 'Quantity': -3 is negative; expected a quantity >= 0"


def _bomb_xlsx(tmp, *, mb=8):
    """A real workbook with a sheet padded by megabytes of blanks: packs ~1000:1."""
    buf = io.BytesIO()
    wb = Workbook()
    wb.active.append(["Bin", "Material", "Quantity"])
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    p = tmp / "bomb.xlsx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData>" + b" " * (mb * 2**20))
            out.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return p


LIMITS = ErpLimits(max_bytes=2**20, max_rows=5, max_columns=6, max_field_chars=50, max_uncompressed_bytes=4 * 2**20,
                   max_compression_ratio=100)
REFUSED = [
    ("over the byte limit", lambda t: _csv(HEADER + "A01-B01-L1-P1,1,2\n" * 300)(t), "e.csv: 5.3 kB, over the limit of 4.0 kB for an ERP file"),
    ("too many rows", lambda t: _csv(HEADER + "A01-B01-L1-P1,1,2\n" * 6)(t), "e.csv: more than 5 rows; refused"),
    ("too many columns", lambda t: _csv("a,b,c,d,e,f,g\n1,2,3,4,5,6,7\n")(t), "e.csv: row 1: 7 fields, over the limit of 6"),
    ("a huge cell", lambda t: _csv(HEADER + "A01-B01-L1-P1," + "9" * 60 + ",2\n")(t), "e.csv: row 2: a field over the limit of 50"),
    ("binary posing as csv", _bytes("e.csv", b"Bin,Material\x00,Quantity\n"), "e.csv: byte 12: a NUL byte"),
    ("xlsx posing as csv", lambda t: _bytes("e.csv", _corrupt_xlsx(t).read_bytes())(t), "e.csv: content is a zip archive"),
    ("csv posing as xlsx", _bytes("e.xlsx", HEADER.encode()), "e.xlsx: content is not an XLSX workbook (no zip signature at byte 0)"),
    ("zip bomb by size", lambda t: _bomb_xlsx(t, mb=8), "bomb.xlsx: unpacks to 8.0 MB, over the limit of 4.0 MB; refused unread"),
    ("zip bomb by ratio", lambda t: _bomb_xlsx(t, mb=3), "member 'xl/worksheets/sheet1.xml' unpacks 911x (3.0 MB), over the limit of 100x; refused unread"),
    ("too many xlsx rows", lambda t: _xlsx(t / "e.xlsx", [["Bin", "Material", "Quantity"]] + [["A01-B01-L1-P1", "1", 1]] * 6),
     "e.xlsx: more than 5 rows; refused"),
]


@pytest.mark.parametrize("name,make,expected", REFUSED, ids=[r[0] for r in REFUSED])
def test_files_over_the_limits_are_refused_in_one_line(tmp_path, name, make, expected):
    p = make(tmp_path)
    limits = LIMITS if name != "over the byte limit" else ErpLimits(max_bytes=4096)
    with pytest.raises(ReconciliationError) as e:
        load_erp(p, limits=limits)
    assert expected in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_upload_bytes_are_named_by_the_upload_not_a_path(site):
    snap = parse_erp("stock.csv", (HEADER + "A01-B01-L1-P1,000401001,2\n").encode(), site=site)
    assert snap.source == "stock.csv" and snap.rows.qty.tolist() == [2]
    with pytest.raises(ReconciliationError, match=r"^stock.csv: row 2: column 'Quantity': -2 is negative"):
        parse_erp("stock.csv", (HEADER + "A01-B01-L1-P1,000401001,-2\n").encode(), site=site)
