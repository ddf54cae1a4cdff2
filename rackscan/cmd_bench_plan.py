"""``rackscan bench plan``: planned bins per flight hour against a manual count."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app

DEFAULT_SITE = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default_site.yaml"


@bench_app.command("plan")
def plan_bench(
    site_yaml: Path = typer.Argument(DEFAULT_SITE, help="site YAML"),
    manual_locations_per_hour: float = typer.Option(100.0, "--manual-locations-per-hour", help="a person counting by hand"),
    recount_bins: int = typer.Option(10, "--recount-bins", help="targeted recounts: how many random bins each"),
    recount_draws: int = typer.Option(20, "--recount-draws", help="targeted recounts: how many random draws"),
) -> None:
    """Bins per flight hour of the planned mission vs a manual count; targeted recounts of random
    bins against the full mission's flight time."""
    from rich.console import Console
    from rich.table import Table

    from flight.planner import plan
    from warehouse.camera import CameraSpec
    from warehouse.site import load_site

    site = load_site(site_yaml)
    res = plan(site, CameraSpec())
    t = Table(title=f"counting {res.bins_planned} bins of {site.spec.name}")
    for c in ("method", "bins per hour", "hours for the site"):
        t.add_column(c)
    t.add_row("drone (planned)", f"{res.bins_per_flight_hour:.0f}", f"{res.est_flight_time_s / 3600:.2f}")
    t.add_row("manual count", f"{manual_locations_per_hour:.0f}", f"{res.bins_planned / manual_locations_per_hour:.2f}")
    t.add_row("ratio", f"{res.bins_per_flight_hour / manual_locations_per_hour:.1f}x", "")
    con = Console()
    con.print(t)
    if recount_draws > 0 and recount_bins > 0:
        import random

        import numpy as np

        from flight.recount import plan_recount

        ids = [b.bin_id for b in site.bins]
        n = min(recount_bins, len(ids))
        draws = [random.Random(seed).sample(ids, n) for seed in range(recount_draws)]  # nosec B311: a benchmark's seeded draw
        share = np.array([plan_recount(site, CameraSpec(), bins).est_flight_time_s
                          for bins in draws]) / res.est_flight_time_s
        con.print(f"targeted recount of {n} random bins ({recount_draws} draws, seeds 0-{recount_draws - 1}): planned "
                  f"flight time {np.median(share):.1%} of the full mission's (median; best {share.min():.1%}, worst "
                  f"{share.max():.1%})")


def register(app: typer.Typer) -> None:
    pass
