"""``rackscan campaign``: one site count made of many flights (new, add, status, close)."""

from __future__ import annotations

from pathlib import Path

import typer

DB = "sqlite:///results.db"
DB_HELP = "results store URL (SQLite file or PostgreSQL); the same for every flight of the campaign"


def register(app: typer.Typer) -> None:
    from reconciliation.campaign import MIN_CONFIDENCE, STALE_AFTER_DAYS

    camp_app = typer.Typer(help="A site count made of many flights: each bin's latest trusted observation wins.",
                           no_args_is_help=True)

    @camp_app.command("new")
    def new_cmd(
        name: str = typer.Argument(..., help="the campaign's name, e.g. 'DC1 2026-Q4'"),
        site_yaml: Path = typer.Option(..., "--site", help="the site file every flight of the campaign counts"),
        min_confidence: float = typer.Option(MIN_CONFIDENCE, "--min-confidence",
                                             help="an observation under this is not trusted (the bin waits for a recount)"),
        stale_after_days: float = typer.Option(STALE_AFTER_DAYS, "--stale-after-days",
                                               help="a trusted count older than this is stale: counted, and asked for again"),
        by: str = typer.Option("", "--by", help="who opens it"),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Open a campaign for a site."""
        from reconciliation.campaign import create_campaign
        from reconciliation.store import ResultsStore

        create_campaign(ResultsStore(db), name, site_yaml, by=by, min_confidence=min_confidence,
                        stale_after_days=stale_after_days)
        typer.echo(f"campaign {name!r} opened for {site_yaml}; add flights with `rackscan campaign add {name!r} BUNDLE`")

    @camp_app.command("add")
    def add_cmd(
        name: str = typer.Argument(..., help="the campaign"),
        flights: list[str] = typer.Argument(..., help="processed flight bundle folders, or keys of flights in the store"),
        by: str = typer.Option("", "--by", help="who adds them"),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Add flights (nights, drones, recount flights) to an open campaign."""
        from reconciliation.campaign import add_flight
        from reconciliation.store import ResultsStore

        store = ResultsStore(db)
        for f in flights:
            key = add_flight(store, name, f, by=by)
            typer.echo(f"added flight {key} to campaign {name!r}")

    @camp_app.command("status")
    def status_cmd(
        name: str = typer.Argument(None, help="the campaign (default: list them)"),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Bins counted, stale, to recount and left, aisle by aisle and flight by flight."""
        from rich.console import Console
        from rich.table import Table

        from reconciliation.campaign import list_campaigns, load_campaign
        from reconciliation.store import ResultsStore

        con = Console()
        store = ResultsStore(db)
        if name is None:
            df = list_campaigns(store)
            t = Table(title=f"campaigns in {db}")
            for c in ("name", "site", "flights", "opened", "closed"):
                t.add_column(c)
            for r in df.itertuples():
                t.add_row(r.name, r.site, str(r.flights), f"{r.created_at:%Y-%m-%d %H:%M}",
                          "-" if r.closed_at is None or r.closed_at != r.closed_at else f"{r.closed_at:%Y-%m-%d %H:%M}")
            con.print(t if len(df) else "no campaigns yet: `rackscan campaign new NAME --site SITE.yaml`")
            return
        camp = load_campaign(store, name)
        p = camp.progress()
        state = "closed" if camp.closed_at is not None else "open"
        con.print(f"campaign {name!r} ({state}): {p.counted} of {p.bins_on_site} bins counted ({p.done:.1%}), "
                  f"{p.stale} stale (older than {camp.stale_after_days:g} days), {p.recount} to recount, {p.left} left; "
                  f"{len(camp.flights)} flights")
        t = Table(title="by aisle")
        for c in p.by_aisle.columns:
            t.add_column(c, justify="right" if c != "aisle" else "left")
        for r in p.by_aisle.itertuples(index=False):
            t.add_row(*map(str, r))
        con.print(t)
        t = Table(title="flight by flight")
        for c in ("flight", "flown", "bins seen", "newly trusted", "trusted", "coverage"):
            t.add_column(c)
        for r in p.over_time.itertuples():
            t.add_row(r.flight_key, f"{r.flown_at:%Y-%m-%d %H:%M}", str(r.bins_observed), str(r.new_trusted),
                      str(r.trusted_total), f"{r.coverage:.1%}")
        con.print(t)
        if camp.reconciliation_id:
            con.print(f"reconciliation {camp.reconciliation_id} (the dashboard shows it as flight 'campaign:{name}')")

    @camp_app.command("close")
    def close_cmd(
        name: str = typer.Argument(..., help="the campaign"),
        erp: Path = typer.Option(..., "--erp", help="ERP stock export (.csv or .xlsx) to reconcile the whole count against"),
        out: Path = typer.Option(Path("campaign-report"), "--out", help="report directory"),
        mapping: Path = typer.Option(None, "--mapping", help="column mapping YAML (bin, sku, qty, ...)"),
        product_master: Path = typer.Option(None, "--product-master", help="material <-> GTIN/EAN (as rackscan reconcile)"),
        tolerance_units: int = typer.Option(0, "--tolerance-units", help="count difference still called a match"),
        duplicates: str = typer.Option("sum", "--duplicates", help="repeated bin+SKU rows: sum or refuse"),
        erp_sku_confidence: float = typer.Option(None, "--erp-sku-confidence", min=0.0, max=1.0,
                                                 help="goods no label of which was read, their size fitting the one SKU "
                                                      "the ERP lists in the bin, are that SKU at this confidence at most "
                                                      "(default 0.85; 0 sends them to recount; as rackscan reconcile)"),
        by: str = typer.Option("", "--by", help="who closes it"),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Reconcile the campaign's count (each bin's latest trusted observation) against the ERP, store it and close it."""
        from rich.console import Console

        from rackscan.cmd_reconcile import summary_table
        from reconciliation.campaign import close_campaign
        from reconciliation.store import ResultsStore

        res = close_campaign(ResultsStore(db), name, erp, out_dir=out, mapping_path=mapping,
                             product_master_path=product_master, duplicates=duplicates, tolerance=tolerance_units, by=by,
                             **({} if erp_sku_confidence is None else {"erp_sku_confidence": erp_sku_confidence}))
        con = Console()
        for w in res.warnings:
            con.print(f"[yellow]warning:[/] {w}")
        con.print(summary_table(res, f"campaign {name} (reconciliation {res.reconciliation_id})"))
        con.print(f"report: {res.report_xlsx}\ndiscrepancies: {res.discrepancies_csv}")

    app.add_typer(camp_app, name="campaign")
