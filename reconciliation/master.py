"""The product master: which material each GTIN / EAN belongs to, from the ERP.

A drone reads a tire's EAN-13 (or the GTIN-14 in its QR); the ERP counts by material number. The
product master joins them: SAP's MEAN table (MATNR, EAN11, one row per material and unit of
measure, a material may have several EANs), a material-master export with an EAN column
(MARA-EAN11), rackscan's own ``catalogue.csv`` (sku, gtin), or the stock export itself when it
carries an EAN column. ``apply_product_master`` names every observation by its material, in the
ERP's own spelling of the number (SAP pads MATNR with leading zeros to 18 digits in some exports
and not in others), so a flown bundle reconciles without a hand-made catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reconciliation.errors import ReconciliationError

MATERIAL_ALIASES = ("matnr", "material", "sku", "article", "product", "item", "material number")
GTIN_ALIASES = ("ean11", "gtin", "ean", "ean13", "ean_upc", "ean/upc", "upc", "barcode", "gtin13", "gtin14")


def gtin14(text: str) -> str | None:
    """A GTIN-8/12/13/14 as its 14-digit form, or None when ``text`` is not one (wrong length, not
    digits, or a wrong GS1 check digit)."""
    t = str(text).strip()
    if not t.isdigit() or len(t) not in (8, 12, 13, 14):
        return None
    t = t.zfill(14)
    digits = [int(c) for c in t]
    check = (10 - sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits[:13])) % 10) % 10
    return t if check == digits[13] else None


@dataclass(frozen=True)
class ProductMaster:
    gtin_to_material: dict[str, str]  # GTIN-14 -> material number as the master spells it
    source: str
    skipped_rows: int = 0  # rows without an EAN (units of measure that carry none)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.gtin_to_material)


def _column(p: str, df: pd.DataFrame, aliases: tuple[str, ...], explicit: str | None, what: str) -> str:
    cols = {c.strip().lower(): c for c in df.columns}
    if explicit:
        if explicit.strip().lower() not in cols:
            raise ReconciliationError(f"{p}: column {explicit!r} (the {what}) is missing; the header has {list(df.columns)}")
        return cols[explicit.strip().lower()]
    found = next((cols[a] for a in aliases if a in cols), None)
    if found is None:
        raise ReconciliationError(f"{p}: no {what} column; expected one of {list(aliases)}; the header has "
                                  f"{list(df.columns)}")
    return found


def master_from_table(name: str, df: pd.DataFrame, *, material_col: str | None = None,
                      gtin_col: str | None = None) -> ProductMaster:
    """Rows of (material, GTIN) -> ProductMaster; one-line errors naming the row."""
    mcol = _column(name, df, MATERIAL_ALIASES, material_col, "material number")
    gcol = _column(name, df, GTIN_ALIASES, gtin_col, "GTIN / EAN")
    out: dict[str, str] = {}
    first_row: dict[str, int] = {}
    skipped = 0
    for i, (m, g) in enumerate(zip(df[mcol].astype(str), df[gcol].astype(str)), start=2):
        m, g = m.strip(), g.strip()
        if not g or g.lower() == "nan":
            skipped += 1
            continue
        if not m:
            raise ReconciliationError(f"{name}: row {i}: column {mcol!r} is empty; expected the material number of EAN {g}")
        key = gtin14(g)
        if key is None:
            raise ReconciliationError(f"{name}: row {i}: column {gcol!r}: {g!r} is not a GTIN; expected 8, 12, 13 or "
                                      "14 digits with a valid GS1 check digit")
        if key in out and out[key].lstrip("0") != m.lstrip("0"):
            raise ReconciliationError(f"{name}: rows {first_row[key]} and {i}: EAN {g} belongs to materials {out[key]!r} "
                                      f"and {m!r}; expected one material per EAN")
        out.setdefault(key, m)
        first_row.setdefault(key, i)
    if not out:
        raise ReconciliationError(f"{name}: no row has an EAN in column {gcol!r}; expected material numbers with their EANs")
    return ProductMaster(out, name, skipped)


def load_product_master(path: str | Path, *, material_col: str | None = None, gtin_col: str | None = None) -> ProductMaster:
    """A product master file (CSV or XLSX: SAP MEAN, a material master with EANs, catalogue.csv)."""
    from reconciliation.erp import ErpLimits, read_table_bytes

    p = Path(path)
    if not p.exists():
        raise ReconciliationError(f"{p}: product master not found; expected a CSV/XLSX of material numbers and EANs "
                                  "(SAP MEAN: MATNR, EAN11)")
    limits = ErpLimits()
    if p.stat().st_size > limits.max_bytes:
        raise ReconciliationError(f"{p}: over the limit of {limits.max_bytes // 2**20} MB for a product master")
    df = read_table_bytes(str(p), p.read_bytes(), None, limits)
    if df.empty:
        raise ReconciliationError(f"{p}: no rows; expected a header and one row per material and EAN")
    return master_from_table(str(p), df, material_col=material_col, gtin_col=gtin_col)


def apply_product_master(obs: pd.DataFrame, master: ProductMaster, *, erp_materials=()) -> tuple[pd.DataFrame, list[str]]:
    """Observations named by material: a row whose GTIN (or whose SKU, when fusion had no catalogue
    and left the GTIN there) is in the master gets the master's material, spelt as the ERP spells
    it; rows that become the same bin and material are added up. Returns (observations, warnings)."""
    spelling = {str(m).lstrip("0"): str(m) for m in erp_materials}
    out = obs.copy()
    unknown: set[str] = set()
    skus = []
    for sku, gtin in zip(out["sku"].astype(str), out.get("gtin", pd.Series([""] * len(out))).fillna("").astype(str)):
        key = gtin14(gtin) or gtin14(sku)
        if key is None or not sku and not gtin:
            skus.append(sku)
            continue
        mat = master.gtin_to_material.get(key)
        if mat is None:
            unknown.add(gtin or sku)
            skus.append(sku)
            continue
        skus.append(spelling.get(mat.lstrip("0"), mat))
    out["sku"] = skus
    warns = []
    if unknown:
        warns.append(f"{len(unknown)} GTIN(s) read in the flight are not in the product master {master.source} "
                     f"(first: {sorted(unknown)[0]}); those observations keep the GTIN as their SKU")
    dup = out.duplicated(["bin_id", "sku"], keep=False) & (out["sku"] != "")
    if dup.any():
        agg = {c: "first" for c in out.columns if c not in ("bin_id", "sku")}
        agg.update(count="sum", confidence="min")
        if "n_views" in out.columns:
            agg["n_views"] = "sum"
        if "reason" in out.columns:
            agg["reason"] = lambda r: ";".join(sorted({x for v in r for x in str(v).split(";") if x}))
        out = out.groupby(["bin_id", "sku"], as_index=False, sort=False).agg(agg)
    return out.reset_index(drop=True), warns


__all__ = ["ProductMaster", "load_product_master", "master_from_table", "apply_product_master", "gtin14"]
