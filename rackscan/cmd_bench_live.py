"""``rackscan bench live SCENARIO.yaml``: the scenario flown in real time against the simulated
vehicle with ``rackscan fly --live`` (the virtual camera recording, the live counter counting as
it flies), then the offline pass over the landed flight; prints how late and how right the live
count was."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


@bench_app.command("live")
def live_bench(
    scenario_yaml: Path = typer.Argument(..., help="scenario YAML (datasets/scenarios/default.yaml); with --replay, the one the run flew (not read)"),
    aisles: str = typer.Option("", "--aisles", help="comma-separated aisles to fly (default: all)"),
    out: Path = typer.Option(Path("runs/bench/live"), "--out", help="work folder (replaced; with --replay, the run replayed)"),
    bins: Path = typer.Option(None, "--bins", help="fly a recount of only these bins (a text file, one bin id per line, or a CSV with a bin_id column) instead of whole aisles"),
    replay: bool = typer.Option(False, "--replay", help="fly nothing: fuse the live counter's fusions of the run already in --out again with today's code (each bin from the frames it was fused from), and the offline pass; prints how many provisional counts that reproduces and how many equal the final"),
) -> None:
    """Latency from the end of a bin's last pass to its row in the store (p50, p95, max), frames
    queued at most, frames lost, provisional = final (share of bins), processing left after landing,
    and the live fusions replayed offline (today's code against what the live counter wrote)."""
    import re
    import shutil
    import subprocess  # nosec B404: our own CLI, fixed argv, no shell
    import sys
    import time

    import numpy as np
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from datasets.world import build_world
    from flight.bundle import Bundle
    from flight.errors import FlightError
    from flight.planfile import write_plan
    from flight.planner import PlanOptions, plan
    from flight.sim import SimConfig, SimVehicle, free_udp_port
    from rackscan.cmd_bench_scenario import confidently_wrong, per_bin, score_counts
    from rackscan.live_count import compare_with_final, replay_live_fusions
    from rackscan.process import process_bundle
    from reconciliation.live import find_live_flight, live_bins
    from reconciliation.store import ResultsStore

    con = Console()
    if replay:
        if bins is not None or aisles:
            raise FlightError("--replay with --bins or --aisles: a replay fuses the run in --out as it was flown; "
                              "expected --replay with --out only")
        return _replay(con, out)
    world = build_world(scenario_yaml)
    ids = tuple(a.strip() for a in aisles.split(",") if a.strip())
    if bins is not None:
        from flight.recount import plan_recount, read_bin_list

        if ids:
            raise FlightError("--bins and --aisles: expected one of them")
        p = plan_recount(world.site, world.camera, read_bin_list(bins, world.site))
    else:
        p = plan(world.site, world.camera, PlanOptions(aisles=ids))
    if len(p.missions) > 1:
        raise FlightError(f"{scenario_yaml}: the plan needs {len(p.missions)} sorties; expected one (pass --aisles)")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    plan_file = write_plan(p.missions[0], out / "mission.plan")
    world.erp.to_csv(out / "erp.csv", index=False)
    world.catalogue.to_csv(out / "catalogue.csv", index=False)
    url = f"sqlite:///{(out / 'results.db').resolve()}"
    home = p.missions[0].home
    port = free_udp_port()
    drift = world.scenario.spec.telemetry.drift_m_per_min  # the vehicle's estimate drifts as the scenario says
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2],
                                                            ekf_ready_s=3.0, drift_m_per_min=drift,
                                                            seed=world.scenario.spec.seed)).start()
    con.print(f"flying {plan_file} in real time ({p.est_flight_time_s / 60:.1f} min planned) with --live"
              + (f"; the vehicle's position drifts {drift:.2f} m/min" if drift else ""))
    t0 = time.monotonic()
    try:
        r = subprocess.run([sys.executable, "-m", "rackscan", "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{port}",  # nosec B603
                            "--record", str(out / "flight"), "--camera", "synthetic", "--scenario", str(scenario_yaml),
                            "--live-db", url, "--live", "--erp", str(out / "erp.csv"), "--catalogue", str(out / "catalogue.csv")],
                           capture_output=True, text=True)
    finally:
        veh.stop()
    if r.returncode != 0:
        raise FlightError(f"bench live: the flight failed (rackscan fly exit {r.returncode}): "
                          f"{(r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ['no output'])[-1]}")
    wall = time.monotonic() - t0
    text = " ".join(r.stdout.split())
    left = re.search(r"processing left after landing ([0-9.]+) s", text)
    log = (out / "flight.live.log").read_text()
    done = re.search(r"live: done: (\d+) of (\d+) frames processed, (\d+) queued at most", log)
    store = ResultsStore(url)
    lid = find_live_flight(store, "flight")
    lb = live_bins(store, lid)
    shutil.copy(out / "catalogue.csv", out / "flight" / "catalogue.csv")
    process_bundle(out / "flight", log=lambda s: None)
    obs = pd.read_parquet(out / "flight" / "observations.parquet")
    same, n, changed = compare_with_final(store, lid, obs)
    rep = replay_live_fusions(out / "flight", store, lid)
    final = per_bin(obs)
    scored = {name: (*score_counts(rows, world.stock), confidently_wrong(rows, world.stock))
              for name, rows in (("provisional", lb), ("final", final))}
    off_m = _vehicle_off_m(out / "flight", world.site.origin)
    lat = lb["latency_s"].dropna().to_numpy()
    b = Bundle(out / "flight")
    what = f" {','.join(ids)}" if ids else (f" recount of {p.bins_planned} bins" if bins is not None else "")
    t = Table(title=f"rackscan bench live: {scenario_yaml.name}{what}, "
                    f"{len(b.frames)} frames, {wall / 60:.1f} min wall clock")
    for c in ("figure", "value", "goal"):
        t.add_column(c)
    pct = (lambda q: f"{np.percentile(lat, q):.1f} s") if len(lat) else (lambda q: "-")
    t.add_row("latency, end of a bin's last pass -> its row (p50 / p95 / max)",
              f"{pct(50)} / {pct(95)} / {f'{lat.max():.1f} s' if len(lat) else '-'}", "p95 <= 10 s")
    t.add_row("frames queued at most", done.group(3) if done else "?", "")
    t.add_row("frames lost", str(int(done.group(2)) - int(done.group(1))) if done else "?", "0")
    t.add_row("provisional = final", f"{same} of {n} bins ({same / n:.1%})" if n else "-", ">= 99%")
    t.add_row("processing left after landing", f"{float(left.group(1)):.1f} s" if left else "?", "<= 30 s (demo aisle)")
    t.add_row(f"live fusions replayed offline ({rep.frames_fused.nunique()}): provisional reproduced",
              f"{int((rep.replayed == rep.provisional).sum())} of {len(rep)} bins", "all")
    for name, (nb, ok_c, ok_s, wrong_hi) in scored.items():
        t.add_row(f"{name} counts against the truth: bins right, SKU right, wrong at >= 0.9",
                  f"{ok_c} of {nb}, {ok_s} of {nb}, {wrong_hi}" if nb else "-", "")
    t.add_row("vehicle off its reported position (the simulator's true one), at most",
              "-" if off_m is None else f"{off_m:.2f} m", "")
    con.print(t)
    if changed:
        con.print(f"changed after landing: {', '.join(changed)}")


