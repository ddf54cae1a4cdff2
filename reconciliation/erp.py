"""ERP stock import: CSV or XLSX with a configurable column mapping, validated row by row.

Errors name the file, the row (as a spreadsheet user counts them: header = row 1) and the column,
and say what was expected. Leading zeros in bins and SKUs are kept (every cell is read as text).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict

from reconciliation.errors import ReconciliationError

# Column names recognised without a mapping file (case-insensitive): rackscan's own export,
# SAP WM/EWM stock exports (LGPLA storage bin, MATNR material, GESME/VERME quantity, CHARG batch).
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "bin": ("bin", "bin_id", "location", "storage bin", "lgpla", "storage_bin"),
    "sku": ("sku", "material", "matnr", "product", "article", "item"),
    "qty": ("quantity", "qty", "gesme", "verme", "stock", "available stock", "on hand"),
    "description": ("description", "maktx", "material description", "name"),
    "lot": ("lot", "batch", "charg"),
    "unit_price": ("unit_price", "price", "unit price"),
    "gtin": ("gtin", "ean", "ean11", "ean13", "ean/upc", "upc", "barcode"),  # optional: then it is the product master too
}


class ColumnMapping(BaseModel):
    """Which column of the export holds what (YAML: ``bin: LGPLA``, ``sku: MATNR``, ...)."""

    model_config = ConfigDict(extra="forbid")
    bin: str | None = None
    sku: str | None = None
    qty: str | None = None
    description: str | None = None
    lot: str | None = None
    unit_price: str | None = None
    gtin: str | None = None
    sheet: str | int | None = None
    thousands: str = ","
    decimal: str = "."


def load_mapping(path: str | Path) -> ColumnMapping:
    from warehouse.validation import load_yaml_model

    return load_yaml_model(path, ColumnMapping, what="ERP column mapping", error=ReconciliationError)


@dataclass
class ErpSnapshot:
    source: str
    sha256: str
    rows: pd.DataFrame  # bin_id, sku, qty (int), description, lot, unit_price, gtin
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ErpLimits:
    """What an ERP file may hold before it is refused unread (a zip bomb or a runaway export).

    The defaults fit a whole distribution centre's stock export (100,000 bins is about 5 MB of
    CSV); the dashboard's upload limit is smaller (``rackscan dashboard --max-upload-mb``).
    """

    max_bytes: int = 64 * 2**20
    max_rows: int = 1_000_000
    max_columns: int = 200
    max_field_chars: int = 1_000
    max_uncompressed_bytes: int = 512 * 2**20  # XLSX: all members of the zip together
    max_compression_ratio: float = 200.0  # XLSX: one member's unpacked / packed size


ZIP_MAGIC = b"PK\x03\x04"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")


def _mb(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB"
    return f"{n / 1024:.1f} kB" if n >= 1024 else f"{n} bytes"


def sniff_kind(name: str, raw: bytes) -> str:
    """'csv' or 'xlsx' from the file name, confirmed by the content; a one-line error otherwise."""
    suffix = Path(name).suffix.lower()
    if suffix in XLSX_SUFFIXES:
        if not raw.startswith(ZIP_MAGIC):
            raise ReconciliationError(f"{name}: content is not an XLSX workbook (no zip signature at byte 0); "
                                      "expected an Excel .xlsx export")
        return "xlsx"
    if suffix in CSV_SUFFIXES:
        if raw.startswith(ZIP_MAGIC):
            raise ReconciliationError(f"{name}: content is a zip archive (an XLSX workbook?), not CSV text; "
                                      "rename it to .xlsx or export as CSV")
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise ReconciliationError(f"{name}: byte {nul}: a NUL byte, so this is binary, not CSV text; "
                                      "expected a UTF-8 CSV export")
        return "csv"
    raise ReconciliationError(f"{name}: unsupported file type {suffix or '(none)'!r}; expected .csv or .xlsx")


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_xlsx(name: str, raw: bytes, mapping: ColumnMapping, limits: ErpLimits) -> pd.DataFrame:
    import io
    import zipfile

    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
        members = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ReconciliationError(f"{name}: not a readable XLSX workbook ({exc}); expected an Excel .xlsx export") from None
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed_bytes:
        raise ReconciliationError(f"{name}: unpacks to {_mb(total)}, over the limit of {_mb(limits.max_uncompressed_bytes)}; "
                                  "refused unread (a zip bomb, or an export far larger than a stock list)")
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > 2**20 and ratio > limits.max_compression_ratio:
            raise ReconciliationError(f"{name}: member {m.filename!r} unpacks {ratio:.0f}x ({_mb(m.file_size)}), over the "
                                      f"limit of {limits.max_compression_ratio:.0f}x; refused unread (a zip bomb?)")
    if "xl/workbook.xml" not in {m.filename for m in members}:
        raise ReconciliationError(f"{name}: not a readable XLSX workbook (no xl/workbook.xml in the zip); "
                                  "expected an Excel .xlsx export")
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zip/xml errors of a corrupt workbook
        raise ReconciliationError(f"{name}: not a readable XLSX workbook ({type(exc).__name__}); expected an Excel .xlsx export") from None
    try:
        sheet = mapping.sheet if mapping.sheet is not None else 0
        if isinstance(sheet, int):
            if sheet >= len(wb.sheetnames):
                raise ReconciliationError(f"{name}: sheet {sheet} not found (the workbook has {len(wb.sheetnames)}); "
                                          "set 'sheet' in the mapping to an existing sheet")
            ws = wb[wb.sheetnames[sheet]]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise ReconciliationError(f"{name}: sheet {sheet!r} not found (sheets: {wb.sheetnames}); "
                                      "set 'sheet' in the mapping to an existing sheet")
        rows: list[list[str]] = []
        try:
            for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if i > limits.max_rows + 1:
                    raise ReconciliationError(f"{name}: more than {limits.max_rows:,} rows; refused (limit max_rows)")
                if len(values) > limits.max_columns:
                    raise ReconciliationError(f"{name}: row {i}: {len(values)} columns, over the limit of {limits.max_columns}")
                cells = [_cell_text(v) for v in values]
                for j, c in enumerate(cells):
                    if len(c) > limits.max_field_chars:
                        raise ReconciliationError(f"{name}: row {i}: column {j + 1}: {len(c):,} characters, over the limit of "
                                                  f"{limits.max_field_chars:,} for one cell")
                rows.append(cells)
        except ReconciliationError:
            raise
        except Exception as exc:  # noqa: BLE001 - malformed sheet XML
            raise ReconciliationError(f"{name}: not a readable XLSX workbook ({type(exc).__name__} in sheet {ws.title!r}); "
                                      "expected an Excel .xlsx export") from None
    finally:
        wb.close()
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        return pd.DataFrame()
    header = [h.strip() for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    body = [(r + [""] * len(header))[: len(header)] for r in rows[1:]]
    return pd.DataFrame(body, columns=header, dtype=str)


def _read_csv(name: str, raw: bytes, limits: ErpLimits) -> pd.DataFrame:
    import csv
    import io

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ReconciliationError(f"{name}: row {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                                  "save the export as UTF-8 CSV") from None
    if not text.strip():
        raise ReconciliationError(f"{name}: file is empty; expected a header row and one row per bin and SKU")
    try:
        sep = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
    old_limit = csv.field_size_limit(limits.max_field_chars)
    try:
        for row in reader:
            if not row or not any(c.strip() for c in row):
                continue
            if len(rows) > limits.max_rows:
                raise ReconciliationError(f"{name}: more than {limits.max_rows:,} rows; refused (limit max_rows)")
            if len(row) > limits.max_columns:
                raise ReconciliationError(f"{name}: row {reader.line_num}: {len(row)} fields, over the limit of {limits.max_columns}")
            if rows and len(row) != len(rows[0]):
                raise ReconciliationError(f"{name}: row {reader.line_num}: wrong number of fields ({len(row)}, the header has "
                                          f"{len(rows[0])}); every row needs the header's columns")
            rows.append(row)
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise ReconciliationError(f"{name}: row {reader.line_num}: a field over the limit of {limits.max_field_chars:,} "
                                      "characters; expected short cells (bin, SKU, quantity, ...)") from None
        raise ReconciliationError(f"{name}: row {reader.line_num}: not readable CSV ({' '.join(str(exc).split())}); "
                                  "expected a header row and one row per bin and SKU") from None
    finally:
        csv.field_size_limit(old_limit)
    header = [h.strip() for h in rows[0]]
    return pd.DataFrame(rows[1:], columns=header, dtype=str)


def read_table_bytes(name: str, raw: bytes, mapping: ColumnMapping | None = None,
                     limits: ErpLimits | None = None) -> pd.DataFrame:
    """An ERP export's cells as text, refused in one line when it breaks a limit or is not what its name says."""
    mapping = mapping or ColumnMapping()
    limits = limits or ErpLimits()
    if len(raw) > limits.max_bytes:
        raise ReconciliationError(f"{name}: {_mb(len(raw))}, over the limit of {_mb(limits.max_bytes)} for an ERP file")
    if sniff_kind(name, raw) == "xlsx":
        return _read_xlsx(name, raw, mapping, limits)
    return _read_csv(name, raw, limits)


