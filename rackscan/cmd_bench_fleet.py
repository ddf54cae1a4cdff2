"""``rackscan bench fleet SCENARIO.yaml --drones N``: the scenario's site split between N vehicles
(``rackscan plan --drones N``) and flown at once against N simulated vehicles over MAVLink (one
link and system id each; a battery change starts the vehicle again on its pad on a fresh pack; the
separation guard holds a vehicle about to come too close), then each
sortie processed and the sorties merged into one count (a campaign). Prints bins per hour (flight
and wall clock), the closest approach of two vehicles in the recorded telemetry and the merged
count's accuracy against the scenario's truth."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


@bench_app.command("fleet")
def fleet_bench(
    scenario_yaml: Path = typer.Argument(..., help="scenario YAML (datasets/scenarios/default.yaml)"),
    drones: int = typer.Option(2, "--drones", min=1, help="vehicles"),
    speedup: float = typer.Option(1.0, "--speedup", help="vehicle seconds per wall second (with --camera synthetic the camera still renders 5 frames per wall second, so keep 1 to count)"),
    camera: str = typer.Option("synthetic", "--camera", help="synthetic (render and count: accuracy) or none (throughput and separation only)"),
    grid: str = typer.Option("", "--grid", help="fly a generated site of AISLESxBAYS (e.g. 8x8: 1,536 bins) instead of the scenario's (with --camera none)"),
    aisles: str = typer.Option("", "--aisles", help="only these aisles, comma separated (default: all)"),
    endurance_s: float = typer.Option(None, "--endurance-s", help="flight time a battery gives, to empty (default: the simulated pack's, 660 s); the plan keeps 35% of it in reserve"),
    out: Path = typer.Option(Path("runs/bench/fleet"), "--out", help="work folder (replaced)"),
    guard: bool = typer.Option(True, "--guard/--no-guard", help="the separation guard (--no-guard: the plan's time slots alone)"),
) -> None:
    """Bins per flight hour and per wall-clock hour, the closest approach in the telemetry, count accuracy of the merged result."""
    import shutil
    import time

    from rich.console import Console
    from rich.table import Table

    from datasets.world import build_world
    from flight.errors import FlightError
    from flight.fleet import FleetOptions, plan_fleet
    from flight.fleet_fly import fly_fleet, load_fleet, write_fleet
    from flight.planfile import read_plan
    from flight.planner import PlanOptions
    from flight.runner import RunnerOptions
    from flight.session import CameraSource
    from flight.sim import SimConfig, SimVehicle, free_udp_port
    from rackscan.cameras import virtual_camera
    from rackscan.executors import progress_bar

    if camera not in ("synthetic", "none"):
        raise FlightError(f"--camera {camera!r}: expected synthetic or none")
    if grid and camera != "none":
        raise FlightError("--grid: a generated site has no stock to render; expected --camera none")
    con = Console()
    world = build_world(scenario_yaml)
    site = world.site
    if grid:
        from warehouse.site import grid_site_dict, site_from_dict

        a, _, b = grid.partition("x")
        if not (a.isdigit() and b.isdigit() and int(a) > 0 and int(b) > 0):
            raise FlightError(f"--grid {grid!r}: expected AISLESxBAYS, e.g. 8x8")
        site = site_from_dict(grid_site_dict(int(a), int(b), name=f"a generated {grid} site"), source="generated site")
    ids = tuple(x.strip() for x in aisles.split(",") if x.strip())
    # the simulated pack (SITL's 3.3 Ah at 18 A hover: 11 min to empty) and a reserve over the failsafe
    # profile's low-capacity line (30% left): the planner's defaults are for a larger pack
    sim_cfg = SimConfig()
    pack_s = sim_cfg.battery_capacity_mah / 1000.0 / sim_cfg.hover_current_a * 3600.0
    opts = PlanOptions(aisles=ids, endurance_s=endurance_s or pack_s, reserve_frac=0.35)
    fp = plan_fleet(site, world.camera, opts, FleetOptions(drones=drones))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    fleet_yaml, _ = write_fleet(fp, out / "plans" / "mission.plan", site_name=site.spec.name,
                                battery_swap_s=opts.battery_swap_s)
    man = load_fleet(fleet_yaml)
    site_file = out / "site.yaml"
    site_file.write_text(site.to_yaml(), encoding="utf-8")
    drift = world.scenario.spec.telemetry.drift_m_per_min if not grid else 0.0
    sims: dict[int, SimVehicle] = {}
    ports: dict[int, int] = {}
    homes: dict[int, tuple[float, float, float]] = {}

    def start_sim(v) -> None:
        h = homes[v.vehicle]
        sims[v.vehicle] = SimVehicle(f"udpout:127.0.0.1:{ports[v.vehicle]}", SimConfig(
            home_lat_deg=h[0], home_lon_deg=h[1], home_alt_m=h[2], speedup=speedup, ekf_ready_s=2.0, sysid=v.sysid,
            drift_m_per_min=drift, seed=world.scenario.spec.seed + v.vehicle)).start()

    def swap(v, sortie: int) -> None:  # a fresh pack: the autopilot boots again on the pad
        sims[v.vehicle].stop()
        start_sim(v)

    for v in man.vehicles:
        ports[v.vehicle] = free_udp_port()
        homes[v.vehicle] = read_plan(v.missions[0]).home
        start_sim(v)
    sorties = sum(len(v.missions) for v in man.vehicles)
    nv = len(man.vehicles)
    con.print(f"flying {nv} vehicle{'s' if nv != 1 else ''} over {fp.bins_planned} bins of {site.spec.name} "
              f"({sorties} sortie{'s' if sorties != 1 else ''}, "
              f"{fp.wall_clock_s / 60:.1f} min planned wall clock) at {speedup:g}x, camera {camera}")
    t0 = time.monotonic()
    try:
        with progress_bar() as prog:
            tasks = {v.vehicle: prog.add_task(f"vehicle {v.vehicle}", total=None) for v in man.vehicles}

            def progress(vehicle: int, sortie: int, done: int, total: int) -> None:
                prog.update(tasks[vehicle], completed=done, total=total,
                            description=f"vehicle {vehicle} sortie {sortie}: item {done}/{total}")

            ff = fly_fleet(man, record=out / "fleet", links={k: f"udpin:127.0.0.1:{p}" for k, p in ports.items()},
                           camera_for=lambda v: virtual_camera(scenario_yaml) if camera == "synthetic" else CameraSource(),
                           options=RunnerOptions(), site_yaml=site_file,
                           time_scale=speedup, swap=swap, on_progress=progress, guard=guard)
    finally:
        for s in sims.values():
            s.stop()
    wall_s = time.monotonic() - t0
    if not ff.ok:
        bad = [f"vehicle {s.vehicle} sortie {s.sortie}: {s.status} ({s.detail})" for s in ff.sorties if s.status != "complete"]
        raise FlightError(f"bench fleet: not every sortie completed: {'; '.join(bad)}")
    air_s, first_up, last_down = _airborne(ff.bundles, site.origin)
    airborne_s = air_s * speedup  # the vehicles' airborne time in the telemetry, in vehicle seconds
    span_s = (last_down - first_up) * speedup if first_up is not None else 0.0
    acc = _merged_accuracy(world, ff.bundles, out, con) if camera == "synthetic" else None
    t = Table(title=f"rackscan bench fleet: {scenario_yaml.name if not grid else site.spec.name}, {len(man.vehicles)} "
                    f"vehicles, {fp.bins_planned} bins, {wall_s / 60:.1f} min wall clock to fly at {speedup:g}x")
    for c in ("figure", "value", "goal"):
        t.add_column(c)
    t.add_row("flight time (all vehicles, airborne in the telemetry)", f"{airborne_s / 60:.1f} min", "")
    t.add_row("bins per flight hour (per drone-hour airborne)", f"{fp.bins_planned / (airborne_s / 3600):.0f}" if airborne_s else "-",
              ">= 1,500 (one drone)")
    t.add_row("wall clock, first take-off to last landing (battery changes included)", f"{span_s / 60:.1f} min",
              f"planned {fp.wall_clock_s / 60:.1f} min")
    t.add_row("bins per wall-clock hour", f"{fp.bins_planned / (span_s / 3600):.0f}" if span_s else "-",
              ">= 5,000 (4 drones, >= 1,000 bins)")
    t.add_row("battery changes", str(len(ff.swaps)), "")
    t.add_row("separation guard holds", "off" if not guard else
              f"{len(ff.holds)} ({sum(h.held_s for h in ff.holds) * speedup:.0f} s held in all)", "")
    t.add_row("closest approach in the telemetry", "-" if ff.min_separation_m is None else
              f"{ff.min_separation_m:.2f} m (vehicles {ff.closest[0]} and {ff.closest[1]}, {ff.closest[2]:.0f} s in)", ">= 3 m")
    if acc is not None:
        n, ok_c, ok_s, wrong_hi = acc
        t.add_row("merged count: bins right", f"{ok_c} of {n} ({ok_c / n:.1%})" if n else "-", "as one drone")
        t.add_row("merged count: SKU right", f"{ok_s} of {n} ({ok_s / n:.1%})" if n else "-", "")
        t.add_row("merged count: wrong at confidence >= 0.9", str(wrong_hi), "0")
    con.print(t)
    for w in ff.warnings:
        con.print(f"warning: {w}", markup=False, highlight=False)
    con.print(f"time line: {ff.timeline_file}")


def _airborne(bundles, origin) -> tuple[float, float | None, float]:
    """From each bundle's telemetry, read once: ground-station seconds airborne (all vehicles
    together), and the fleet's first take-off and last landing."""
    import numpy as np

    from flight.fleet_fly import telemetry_track

    air, lo, hi = 0.0, None, 0.0
    for b in bundles:
        t, p = telemetry_track(b, origin)
        if not len(t):
            continue
        up = p[:, 2] > 0.2
        air += float(np.sum(np.diff(t)[up[:-1] & up[1:]]))
        if up.any():
            lo = float(t[up][0]) if lo is None else min(lo, float(t[up][0]))
            hi = max(hi, float(t[up][-1]))
    return air, lo, hi


