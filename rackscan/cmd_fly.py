"""``rackscan fly MISSION.plan --connect ADDRESS --record OUT/``: fly a planned mission over MAVLink
and record it as a flight bundle (telemetry.tlog, frames, site, camera), with a live progress bar;
Ctrl-C sends RTL (or LAND) and waits for the vehicle to disarm. ``flight.session.fly`` decides
everything; this verb parses the options and prints what came back."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("fly")
    def fly(
        plan_file: Path = typer.Argument(None, help="QGroundControl .plan made by rackscan plan (or --fleet)"),
        fleet_yaml: Path = typer.Option(None, "--fleet", help="fly a fleet at once: the fleet.yaml `rackscan plan --drones N` wrote (one link per vehicle, --link); --record is the folder of its bundles (NAME-vK, NAME-vK-s2, ...) and fleet_timeline.json"),
        links: list[str] = typer.Option([], "--link", help="with --fleet: VEHICLE=ADDRESS, once per vehicle (default: vehicle K listens on udpin:0.0.0.0:14550+10*(K-1), as SITL's -I instances)"),
        battery_wait_s: float = typer.Option(900.0, "--battery-wait-s", help="with --fleet: how long a vehicle waits for its charged battery between sorties"),
        time_scale: float = typer.Option(1.0, "--time-scale", help="with --fleet against simulators faster than real time (SITL --speedup, rackscan sim --speedup): vehicle seconds per wall second, so the plan's start holds, the battery changes and the guard's holds keep their length in vehicle time"),
        connect: str = typer.Option("udpin:0.0.0.0:14550", "--connect", help="mavutil address of the vehicle link"),
        record: Path = typer.Option(..., "--record", help="new flight bundle directory"),
        site_yaml: Path = typer.Option(None, "--site", help="site file recorded into the bundle (default: the scenario's)"),
        camera: str = typer.Option("none", "--camera", help="none, opencv:INDEX, or synthetic (renders --scenario)"),
        scenario_yaml: Path = typer.Option(None, "--scenario", help="scenario for --camera synthetic"),
        camera_yaml: Path = typer.Option(None, "--camera-file", help="camera YAML (with --camera opencv)"),
        required_fix: int = typer.Option(None, "--required-fix", help="GPS fix type required (default 6, RTK fixed; 0 indoors)"),
        abort_mode: str = typer.Option(None, "--abort-mode", help="what Ctrl-C does: RTL (default) or LAND"),
        resume: bool = typer.Option(False, "--resume", help="continue the interrupted flight recorded in --record from its interrupted pass, recording the rest in RECORD.resume1 (.resume2, ...)"),
        resume_from: Path = typer.Option(None, "--resume-from", help="bundle of an interrupted flight: continue from its interrupted pass, recording into --record"),
        failsafe_profile: Path = typer.Option(None, "--failsafe-profile", help="failsafe profile YAML: the vehicle parameters to set before arming and the runner's policy per signal (default: the shipped warehouse profile)"),
        signing_key_hex: str = typer.Option(None, "--signing-key-hex", help="MAVLink 2 signing key, 64 hex digits"),
        require_signing: bool = typer.Option(False, "--require-signing", help="refuse a vehicle that does not sign"),
        heartbeat_timeout_s: float = typer.Option(None, "--heartbeat-timeout-s", help="wait this long for the vehicle (default 10)"),
        link_giveup_s: float = typer.Option(None, "--link-giveup-s", help="stop watching after the link is lost this long (default 60)"),
        airframe: str = typer.Option(None, "--airframe", help="airframe serial (rackscan fleet): with --battery and --operator, refuse while maintenance is overdue or the checklist is not confirmed, and log the flight"),
        battery: str = typer.Option(None, "--battery", help="battery serial (rackscan fleet)"),
        camera_serial: str = typer.Option(None, "--camera-serial", help="camera serial (rackscan fleet), logged with the flight"),
        operator: str = typer.Option(None, "--operator", help="who flies (recorded in the flight log)"),
        override: str = typer.Option(None, "--override", help="fly although the fleet checks refuse; the reason is recorded"),
        rules: Path = typer.Option(None, "--maintenance-rules", help="maintenance rules YAML (default: the shipped one)"),
        db: str = typer.Option("sqlite:///results.db", "--db", help="results store with the fleet (with --airframe)"),
        live_db: str = typer.Option(None, "--live-db", help="results store to write the flight to as it happens (position, battery, mode, link, progress: the dashboard's Live page), e.g. sqlite:///results.db"),
        live_count: bool = typer.Option(False, "--live", help="with --live-db: count while flying (a worker process detects and fuses the frames as they are recorded and writes each bin, once its passes are flown, as provisional)"),
        live_erp: Path = typer.Option(None, "--erp", help="with --live: the ERP export the provisional bins are compared with"),
        catalogue: Path = typer.Option(None, "--catalogue", help="with --live: GTIN -> SKU catalogue (catalogue.csv)"),
    ) -> None:
        """Fly the mission, record the bundle, print how the flight ended."""
        from dataclasses import replace

        from rich.console import Console

        from flight.errors import FlightError
        from flight.failsafe import load_failsafe_profile
        from flight.runner import RunnerOptions
        from flight.session import FlyRequest
        from flight.session import fly as fly_session
        from flight.signing import key_from_hex
        from rackscan.cameras import camera_source
        from rackscan.executors import progress_bar

        key = key_from_hex(signing_key_hex)
        given = dict(required_fix=required_fix, abort_mode=abort_mode, heartbeat_timeout_s=heartbeat_timeout_s,
                     link_giveup_s=link_giveup_s)
        opts = replace(RunnerOptions(), signing_key=key, require_signing=require_signing,
                       failsafe=load_failsafe_profile(failsafe_profile), **{k: v for k, v in given.items() if v is not None})
        con = Console()
        if fleet_yaml is not None:
            mixed = [o for o, v in (("PLAN_FILE", plan_file), ("--resume", resume), ("--resume-from", resume_from),
                                    ("--live-db", live_db), ("--live", live_count), ("--airframe", airframe),
                                    ("--battery", battery), ("--operator", operator)) if v]
            if mixed:
                raise FlightError(f"--fleet with {', '.join(mixed)}: a fleet flies the missions its fleet.yaml names, "
                                  "counted offline; expected --fleet with --record, --link, --camera and the link options")
            return _fly_fleet(con, fleet_yaml, record, links, opts, camera, scenario_yaml, camera_yaml, site_yaml,
                              battery_wait_s, time_scale)
        if time_scale != 1.0:
            raise FlightError(f"--time-scale {time_scale:g}: only with --fleet (one vehicle's flight keeps no clock of its own)")
        if plan_file is None:
            raise FlightError("PLAN_FILE: missing; expected a .plan made by rackscan plan (or --fleet fleet.yaml)")
        fleet = None
        if airframe or battery or camera_serial or operator or override:
            fleet = _fleet_gate(con, db, rules, airframe, battery, camera_serial, operator, override,
                                record.name if not (resume or resume_from) else "")
        cam = camera_source(camera, scenario_yaml=scenario_yaml, camera_file=camera_yaml)
        live = None
        if live_count and not live_db:
            raise FlightError("--live: expected --live-db URL too (the store is where the live count goes)")
        if live_count and (resume or resume_from):
            raise FlightError("--live with --resume: a continued flight is counted offline (rackscan process); "
                              "expected --live on a new flight only")
        for opt, path in (("--erp", live_erp), ("--catalogue", catalogue)):
            if path is not None and not Path(path).is_file():
                raise FlightError(f"{opt} {path}: not a file; expected the ERP export / catalogue.csv")
        if live_erp is not None:
            from reconciliation.erp import load_erp

            load_erp(live_erp)  # a bad export is refused now, in one line, not found out mid-flight
        if live_db:
            from reconciliation.live import StoreLiveSink

            live = StoreLiveSink(live_db)  # opening it checks the URL before anything flies
        req = FlyRequest(plan_file=plan_file, record=record, connect=connect, camera=cam, site_yaml=site_yaml,
                         resume=resume, resume_from=resume_from, options=opts, live=live)
        with progress_bar() as prog:
            task = prog.add_task("connecting", total=None)

            def progress(done: int, total: int) -> None:
                prog.update(task, completed=done, total=total,
                            description=f"flying, item {done}/{total}" if done else "connecting")

            worker = _start_live_count(record, live_db, live_erp, catalogue) if live_count else None
            try:
                out = fly_session(req, log=prog.console.print, on_progress=progress)
            except BaseException:
                if worker is not None:
                    worker.terminate()
                raise
        if worker is not None:
            _finish_live_count(con, worker, record)
        for e in out.outcome.failsafes:
            con.print(f"failsafe at {e.t_s:.0f} s (item {e.mission_seq}): {e.signal.value}: {e.detail} -> "
                      f"{e.action.value} by the {e.by}")
        o = out.outcome
        con.print(f"flight {out.status}: last item reached {o.last_reached_seq}, vehicle "
                  f"{'disarmed on the ground' if o.disarmed_on_ground else 'not confirmed landed'} ({o.mode}); "
                  f"{out.frames} frames recorded in {out.record}")
        if fleet is not None:
            from operations.fleet import log_flight
            from rackscan.cmd_fleet import flight_line

            store, gate = fleet
            row = log_flight(store, out.record, airframe=airframe, battery=battery, camera=camera_serial,
                             operator=operator, gate=gate)
            con.print(flight_line(row))
        if live is not None and live.live_id is not None:
            con.print(f"live: flight shown on the dashboard's Live page (live flight {live.live_id} in {live_db})")
        if out.resumable:
            con.print(f"resume with: rackscan fly {plan_file} --connect {connect} --record {out.requested} --resume")


def _fly_fleet(con, fleet_yaml: Path, record: Path, links: list[str], opts, camera: str, scenario_yaml, camera_yaml,
               site_yaml, battery_wait_s: float, time_scale: float = 1.0) -> None:
    """``fly --fleet``: every vehicle at once, a progress bar each; the sorties, battery changes and
    the closest approach in the telemetry printed after landing."""
    from flight.fleet_fly import fly_fleet, load_fleet, parse_links, wait_for_charged_battery
    from rackscan.cameras import camera_source
    from rackscan.executors import progress_bar

    man = load_fleet(fleet_yaml)
    addr = parse_links(links, man)
    camera_source(camera, scenario_yaml=scenario_yaml, camera_file=camera_yaml)  # a bad camera refused before anything flies

    with progress_bar() as prog:
        tasks = {v.vehicle: prog.add_task(f"vehicle {v.vehicle}: waiting {v.start_s:.0f} s" if v.start_s else
                                          f"vehicle {v.vehicle}: connecting", total=None) for v in man.vehicles}

        def progress(vehicle: int, sortie: int, done: int, total: int) -> None:
            prog.update(tasks[vehicle], completed=done, total=total,
                        description=f"vehicle {vehicle} sortie {sortie}: item {done}/{total}")

        def swap(v, sortie: int) -> None:
            prog.console.print(f"vehicle {v.vehicle}: land done; change its battery for sortie {sortie} "
                               f"(planned {man.battery_swap_s:.0f} s)", markup=False, highlight=False)
            wait_for_charged_battery(addr[v.vehicle], _with_sysid(opts, v.sysid), timeout_s=battery_wait_s,
                                     log=lambda t: prog.console.print(f"vehicle {v.vehicle}: {t}", markup=False,
                                                                      highlight=False))

        ff = fly_fleet(man, record=record, links=addr, options=opts, swap=swap, site_yaml=site_yaml,
                       camera_for=lambda v: camera_source(camera, scenario_yaml=scenario_yaml, camera_file=camera_yaml),
                       log=lambda t: prog.console.print(t, markup=False, highlight=False), on_progress=progress,
                       time_scale=time_scale)
    if ff.refused:
        from flight.errors import FlightError

        raise FlightError(f"--fleet {fleet_yaml}: nothing flew; {ff.refused} (time line {ff.timeline_file})")
    from rich.table import Table

    t = Table(title=f"fleet flight {record}: {len(man.vehicles)} vehicles")
    for c in ("vehicle", "sysid", "sortie", "status", "frames", "bundle", "detail"):
        t.add_column(c)
    for s in ff.sorties:
        t.add_row(str(s.vehicle), str(s.sysid), str(s.sortie), s.status, str(s.frames), s.record, s.detail)
    con.print(t)
    sep = (f"{ff.min_separation_m:.2f} m (vehicles {ff.closest[0]} and {ff.closest[1]}, {ff.closest[2]:.0f} s in)"
           if ff.min_separation_m is not None else "fewer than two vehicles flew")
    con.print(f"fleet {'stopped by the operator' if ff.stopped else ('complete' if ff.ok else 'not complete')}: "
              f"{ff.wall_clock_s / 60:.1f} min wall clock, {len(ff.swaps)} battery change(s); closest approach in the "
              f"telemetry {sep}; separation guard: {len(ff.holds)} hold(s), {sum(h.held_s for h in ff.holds):.0f} s "
              f"held (each in the time line); time line {ff.timeline_file}", markup=False, highlight=False)
    for w in ff.warnings:
        con.print(f"warning: {w}", markup=False, highlight=False)
    if ff.bundles:
        bs = " ".join(str(b) for b in ff.bundles)
        con.print(f"count it as one: rackscan process {bs}; rackscan campaign new {record.name} --site SITE.yaml; "
                  f"rackscan campaign add {record.name} {bs}; rackscan campaign close {record.name} --erp ERP.csv",
                  markup=False, highlight=False)
    if not ff.ok:
        raise typer.Exit(1)


def _with_sysid(opts, sysid: int):
    from dataclasses import replace

    return replace(opts, expect_sysid=sysid)


def _live_log(record: Path) -> Path:
    return record.with_name(record.name + ".live.log")


def _start_live_count(record: Path, db: str, erp: Path | None, catalogue: Path | None):
    """The live counter in a process of its own: the recorder never waits for perception."""
    import subprocess  # nosec B404: our own module, a fixed argv, no shell
    import sys

    argv = [sys.executable, "-m", "rackscan.live_count", str(record), "--db", db]
    argv += ["--erp", str(erp)] if erp else []
    argv += ["--catalogue", str(catalogue)] if catalogue else []
    record.parent.mkdir(parents=True, exist_ok=True)
    log = open(_live_log(record), "w")  # noqa: SIM115 - the worker writes it while the flight runs
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # nosec B603


def _finish_live_count(con, worker, record: Path) -> None:
    """After landing: wait for the live counter to catch up; say how long that took."""
    import time

    t0 = time.monotonic()
    try:
        with con.status("live count: processing the frames still queued after landing"):
            rc = worker.wait()
    except KeyboardInterrupt:
        worker.terminate()
        con.print(f"live count stopped; the flight is recorded, count it with `rackscan process {record}`",
                  markup=False, highlight=False)
        return
    lines = _live_log(record).read_text(errors="replace").strip().splitlines()
    if rc != 0:
        con.print(f"live count failed (exit {rc}): {lines[-1] if lines else 'no output'}; the flight is recorded, "
                  f"count it with `rackscan process {record}`", markup=False, highlight=False)
        return
    con.print(f"live count: every bin written as provisional; processing left after landing {time.monotonic() - t0:.1f} s "
              f"({_live_log(record)}); `rackscan process` replaces the provisional counts", markup=False, highlight=False)


def _fleet_gate(con, db, rules, airframe, battery, camera_serial, operator, override, flight_key):
    """The fleet's pre-flight gate (operations.fleet.preflight): refuses in one line, or warns."""
    from operations.errors import OperationsError
    from operations.fleet import preflight
    from operations.rules import load_rules
    from reconciliation.store import ResultsStore

    if not (airframe and battery and operator):
        raise OperationsError("--airframe, --battery and --operator: give all three to fly with the fleet's checks "
                              "(or none of them)")
    store = ResultsStore(db)
    gate = preflight(store, load_rules(rules), airframe=airframe, battery=battery, camera=camera_serial,
                     operator=operator, override=override, flight_key=flight_key)
    for w in gate.warnings:
        con.print(f"warning: {w}", markup=False, highlight=False)
    for p in gate.problems:
        con.print(f"overridden ({override.strip()}): {p}", markup=False, highlight=False)
    return store, gate
