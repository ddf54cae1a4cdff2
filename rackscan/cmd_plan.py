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
        drones: int = typer.Option(1, "--drones", min=1, help="split the aisles between this many vehicles (a mission per vehicle and a fleet.yaml beside them)"),
        min_separation_m: float = typer.Option(3.0, "--min-separation-m", min=0.0, help="with --drones: closest two vehicles may come"),
        timing_tolerance_s: float = typer.Option(5.0, "--timing-tolerance-s", min=0.0, help="with --drones: keep the separation with either vehicle this many seconds early or late over the first legs"),
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
        if drones > 1:
            if targets:
                raise FlightError("--drones with --bins or --recount-queue: a recount flies one vehicle; expected one of them")
            _fleet(site, cam, opts, drones, min_separation_m, timing_tolerance_s, out)
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
                     *([("camera pair", "both faces in one pass down the middle of " + ", ".join(pair_aisles))]
                       if (pair_aisles := sorted({p.aisle_id for p in res.passes if p.other_face_id})) else []),
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


def _fleet(site, cam, opts, drones: int, min_separation_m: float, timing_tolerance_s: float, out: Path) -> None:
    """``plan --drones N``: each vehicle's missions (OUT.v1.plan, OUT.v1.s2.plan, ...), fleet.yaml
    beside them (what each vehicle flies, from where, when), the time table and the picture."""
    from rich.console import Console
    from rich.table import Table

    from flight.fleet import FleetOptions, plan_fleet
    from flight.fleet_fly import write_fleet

    fp = plan_fleet(site, cam, opts, FleetOptions(drones=drones, min_separation_m=min_separation_m,
                                                  timing_tolerance_s=timing_tolerance_s))
    fleet_yaml, doc = write_fleet(fp, out, site_name=site.spec.name, battery_swap_s=opts.battery_swap_s,
                                  required_separation_m=min_separation_m)
    t = Table(title=f"fleet plan for {site.spec.name}: {len(fp.vehicles)} vehicles")
    for c in ("vehicle", "aisles", "bins", "flight min", "sorties", "alt m", "start s", "done min"):
        t.add_column(c)
    for v in fp.vehicles:
        t.add_row(str(v.vehicle), ", ".join(v.aisles), str(v.plan.bins_planned), f"{v.plan.est_flight_time_s / 60:.1f}",
                  str(len(v.plan.missions)), f"{v.transit_alt_m:g}", f"{v.start_s:.0f}", f"{(v.start_s + v.busy_s) / 60:.1f}")
    png = _fleet_picture(site, fp, out.with_suffix(".png"))
    con = Console()
    con.print(t)
    sep = (f"{fp.min_separation_m:.1f} m (vehicles {fp.closest[0]} and {fp.closest[1]}, {fp.closest[2]:.0f} s in)"
           if fp.closest else "one vehicle in the air")
    con.print(f"site counted in {fp.wall_clock_s / 60:.1f} min wall clock (battery changes and holds included): "
              f"{fp.bins_per_wall_clock_hour:.0f} bins per wall-clock hour, {fp.bins_planned} bins; "
              f"{fp.flight_time_s / 60:.1f} min of flight in all; closest approach on the plans {sep}, "
              f"either vehicle up to {fp.timing_tolerance_s:g} s early or late over the first {fp.tolerance_window_s:g} s")
    for w in fp.warnings:
        con.print(f"[yellow]warning:[/] {w}")
    con.print(f"fleet: {fleet_yaml} (missions: {', '.join(v['missions'][0] for v in doc['vehicles'])}, ...)\n"
              f"path picture: {png}\n"
              f"fly them at once: rackscan fly --fleet {fleet_yaml} --record FLEET_DIR --link 1=ADDRESS --link 2=ADDRESS ...")


def _fleet_picture(site, fp, path: Path) -> Path:
    """The site plan with each vehicle's passes and launch pad in its own colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from warehouse.plan_view import plot_site

    ax = plot_site(site)
    colours = plt.get_cmap("tab10")
    for v in fp.vehicles:
        c = colours((v.vehicle + 1) % 10)  # past the two colours the site plan gives its aisles
        for k, xy in enumerate(v.plan.path_xy_m):
            ax.plot(xy[:, 0], xy[:, 1], "-", color=c, lw=2.0, alpha=0.8, label=f"vehicle {v.vehicle}" if k == 0 else None)
        ax.plot(*v.home_m, marker="s", ms=9, color=c, mec="black")
        ax.annotate(f"{v.vehicle}", v.home_m, textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
    ax.legend(loc="upper right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.tight_layout()
    ax.figure.savefig(path)
    plt.close(ax.figure)
    return path