def _merged_accuracy(world, bundles, out: Path, con) -> tuple[int, int, int, int]:
    """Each sortie processed (detect, fuse), all of them merged as one campaign's count (each bin's
    latest trusted observation), scored against the truth: (bins, count right, SKU right, wrong at >= 0.9)."""
    from rackscan.cmd_bench_scenario import confidently_wrong, per_bin, score_counts
    from rackscan.process import process_bundle
    from reconciliation.campaign import add_flight, create_campaign, load_campaign
    from reconciliation.store import ResultsStore

    for b in bundles:
        world.catalogue.to_csv(Path(b) / "catalogue.csv", index=False)
        con.print(f"processing {b}")
        process_bundle(b, log=lambda s: None)
    store = ResultsStore(f"sqlite:///{(out / 'results.db').resolve()}")
    site_file = out / "site.yaml"
    create_campaign(store, "bench-fleet", site_file)
    for b in bundles:
        add_flight(store, "bench-fleet", b)
    merged = load_campaign(store, "bench-fleet").merged().observations
    bins = per_bin(merged)
    n, ok_c, ok_s = score_counts(bins, world.stock)
    wrong_hi = confidently_wrong(bins, world.stock)
    bins.to_csv(out / "merged_count.csv", index=False)
    return n, ok_c, ok_s, wrong_hi


def register(app: typer.Typer) -> None:
    pass
