"""``rackscan plan``: a coverage mission for chosen aisles, as QGroundControl .plan files."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_cmd(
        site_yaml: Path = typer.Argument(..., help="site YAML"),
        camera_yaml: Path = typer.Option(None, "--camera", help="camera YAML (default: the built-in 1080p inspection camera)"),
        aisles: str = typer.Option(None, "--aisles", help="comma-separated aisle ids (default: all)"),
        out: Path = typer.Option(Path("mission.plan"), "-o", "--out", help="output .plan (sorties 2.. get .s2.plan ...)"),
        product_module_mm: float = typer.Option(3.0, "--product-module-mm", help="product-label QR module size"),
        max_speed_m_s: float = typer.Option(1.5, "--max-speed-m-s", help="vehicle speed limit"),
        endurance_s: float = typer.Option(1200.0, "--endurance-s", help="flight time on one battery"),
        reserve_frac: float = typer.Option(0.25, "--reserve-frac", help="battery share kept in reserve"),
        battery_swap_s: float = typer.Option(180.0, "--battery-swap-s", min=0.0, help="on the ground between sorties (land, swap, checklist, take off), s"),
        lux: float = typer.Option(None, "--lux", help="light on the rack faces (default: the site file's light_lux)"),
        allow_dark: bool = typer.Option(False, "--allow-dark", help="plan a store too dark to count anyway"),
        bins: Path = typer.Option(None, "--bins", help="recount only these bins: a text file (one bin id per line) or a CSV with a bin_id column (discrepancies.csv)"),
        recount_queue: str = typer.Option(None, "--recount-queue", help="recount the bins of a results store's latest reconciliation that reviewers sent to recount or that the count left for a recount (store URL)"),
    ) -> None:
        """Plan passes along each rack face (standoff, speed and passes from the camera physics);
        with --bins or --recount-queue, the shortest mission over only those bins."""
        from rich.console import Console
        from rich.table import Table

        from flight.errors import FlightError
        from flight.planfile import write_plan
        from flight.planner import PlanOptions, plan
        from flight.recount import plan_recount, read_bin_list
        from warehouse.camera import CameraSpec, load_camera
        from warehouse.plan_view import save_plan_view
        from warehouse.site import load_site

        site = load_site(site_yaml)
        cam = load_camera(camera_yaml) if camera_yaml else CameraSpec()
        ids = tuple(a.strip() for a in aisles.split(",")) if aisles else ()
        for a in ids:
            site.faces_of_aisle(a)
        opts = PlanOptions(aisles=ids, product_module_mm=product_module_mm, max_speed_m_s=max_speed_m_s,
                           endurance_s=endurance_s, reserve_frac=reserve_frac, lux=lux, allow_dark=allow_dark,
                           battery_swap_s=battery_swap_s)
        if bins is not None and recount_queue is not None:
            raise FlightError("--bins and --recount-queue: expected one of them")
        targets = None
        if bins is not None:
            targets = read_bin_list(bins, site)
        elif recount_queue is not None:
            from reconciliation.store import ResultsStore

            targets = ResultsStore(recount_queue).recount_queue()
            on_site = {x.bin_id for x in site.bins}
            unknown = [b for b in targets if b not in on_site]
            if unknown:
                raise FlightError(f"--recount-queue {recount_queue}: bin {unknown[0]!r} is not on site {site.spec.name!r}; "
                                  "expected the store of this site's counts")
            if not targets:
                typer.echo(f"nothing to recount in {recount_queue}: no open recount orders")
                return
        res = plan_recount(site, cam, targets, opts) if targets else plan(site, cam, opts)
        paths = []
        for i, m in enumerate(res.missions):
            p = out if i == 0 else out.with_suffix(f".s{i + 1}.plan")
            write_plan(m, p)
            paths.append(p)
        png = save_plan_view(site, out.with_suffix(".png"), paths_xy_m=res.path_xy_m)
        t = Table(title=f"plan for {site.spec.name}", show_header=False)
        light = res.exposure.describe() if res.exposure else f"not given: fixed exposure {cam.exposure_s * 1000:.2f} ms (--lux)"
        for k, v in [("light and exposure", light), ("standoff (m)", f"{res.standoff_m:.2f}"), ("speed (m/s)", f"{res.speed_m_s:.2f}"),
                     ("passes per face", ", ".join(f"{f}: {n}" for f, n in res.passes_per_face.items())),
                     ("min frames per bin", res.min_frames_per_bin),
                     ("bins" if targets is None else "bins to recount", res.bins_planned),
                     ("estimated flight time (min)", f"{res.est_flight_time_s / 60:.1f}"),
                     ("where the flight time goes", ", ".join(f"{k} {v / 60:.1f} min ({v / res.est_flight_time_s:.0%})"
                                                              for k, v in res.time_s.items())),
                     ("sorties", len(res.missions)),
                     ("battery changes (ground)", f"{len(res.missions) - 1} x {opts.battery_swap_s / 60:.0f} min = "
                                                  f"{res.battery_swaps_s / 60:.1f} min"),
                     ("bins per flight hour", f"{res.bins_per_flight_hour:.0f}"),
                     ("bins per wall-clock hour", f"{res.bins_planned / ((res.est_flight_time_s + res.battery_swaps_s) / 3600):.0f}"
                                                  " (with the battery changes)")]:
            t.add_row(k, str(v))
        con = Console()
        con.print(t)
        for w in res.warnings:
            con.print(f"[yellow]warning:[/] {w}")
        con.print("mission: " + ", ".join(str(p) for p in paths) + f"\npath picture: {png}")
