"""``rackscan bench scale``: costs against site size (rackscan.scale_bench)."""

from __future__ import annotations

import typer

from rackscan.bench_app import bench_app


@bench_app.command("scale")
def scale_bench(
    sizes: str = typer.Option("1000,10000,20000,100000", "--sizes", help="comma-separated site sizes in bins"),
    pages_up_to: int = typer.Option(20000, "--pages-up-to", help="render the dashboard pages for sizes up to this"),
) -> None:
    """For generated sites of each size: reconcile, store write and read, report, the slowest dashboard
    page (AppTest, second render) and peak memory, with discrepancy precision/recall of perfect observations."""
    from rich.console import Console
    from rich.table import Table

    from reconciliation.errors import ReconciliationError as CliError
    from rackscan.scale_bench import bench_scale

    try:
        ns = [int(x) for x in sizes.split(",") if x.strip()]
    except ValueError:
        raise CliError(f"--sizes {sizes!r}: expected comma-separated whole numbers of bins, e.g. 1000,10000") from None
    if not ns or min(ns) < 10:
        raise CliError(f"--sizes {sizes!r}: expected sizes of 10 bins or more")
    con = Console()
    t = Table(title="rackscan bench scale: generated sites, perfect observations with 3% of bins changed")
    for c in ("bins", "aisles", "reconcile s", "store write s", "store read s", "report s", "slowest page s: first / again",
              "peak RSS MB", "disc. P / R"):
        t.add_column(c, justify="right")

    def show(r):
        pages = (f"slowest {r.slowest_first_s:.2f} s on a first visit ({r.slowest_first_page}), {r.slowest_page_s:.2f} s again "
                 f"({r.slowest_page})" if r.slowest_page_s is not None else "not rendered")
        con.print(f"{r.bins} bins: reconcile {r.reconcile_s:.2f} s, discrepancies P / R {r.precision:.3f} / {r.recall:.3f}, "
                  f"pages {pages}", soft_wrap=True)
        t.add_row(str(r.bins), str(r.aisles), f"{r.reconcile_s:.2f}", f"{r.store_write_s:.2f}", f"{r.store_read_s:.2f}",
                  f"{r.report_s:.2f}", f"{r.slowest_first_s:.2f} ({r.slowest_first_page}) / {r.slowest_page_s:.2f} "
                  f"({r.slowest_page})" if r.slowest_page_s is not None else "-",
                  f"{r.peak_rss_mb:.0f}", f"{r.precision:.3f} / {r.recall:.3f}")

    bench_scale(ns, pages_up_to=pages_up_to, on_row=show)
    con.print(t)
    con.print("goals: reconcile under 10 s at 100k bins; every dashboard page under 2 s at 20k bins (2 cores)")


def register(app: typer.Typer) -> None:
    pass