def _resolve_columns(p: str, df: pd.DataFrame, mapping: ColumnMapping) -> dict[str, str | None]:
    cols = {c.strip().lower(): c for c in df.columns}
    out: dict[str, str | None] = {}
    for field_name, aliases in DEFAULT_ALIASES.items():
        explicit = getattr(mapping, field_name)
        if explicit is not None:
            if explicit.strip().lower() not in cols:
                raise ReconciliationError(
                    f"{p}: column {explicit!r} (mapped to {field_name}) is missing; the header has {list(df.columns)}")
            out[field_name] = cols[explicit.strip().lower()]
            continue
        out[field_name] = next((cols[a] for a in aliases if a in cols), None)
    for required in ("bin", "sku", "qty"):
        if out[required] is None:
            raise ReconciliationError(
                f"{p}: no {required} column; expected one of {list(DEFAULT_ALIASES[required])} or a mapping "
                f"(--mapping) naming it; the header has {list(df.columns)}")
    return out


def _parse_qty(s: str, *, thousands: str, decimal: str) -> float:
    t = s.strip().replace("\u00a0", "").replace(" ", "")
    if thousands:
        t = t.replace(thousands, "")
    if decimal != ".":
        t = t.replace(decimal, ".")
    return float(t)


def load_erp(path: str | Path, mapping: ColumnMapping | None = None, *, site=None,
             duplicates: str = "sum", limits: ErpLimits | None = None) -> ErpSnapshot:
    """Read an ERP stock export; validate every row; return one row per (bin, SKU)."""
    p = Path(path)
    if not p.exists():
        raise ReconciliationError(f"{p}: ERP file not found (expected a .csv or .xlsx stock export)")
    limits = limits or ErpLimits()
    size = p.stat().st_size
    if size > limits.max_bytes:
        raise ReconciliationError(f"{p}: {_mb(size)}, over the limit of {_mb(limits.max_bytes)} for an ERP file")
    return parse_erp(str(p), p.read_bytes(), mapping, site=site, duplicates=duplicates, limits=limits)


