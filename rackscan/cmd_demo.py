"""``rackscan demo``: the main job on the built-in synthetic warehouse (``make demo``)."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default.yaml"


def _fly_sim(site, world, scenario_yaml: Path, aisles: list[str], bundle: Path, console, live_db: str | None = None,
             erp: Path | None = None, catalogue: Path | None = None):
    """Plan the aisles, start the simulated vehicle at the mission's home and fly it with
    ``rackscan fly`` (a separate process, as an operator would) recording the virtual camera;
    with ``live_db``, the flight is written there as it flies and counted as it flies against
    ``erp`` (the dashboard's Live page)."""
    # runs our own CLI with a fixed argv, no shell (bandit B404)
    import subprocess  # nosec B404
    import sys
    from types import SimpleNamespace

    from flight.bundle import Bundle
    from flight.errors import FlightError
    from flight.planfile import write_plan
    from flight.planner import PlanOptions, plan
    from flight.sim import SimConfig, SimVehicle, free_udp_port

    p = plan(site, world.camera, PlanOptions(aisles=tuple(aisles)))
    plan_file = write_plan(p.missions[0], bundle.parent / "mission-sim.plan")
    home = p.missions[0].home
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(home_lat_deg=home[0], home_lon_deg=home[1],
                                                            home_alt_m=home[2], ekf_ready_s=3.0)).start()
    console.print(f"simulated ArduCopter on udp 127.0.0.1:{port}; flying {plan_file} in real time")
    argv = [sys.executable, "-m", "rackscan", "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{port}",
            "--record", str(bundle), "--camera", "synthetic", "--scenario", str(scenario_yaml)]
    argv += ["--live-db", live_db, "--live"] if live_db else []
    argv += ["--erp", str(erp)] if live_db and erp else []
    argv += ["--catalogue", str(catalogue)] if live_db and catalogue else []
    try:
        # our interpreter and CLI, arguments we built (bandit B603)
        r = subprocess.run(argv)  # nosec B603
    finally:
        veh.stop()
    if r.returncode != 0:
        raise FlightError(f"{bundle}: the simulated flight failed (rackscan fly exit {r.returncode})")
    world.catalogue.to_csv(bundle / "catalogue.csv", index=False)
    b = Bundle(bundle)
    t = [f.t_ns for f in b.frames]
    return SimpleNamespace(bundle=bundle, n_frames=len(b), flight_time_s=(max(t) - min(t)) / 1e9 if t else 0.0)


def _live_vs_final(db_url: str, bundle: Path, console) -> None:
    """How the counts made while flying compare with the offline pass's."""
    import pandas as pd

    from rackscan.live_count import compare_with_final
    from reconciliation.live import find_live_flight
    from reconciliation.store import ResultsStore

    store = ResultsStore(db_url)
    lid = find_live_flight(store, bundle.name)
    if lid is None or not (bundle / "observations.parquet").exists():
        return
    same, n, changed = compare_with_final(store, lid, pd.read_parquet(bundle / "observations.parquet"))
    console.print(f"counted while flying: {same} of {n} bins as the offline pass counts them"
                  + (f"; changed after landing: {', '.join(changed)}" if changed else ""))


def _demo_account(out: Path) -> tuple[Path, str, str]:
    """A controller account for the demo's dashboard, in the demo's own users file (kept across runs)."""
    import secrets

    import yaml

    from dashboard.auth import add_user

    users = (out / "users.yaml").resolve()
    pw_file = out / "demo-password.txt"
    if users.exists() and pw_file.exists() and "demo" in (yaml.safe_load(users.read_text()) or {}).get("users", {}):
        return users, "demo", pw_file.read_text().strip()
    words = ("tread", "rim", "bead", "ply", "lug", "sipe", "groove", "shoulder", "valve", "hub", "casing", "apex")
    password = "-".join(secrets.SystemRandom().sample(words, 3)) + f"-{secrets.randbelow(900) + 100}"
    add_user("demo", "controller", password, users)
    pw_file.write_text(password + "\n")
    pw_file.chmod(0o600)
    return users, "demo", password


