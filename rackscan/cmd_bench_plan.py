"""``rackscan bench plan``: planned bins per flight hour against a manual count."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app

DEFAULT_SITE = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default_site.yaml"


@bench_app.command("plan")
def plan_bench(
    site_yaml: Path = typer.Argument(DEFAULT_SITE, help="site YAML"),
    camera_yaml: Path = typer.Option(None, "--camera", help="camera YAML (default: the built-in 1080p inspection camera)"),
    manual_locations_per_hour: float = typer.Option(100.0, "--manual-locations-per-hour", help="a person counting by hand"),
    recount_bins: int = typer.Option(10, "--recount-bins", help="targeted recounts: how many random bins each"),
    recount_draws: int = typer.Option(20, "--recount-draws", help="targeted recounts: how many random draws"),
    fleet: str = typer.Option("1,2,4", "--fleet", help="fleets to plan (vehicles, comma-separated; '' for none): on the site and on a generated site of 1,536 bins"),
) -> None:
    """Bins per flight hour of the planned mission vs a manual count; targeted recounts of random
    bins against the full mission's flight time."""
    from rich.console import Console
    from rich.table import Table

    from flight.planner import plan
    from warehouse.camera import CameraSpec, load_camera
    from warehouse.site import load_site

    site = load_site(site_yaml)
    cam = load_camera(camera_yaml) if camera_yaml else CameraSpec()
    res = plan(site, cam)
    t = Table(title=f"counting {res.bins_planned} bins of {site.spec.name} with camera {cam.name}")
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

        from warehouse.site import grid_site_dict, site_from_dict

        generated = site_from_dict(grid_site_dict(8, 8, name="a generated site"), source="generated site")
        for s, full_s, where in ((site, res.est_flight_time_s, ""),
                                 (generated, None, f" on {generated.spec.name} of {len(generated.bins):,} bins")):
            ids = [b.bin_id for b in s.bins]
            n = min(recount_bins, len(ids))
            draws = [random.Random(seed).sample(ids, n) for seed in range(recount_draws)]  # nosec B311: a benchmark's seeded draw
            full_s = full_s or plan(s, cam).est_flight_time_s
            share = np.array([plan_recount(s, cam, bins).est_flight_time_s for bins in draws]) / full_s
            con.print(f"targeted recount of {n} random bins{where} ({recount_draws} draws, seeds 0-{recount_draws - 1}): "
                      f"planned flight time {np.median(share):.1%} of the full mission's (median; best {share.min():.1%}, "
                      f"worst {share.max():.1%})")
    sizes = [int(x) for x in fleet.split(",") if x.strip()]
    if sizes:
        from flight.fleet import FleetOptions, plan_fleet
        from flight.planner import PlanOptions
        from warehouse.site import grid_site_dict, site_from_dict

        for s in (site, site_from_dict(grid_site_dict(8, 8, name="a generated site"), source="generated site")):
            ft = Table(title=f"fleets over {len(s.bins)} bins of {s.spec.name} (planned time lines, not flown)")
            for c in ("vehicles", "flying", "wall clock (min)", "flight (min, all)", "bins per wall-clock hour",
                      "closest approach (m)", "held back (s)"):
                ft.add_column(c)
            for n in sizes:
                fp = plan_fleet(s, cam, PlanOptions(), FleetOptions(drones=n))
                ft.add_row(str(n), str(len(fp.vehicles)), f"{fp.wall_clock_s / 60:.1f}", f"{fp.flight_time_s / 60:.1f}",
                           f"{fp.bins_per_wall_clock_hour:.0f}", "-" if fp.closest is None else f"{fp.min_separation_m:.1f}",
                           ", ".join(f"{v.start_s:.0f}" for v in fp.vehicles))
            con.print(ft)


def register(app: typer.Typer) -> None:
    pass