def parse_erp(name: str, raw: bytes, mapping: ColumnMapping | None = None, *, site=None,
              duplicates: str = "sum", limits: ErpLimits | None = None) -> ErpSnapshot:
    """:func:`load_erp` over bytes already in memory (an upload); errors name ``name``."""
    p = name
    mapping = mapping or ColumnMapping()
    if duplicates not in ("sum", "refuse"):
        raise ReconciliationError(f"--duplicates: {duplicates!r}; expected 'sum' or 'refuse'")
    df = read_table_bytes(name, raw, mapping, limits)
    if df.empty and len(df.columns) == 0:
        raise ReconciliationError(f"{p}: no header row; expected columns for bin, SKU and quantity")
    cols = _resolve_columns(p, df, mapping)
    if df.empty:
        raise ReconciliationError(f"{p}: header only, no stock rows; expected one row per bin and SKU")
    out, warns = [], []
    for i, rec in enumerate(df.to_dict("records")):
        row_no = i + 2  # header is row 1
        b = str(rec[cols["bin"]]).strip()
        sku = str(rec[cols["sku"]]).strip()
        q_raw = str(rec[cols["qty"]]).strip()
        if not b:
            raise ReconciliationError(f"{p}: row {row_no}: column {cols['bin']!r} is empty; expected a bin id like 'A01-B03-L2-P1'")
        if not sku:
            raise ReconciliationError(f"{p}: row {row_no}: column {cols['sku']!r} is empty; expected a SKU / material number")
        try:
            q = _parse_qty(q_raw, thousands=mapping.thousands, decimal=mapping.decimal)
        except ValueError:
            raise ReconciliationError(f"{p}: row {row_no}: column {cols['qty']!r}: {q_raw!r} is not a number; expected a whole number of units") from None
        if q < 0:
            raise ReconciliationError(f"{p}: row {row_no}: column {cols['qty']!r}: {q_raw} is negative; expected a quantity >= 0")
        if q != int(q):
            raise ReconciliationError(f"{p}: row {row_no}: column {cols['qty']!r}: {q_raw} is not a whole number; tires are counted in units")
        if site is not None and not site.has_bin(b):
            raise ReconciliationError(f"{p}: row {row_no}: column {cols['bin']!r}: bin {b!r} is not on site {site.spec.name!r}; expected bins like {site.bins[0].bin_id!r}")
        price = None
        if cols["unit_price"]:
            pr = str(rec[cols["unit_price"]]).strip()
            if pr:
                try:
                    price = _parse_qty(pr, thousands=mapping.thousands, decimal=mapping.decimal)
                except ValueError:
                    raise ReconciliationError(f"{p}: row {row_no}: column {cols['unit_price']!r}: {pr!r} is not a price") from None
        out.append({"bin_id": b, "sku": sku, "qty": int(q), "row": row_no,
                    "description": str(rec[cols["description"]]).strip() if cols["description"] else "",
                    "lot": str(rec[cols["lot"]]).strip() if cols["lot"] else "", "unit_price": price,
                    "gtin": str(rec[cols["gtin"]]).strip() if cols["gtin"] else ""})
    rows = pd.DataFrame(out)
    dup = rows.duplicated(["bin_id", "sku"], keep=False)
    if dup.any():
        first = rows[dup].iloc[0]
        others = rows[dup & (rows.bin_id == first.bin_id) & (rows.sku == first.sku)]["row"].tolist()
        if duplicates == "refuse":
            raise ReconciliationError(
                f"{p}: rows {', '.join(map(str, others))}: bin {first.bin_id!r} and SKU {first.sku!r} appear more than once; "
                "merge them or use --duplicates sum")
        msg = f"{p}: {int(dup.sum())} rows repeat a bin+SKU (first: rows {', '.join(map(str, others))}); quantities summed"
        warns.append(msg)
        warnings.warn(msg)
        rows = rows.groupby(["bin_id", "sku"], as_index=False, sort=False).agg(
            qty=("qty", "sum"), row=("row", "first"), description=("description", "first"), lot=("lot", "first"),
            unit_price=("unit_price", "first"), gtin=("gtin", "first"))
    return ErpSnapshot(name, hashlib.sha256(raw).hexdigest(), rows.reset_index(drop=True), warns)
