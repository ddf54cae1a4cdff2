"""The report a stock controller signs off: ``report.xlsx`` and ``discrepancies.csv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reconciliation.diff import ReconciliationResult

KIND_FILL = {"match": "C6EFCE", "short": "FFC7CE", "over": "FFEB9C", "misplaced": "E4DFEC", "ghost": "F4B084",
             "unexpected_sku": "BDD7EE", "not_scanned": "D9D9D9", "needs_recount": "FCE4D6"}


def _sheet(ws, df: pd.DataFrame, *, link_base: Path | None = None) -> None:
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.append(list(df.columns))
    for c in ws[1]:
        c.font = Font(bold=True)
    kind_col = list(df.columns).index("kind") + 1 if "kind" in df.columns else None
    ev_col = list(df.columns).index("evidence_path") + 1 if "evidence_path" in df.columns else None
    for row in df.itertuples(index=False):
        ws.append([None if (isinstance(v, float) and v != v) else v for v in row])
        r = ws.max_row
        if kind_col:
            kind = ws.cell(r, kind_col).value
            if kind in KIND_FILL:
                ws.cell(r, kind_col).fill = PatternFill("solid", fgColor=KIND_FILL[kind])
        if ev_col and link_base is not None:
            cell = ws.cell(r, ev_col)
            if cell.value:
                cell.hyperlink = str((link_base / str(cell.value)).resolve())
                cell.style = "Hyperlink"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for i, col in enumerate(df.columns, start=1):
        width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)]) + 2
        ws.column_dimensions[get_column_letter(i)].width = min(60, width)


def _money(v: float | None):
    return "unknown (no prices in the ERP)" if v is None else round(v, 2)


def write_reports(result: ReconciliationResult, out_dir: str | Path, *, evidence_base: Path | None = None,
                  title: str = "rackscan reconciliation", aisle_of: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Write report.xlsx (Summary, Discrepancies, one sheet per aisle of ``aisle_of``: bin id -> aisle,
    from the site) and discrepancies.csv."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = result.discrepancies
    issues = df[df.kind != "match"].copy()
    csv_path = out / "discrepancies.csv"
    issues.to_csv(csv_path, index=False, encoding="utf-8-sig")
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    s = result.summary
    for k, v in [("bins on site", s.bins_on_site), ("bins in ERP", s.bins_in_erp), ("bins scanned", s.bins_scanned),
                 ("coverage", round(s.coverage, 4)), ("matching rate", round(s.matching_rate, 4)),
                 ("units short", s.units_short), ("units over", s.units_over), ("value short", _money(s.value_short)),
                 ("value over", _money(s.value_over)), ("rows without a price (short / over)",
                                                        f"{s.unpriced_short} / {s.unpriced_over}")]:
        ws.append([k, v])
    ws.append([])
    ws.append(["kind", "count"])
    for k, v in s.by_kind.items():
        ws.append([k, v])
    ws.column_dimensions["A"].width = 22
    _sheet(wb.create_sheet("Discrepancies"), issues, link_base=evidence_base)
    for aisle, part in df.assign(aisle=df.bin_id.map(aisle_of or {}).fillna("?")).groupby("aisle"):
        _sheet(wb.create_sheet(f"Aisle {aisle}"[:31]), part.drop(columns=["aisle"]), link_base=evidence_base)
    xlsx = out / "report.xlsx"
    wb.save(xlsx)
    return xlsx, csv_path
