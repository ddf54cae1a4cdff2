"""``rackscan reconcile``: a flight's counts against an ERP stock export."""

from __future__ import annotations

from pathlib import Path

import typer


def money(value: float | None, unpriced: int) -> str:
    """A value the ERP's prices give; unknown when none of the rows has a price."""
    if value is None:
        return "unknown (no prices in the ERP)"
    return f"{value:,.2f}" + (f" (+ {unpriced} rows without a price)" if unpriced else "")


def summary_table(res, title: str):
    """The rich table of a FlightReconciliation's summary (also printed by process and demo)."""
    from rich.table import Table

    s = res.result.summary
    t = Table(title=title)
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in [("bins scanned", f"{s.bins_scanned} / {s.bins_on_site}"), ("coverage", f"{s.coverage:.1%}"),
                 ("matching rate", f"{s.matching_rate:.1%}"), ("units short", s.units_short),
                 ("units over", s.units_over), ("value short", money(s.value_short, s.unpriced_short)),
                 ("value over", money(s.value_over, s.unpriced_over))]:
        t.add_row(k, str(v))
    for k, v in s.by_kind.items():
        if k != "match":
            t.add_row(f"  {k}", str(v))
    return t


def register(app: typer.Typer) -> None:
    @app.command("reconcile")
    def reconcile_cmd(
        flight: Path = typer.Option(..., "--flight", help="flight bundle with observations.parquet (rackscan fuse / process; a flight continued with fly --resume is counted there as one)"),
        erp: Path = typer.Option(..., "--erp", help="ERP stock export (.csv or .xlsx)"),
        mapping: Path = typer.Option(None, "--mapping", help="column mapping YAML (bin, sku, qty, ...)"),
        site_yaml: Path = typer.Option(None, "--site", help="site file (default: the bundle's site.yaml)"),
        db: str = typer.Option(None, "--db", help="results store URL (default: sqlite file results.db in --out)"),
        out: Path = typer.Option(None, "--out", help="report directory (default: BUNDLE/report)"),
        min_confidence: float = typer.Option(0.8, "--min-confidence", help="below this a count asks for a recount (0..1)"),
        tolerance_units: int = typer.Option(0, "--tolerance-units", help="count difference still called a match"),
        erp_sku_confidence: float = typer.Option(None, "--erp-sku-confidence", min=0.0, max=1.0,
                                                 help="goods no label of which was read, their size fitting the one SKU "
                                                      "the ERP lists in the bin, are that SKU at this confidence at most "
                                                      "(default 0.85; 0 sends them to recount)"),
        duplicates: str = typer.Option("sum", "--duplicates", help="repeated bin+SKU rows: sum or refuse"),
        product_master: Path = typer.Option(None, "--product-master", help="material <-> GTIN/EAN from the ERP (SAP MEAN: MATNR, EAN11; a material master; catalogue.csv); default: the ERP export's EAN column when it has one"),
    ) -> None:
        """Diff the counted stock against the ERP; store it; write report.xlsx and discrepancies.csv."""
        from rich.console import Console

        from flight.continuation import open_flight
        from reconciliation.pipeline import reconcile_flight
        from slam_fusion.tools.io import flight_info

        res = reconcile_flight(flight, erp, mapping_path=mapping, site_path=site_yaml, db_url=db, out_dir=out,
                               min_confidence=min_confidence, tolerance=tolerance_units, duplicates=duplicates,
                               product_master_path=product_master, flight=flight_info(open_flight(flight)),
                               **({} if erp_sku_confidence is None else {"erp_sku_confidence": erp_sku_confidence}))
        con = Console()
        con.print(summary_table(res, f"reconciliation of {flight.name} against {erp.name}"))
        for w in res.warnings:
            con.print(f"[yellow]warning:[/] {w}")
        con.print(f"report: {res.report_xlsx}\ncsv: {res.discrepancies_csv}\nstore: {res.db_url} (reconciliation {res.reconciliation_id})")