def _start_dashboard(out: Path, db_url: str, users: Path, console) -> str:
    """The demo's dashboard, started in the background before the flight (so the flight can be
    watched live) and left running after the demo ends; a second demo run reuses it. Returns its URL."""
    import os
    import socket
    import subprocess  # nosec B404: our own CLI, a fixed argv, no shell
    import sys
    import time

    pid_file = out / "dashboard.pid"
    if pid_file.exists():
        try:
            pid, port = (int(x) for x in pid_file.read_text().split())
            os.kill(pid, 0)
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return f"http://127.0.0.1:{port}"
        except (ValueError, OSError):
            pid_file.unlink(missing_ok=True)
    with socket.socket() as probe:
        port = 8501 if probe.connect_ex(("127.0.0.1", 8501)) != 0 else 0
    if port == 0:  # 8501 taken (another dashboard): any free port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    log = open(out / "dashboard.log", "ab")  # noqa: SIM115 - the server outlives this function
    proc = subprocess.Popen([sys.executable, "-m", "rackscan", "dashboard", "--db", db_url, "--users", str(users),  # nosec B603
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            console.print(f"warning: the dashboard did not start (exit {proc.returncode}; {out / 'dashboard.log'})")
            return ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                break
        except OSError:
            time.sleep(0.5)
    pid_file.write_text(f"{proc.pid} {port}\n")
    return f"http://127.0.0.1:{port}"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("out/demo"), "--out", help="output directory"),
        scenario_yaml: Path = typer.Option(DEFAULT_SCENARIO, "--scenario", help="scenario YAML"),
        frames: int = typer.Option(12, "--frames", help="gallery frames to render"),
        flight_aisles: str = typer.Option("A01", "--flight-aisles", help="aisles the synthetic flight scans ('' for none)"),
        flight: str = typer.Option("sim", "--flight", help="sim (the planned mission flown over MAVLink against the "
                                   "simulated vehicle, virtual camera recording, real time) or synthetic (the recorder: "
                                   "rendered frames along the passes, faster)"),
        dashboard: bool = typer.Option(True, "--dashboard/--no-dashboard", help="start the dashboard before the flight "
                                       "(left running: its Live page shows the sim flight as it flies, then the count)"),
    ) -> None:
        """Synthesise the warehouse, plan the mission, record a synthetic scan flight, then detect,
        fuse and reconcile it against the ERP snapshot."""
        from rich.console import Console

        from datasets.synth import synthesize
        from rackscan.executors import progress_bar
        from warehouse.plan_view import save_plan_view
        from warehouse.site import load_site

        console = Console()
        console.rule("[bold]rackscan demo: synthetic tire warehouse")
        with progress_bar() as prog:
            task = prog.add_task("synthesising", total=None)
            res = synthesize(scenario_yaml, out / "synth", n_frames=frames,
                             on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        site = load_site(out / "synth" / "site.yaml")
        s = site.summary()
        png = save_plan_view(site, out / "synth" / "site.png")
        console.print(f"site [bold]{s.name}[/]: {s.n_aisles} aisles, {s.n_faces} faces, {s.n_bins} bins, "
                      f"{s.face_length_m:.1f} m of rack face; plan view {png}")
        console.print(f"stock: {res.n_tires} tires; ERP snapshot with {res.n_discrepancies} injected discrepancies "
                      f"({out / 'synth' / 'truth' / 'discrepancies.csv'})")
        console.print(f"camera distance for the labels: {res.standoff_m:.2f} m; contact sheet {res.contact_sheet}")

        from datasets.synthflight import record_synthetic_flight
        from datasets.world import build_world
        from flight.planfile import write_plan
        from flight.planner import PlanOptions, plan

        world = build_world(scenario_yaml)
        p = plan(site, world.camera, PlanOptions())
        for i, m in enumerate(p.missions):
            write_plan(m, out / ("mission.plan" if i == 0 else f"mission.s{i + 1}.plan"))
        save_plan_view(site, out / "mission.png", paths_xy_m=p.path_xy_m)
        console.print(f"mission: {len(p.missions)} sortie(s), {p.est_flight_time_s / 60:.1f} min, "
                      f"{p.bins_per_flight_hour:.0f} bins per flight hour ({out / 'mission.plan'}, {out / 'mission.png'})")
        aisles = [a for a in flight_aisles.split(",") if a]
        if flight not in ("synthetic", "sim"):
            from flight.errors import FlightError

            raise FlightError(f"--flight: {flight!r}; expected synthetic or sim")
        if aisles:
            import shutil

            shutil.rmtree(out / "flight", ignore_errors=True)  # the demo owns its output folder: a re-run starts clean
            faces = [f.face_id for a in aisles for f in site.faces_of_aisle(a)]
            report = out / "report"
            report.mkdir(parents=True, exist_ok=True)
            db_url = f"sqlite:///{(report / 'results.db').resolve()}"
            users, name, password = _demo_account(out)
            url = _start_dashboard(out, db_url, users, console) if dashboard else ""
            if url:
                console.print(f"dashboard: [bold]{url}[/], sign in as [bold]{name}[/] with password [bold]{password}[/] "
                              f"(a demo account in {users}; `rackscan users add` makes real ones)"
                              + ("; the Live page shows the flight as it flies" if flight == "sim" else ""))
            if flight == "sim":
                fr = _fly_sim(site, world, scenario_yaml, aisles, out / "flight", console, live_db=db_url,
                              erp=out / "synth" / "erp_stock.xlsx", catalogue=out / "synth" / "catalogue.csv")
            else:
                with progress_bar() as prog:
                    task = prog.add_task(f"synthetic flight over {','.join(aisles)}", total=None)
                    fr = record_synthetic_flight(world, out / "flight", face_ids=faces,
                                                 on_frame=lambda i, n: prog.update(task, completed=i, total=n))
            how = ("flown over MAVLink, telemetry.tlog as received" if flight == "sim"
                   else "synthetic recorder, telemetry.tlog with RTK noise, ground truth in truth/")
            console.print(f"flight bundle {fr.bundle}: {fr.n_frames} frames, {fr.flight_time_s:.0f} s of flight ({how})")
            from rackscan.cmd_reconcile import summary_table
            from rackscan.executors import LocalExecutor
            from rackscan.process import process_bundle

            console.rule("[bold]offline pipeline on the recorded flight: detect, fuse, reconcile")
            rep = process_bundle(fr.bundle, erp=out / "synth" / "erp_stock.xlsx", executor=LocalExecutor(),
                                 reconcile_options={"out_dir": report, "db_url": db_url, "min_confidence": 0.8},
                                 log=console.print)
            if rep.reconciliation is not None:
                console.print(summary_table(rep.reconciliation, "discrepancies against the ERP snapshot"))
            if flight == "sim":
                _live_vs_final(db_url, fr.bundle, console)
            console.print(f"processing took {rep.processing_s:.0f} s for {rep.flight_time_s:.0f} s of flight; "
                          f"report {report / 'report.xlsx'}, evidence frames in {fr.bundle / 'evidence'}")
            if url:
                pid = (out / "dashboard.pid").read_text().split()[0]
                console.print(f"the dashboard keeps running at [bold]{url}[/] (sign in as [bold]{name}[/], password "
                              f"[bold]{password}[/]): the count and its evidence are on the Overview, Rack view and "
                              f"Discrepancies pages; stop it with `kill {pid}`")
            else:
                console.print(f"open the dashboard: [bold]rackscan dashboard --db {db_url} --users {users}[/]\n  then "
                              f"http://127.0.0.1:8501, sign in as [bold]{name}[/] with password [bold]{password}[/] (a "
                              f"demo account in {users}; `rackscan users add` makes real ones)")
        if flight != "sim":
            console.print("this flight was the synthetic recorder; the default `--flight sim` flies the mission over "
                          "MAVLink against the simulated vehicle (real time, a few minutes)")
