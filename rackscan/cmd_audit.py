"""``rackscan audit``: check the results store's tamper-evident chain, export it for an auditor, and
show one bin's count history across flights."""

from __future__ import annotations

from pathlib import Path

import typer

DB_HELP = "results store URL (SQLite file or PostgreSQL)"


def register(app: typer.Typer) -> None:
    audit_app = typer.Typer(help="The audit chain: counts, reconciliations and reviews, each record carrying the "
                                 "hash of the one before.", no_args_is_help=True)

    @audit_app.command("verify")
    def verify_cmd(db: str = typer.Option("sqlite:///results.db", "--db", help=DB_HELP)) -> None:
        """Check every link of the chain and the stored rows it vouches for; name the first break (exit 1)."""
        from operations.audit import verify
        from reconciliation.store import ResultsStore

        rep = verify(ResultsStore(db))
        typer.echo(f"audit chain ok: {rep.n_records} records, head seq {rep.head_seq} hash {rep.head_hash}; "
                   f"checked {rep.n_flights_checked} flights' counts, {rep.n_reconciliations_checked} reconciliations, "
                   f"{rep.n_reviews_checked} review actions")

    @audit_app.command("export")
    def export_cmd(
        out: Path = typer.Option(Path("audit.xlsx"), "--out", help="the workbook to write (.xlsx)"),
        db: str = typer.Option("sqlite:///results.db", "--db", help=DB_HELP),
    ) -> None:
        """Verify, then write the auditor's workbook (Head, Chain, Counts, Discrepancies, Reviews) and print the head hash."""
        from operations.audit import export
        from operations.errors import OperationsError
        from reconciliation.store import ResultsStore

        if out.suffix.lower() != ".xlsx":
            raise OperationsError(f"--out {out}: not an .xlsx file; expected a path ending in .xlsx")
        rep = export(ResultsStore(db), out)
        typer.echo(f"wrote {out}: {rep.n_records} records; head seq {rep.head_seq} hash {rep.head_hash}")

    @audit_app.command("history")
    def history_cmd(
        bin_id: str = typer.Argument(..., help="the bin, e.g. A01-B03-L2-P1"),
        db: str = typer.Option("sqlite:///results.db", "--db", help=DB_HELP),
    ) -> None:
        """A bin's counts across flights as the chain recorded them (replaced counts included)."""
        from rich.console import Console
        from rich.table import Table

        from operations.audit import count_history
        from reconciliation.store import ResultsStore

        df = count_history(ResultsStore(db), bin_id)
        t = Table(title=f"count history of {bin_id}")
        for c in df.columns:
            t.add_column(c)
        for r in df.itertuples(index=False):
            t.add_row(*[str(v) for v in r])
        Console().print(t if len(df) else f"no counts recorded for {bin_id}")

    app.add_typer(audit_app, name="audit")
