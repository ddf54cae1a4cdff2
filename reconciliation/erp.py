"""ERP stock import: CSV or XLSX with a configurable column mapping, validated row by row.

Errors name the file, the row (as a spreadsheet user counts them: header = row 1) and the column,
and say what was expected. Leading zeros in bins and SKUs are kept (every cell is read as text).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

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
    sheet: str | int | None = None
    thousands: str = ","
    decimal: str = "."


def load_mapping(path: str | Path) -> ColumnMapping:
    from warehouse.validation import format_validation_error, load_yaml_mapping

    data = load_yaml_mapping(path, what="ERP column mapping", error=ReconciliationError)
    try:
        return ColumnMapping.model_validate(data)
    except ValidationError as exc:
        raise ReconciliationError(format_validation_error(path, exc)) from None


@dataclass
class ErpSnapshot:
    source: str
    sha256: str
    rows: pd.DataFrame  # bin_id, sku, qty (int), description, lot, unit_price
    warnings: list[str] = field(default_factory=list)


def _read_table(p: Path, mapping: ColumnMapping) -> pd.DataFrame:
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            import openpyxl  # noqa: F401

            sheet = mapping.sheet if mapping.sheet is not None else 0
            return pd.read_excel(p, sheet_name=sheet, dtype=str, keep_default_na=False, engine="openpyxl")
        except ValueError as exc:
            if "Worksheet" in str(exc) or "not found" in str(exc):
                raise ReconciliationError(f"{p}: sheet {mapping.sheet!r} not found; set 'sheet' in the mapping to an existing sheet") from None
            raise ReconciliationError(f"{p}: not a readable XLSX workbook ({exc}); expected an Excel .xlsx export") from None
        except Exception as exc:  # noqa: BLE001 - zip/xml errors of a corrupt workbook
            raise ReconciliationError(f"{p}: not a readable XLSX workbook ({type(exc).__name__}); expected an Excel .xlsx export") from None
    if suffix in (".csv", ".txt", ".tsv"):
        raw = p.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ReconciliationError(f"{p}: row {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the export as UTF-8 CSV") from None
        if not text.strip():
            raise ReconciliationError(f"{p}: file is empty; expected a header row and one row per bin and SKU")
        import csv
        import io

        try:
            dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
            sep = dialect.delimiter
        except csv.Error:
            sep = ","
        try:
            return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
        except pd.errors.ParserError as exc:
            m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
            if m:
                raise ReconciliationError(f"{p}: row {m.group(2)}: wrong number of fields ({m.group(3)}, the header has "
                                          f"{m.group(1)}); every row needs the header's columns") from None
            first = " ".join(str(exc).split())
            raise ReconciliationError(f"{p}: not a readable CSV ({first}); expected a header row and one row per bin and SKU") from None
    raise ReconciliationError(f"{p}: unsupported file type {suffix or '(none)'!r}; expected .csv or .xlsx")


def _resolve_columns(p: Path, df: pd.DataFrame, mapping: ColumnMapping) -> dict[str, str | None]:
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
             duplicates: str = "sum") -> ErpSnapshot:
    """Read an ERP stock export; validate every row; return one row per (bin, SKU)."""
    p = Path(path)
    mapping = mapping or ColumnMapping()
    if duplicates not in ("sum", "refuse"):
        raise ReconciliationError(f"--duplicates: {duplicates!r}; expected 'sum' or 'refuse'")
    if not p.exists():
        raise ReconciliationError(f"{p}: ERP file not found (expected a .csv or .xlsx stock export)")
    df = _read_table(p, mapping)
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
                    "lot": str(rec[cols["lot"]]).strip() if cols["lot"] else "", "unit_price": price})
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
            unit_price=("unit_price", "first"))
    return ErpSnapshot(str(p), hashlib.sha256(p.read_bytes()).hexdigest(), rows.reset_index(drop=True), warns)