def _replay(con, out: Path) -> None:
    """``bench live --replay``: the run in OUT fused again, live and offline, with today's code."""
    import pandas as pd
    from rich.table import Table

    from flight.errors import FlightError
    from rackscan.live_count import replay_live_fusions, replayable_live_bins
    from rackscan.process import process_bundle
    from reconciliation.live import find_live_flight
    from reconciliation.store import ResultsStore

    if not (out / "flight" / "flight.json").exists() or not (out / "results.db").exists():
        raise FlightError(f"--replay: {out} holds no bench live run (flight/ and results.db); expected the --out of "
                          "an earlier `rackscan bench live`")
    store = ResultsStore(f"sqlite:///{(out / 'results.db').resolve()}")
    lid = find_live_flight(store, "flight")
    if lid is None:
        raise FlightError(f"--replay: {out / 'results.db'} has no live flight 'flight'; expected a bench live run's store")
    replayable_live_bins(out / "flight", store, lid)  # refused before any work
    process_bundle(out / "flight", log=lambda s: None)  # today's offline pass (its detections are kept)
    final = pd.read_parquet(out / "flight" / "observations.parquet").groupby("bin_id")["count"].sum()
    rep = replay_live_fusions(out / "flight", store, lid)
    rep["final"] = [int(final.get(b, 0)) for b in rep["bin_id"]]
    t = Table(title=f"rackscan bench live --replay: {out}, {rep.frames_fused.nunique()} live fusions, {len(rep)} bins")
    for c in ("figure", "value"):
        t.add_column(c)
    n = len(rep)
    t.add_row("replayed = provisional (what the live counter wrote)", f"{int((rep.replayed == rep.provisional).sum())} of {n}")
    t.add_row("replayed = final (today's offline pass)", f"{int((rep.replayed == rep.final).sum())} of {n}")
    t.add_row("provisional = final", f"{int((rep.provisional == rep.final).sum())} of {n}")
    con.print(t)
    diff = rep[(rep.replayed != rep.provisional) | (rep.replayed != rep.final)]
    for r in diff.itertuples():
        con.print(f"{r.bin_id}: provisional {r.provisional}, replayed {r.replayed} (from {r.frames_fused} frames), "
                  f"final {r.final}", markup=False, highlight=False)


def _vehicle_off_m(bundle_dir: Path, origin) -> float | None:
    """Largest horizontal distance between where the vehicle said it was (GLOBAL_POSITION_INT)
    and where the simulator had it (SIMSTATE, as SITL sends it), each report against the newest
    true position; None without SIMSTATE (a real vehicle)."""
    import numpy as np

    from flight.bundle import Bundle

    true_m, worst = None, None
    for _t_ns, m in Bundle(bundle_dir).iter_mavlink(["SIMSTATE", "GLOBAL_POSITION_INT"]):
        if m.get_type() == "SIMSTATE":
            if m.lat or m.lng:
                true_m = origin.geodetic_to_site(m.lat * 1e-7, m.lng * 1e-7, origin.alt_m)[:2]
        elif true_m is not None and (m.lat or m.lon):
            d = float(np.hypot(*(origin.geodetic_to_site(m.lat * 1e-7, m.lon * 1e-7, origin.alt_m)[:2] - true_m)))
            worst = d if worst is None else max(worst, d)
    return worst


def register(app: typer.Typer) -> None:
    pass
