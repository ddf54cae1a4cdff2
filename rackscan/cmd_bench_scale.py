"""``rackscan bench scale``: costs against site size (rackscan.scale_bench)."""

from __future__ import annotations

import typer

from rackscan.bench_app import bench_app


@bench_app.command("scale")
def scale_bench(
    sizes: str = typer.Option("1000,10000,20000,100000", "--sizes", help="comma-separated site sizes in bins"),
    pages_up_to: int = typer.Option(20000, "--pages-up-to", help="render the dashboard pages for sizes up to this"),
    frames: str = typer.Option("1000,7500,10000", "--frames", help="comma-separated flight lengths in frames for the fusion rows (empty: none)"),
) -> None:
    """For generated sites of each size: reconcile, store write and read, report, the slowest dashboard
    page (AppTest, second render) and peak memory, with discrepancy precision/recall of perfect
    observations; then fusion over flights of each length (5 fps): time, time per frame, peak memory
    and count accuracy."""
    from rich.console import Console
    from rich.table import Table

    from reconciliation.errors import ReconciliationError as CliError
    from rackscan.scale_bench import bench_frames, bench_scale

    try:
        ns = [int(x) for x in sizes.split(",") if x.strip()]
    except ValueError:
        raise CliError(f"--sizes {sizes!r}: expected comma-separated whole numbers of bins, e.g. 1000,10000") from None
    if not ns or min(ns) < 10:
        raise CliError(f"--sizes {sizes!r}: expected sizes of 10 bins or more")
    try:
        nf = [int(x) for x in frames.split(",") if x.strip()]
    except ValueError:
        raise CliError(f"--frames {frames!r}: expected comma-separated whole numbers of frames, e.g. 1000,10000") from None
    if nf and min(nf) < 100:
        raise CliError(f"--frames {frames!r}: expected flights of 100 frames or more")
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
    if not nf:
        return
    ft = Table(title="fusion over one flight (5 fps; clock offset, drift correction, tracks, bins; detections from the truth)")
    for c in ("frames", "flight min", "bins", "fuse s", "ms / frame", "peak RSS MB", "count accuracy"):
        ft.add_column(c, justify="right")

    def show_frames(r):
        con.print(f"{r.frames} frames ({r.flight_min:.1f} min of flight, {r.bins} bins): fusion {r.fuse_s:.1f} s, "
                  f"{r.ms_per_frame:.1f} ms per frame, peak {r.peak_rss_mb:.0f} MB, count accuracy {100 * r.count_accuracy:.1f}%")
        ft.add_row(str(r.frames), f"{r.flight_min:.1f}", str(r.bins), f"{r.fuse_s:.1f}", f"{r.ms_per_frame:.1f}",
                   f"{r.peak_rss_mb:.0f}", f"{100 * r.count_accuracy:.1f}%")

    bench_frames(nf, on_row=show_frames)
    con.print(ft)
    con.print("growth: time per frame and memory should stay flat as the flight grows (linear cost)")


def register(app: typer.Typer) -> None:
    pass
