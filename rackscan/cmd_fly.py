"""``rackscan fly MISSION.plan --connect ADDRESS --record OUT/``: fly a planned mission over MAVLink
and record it as a flight bundle (telemetry.tlog, frames, site, camera), with a live progress bar;
Ctrl-C sends RTL (or LAND) and waits for the vehicle to disarm."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def virtual_camera(scenario_yaml: Path):
    """The synthetic warehouse rendered from the vehicle's pose (the scenario's camera and site)."""
    from datasets.render import Renderer
    from datasets.world import build_world
    from warehouse.camera import R_ned_body_from_euler, T_body_camera

    world = build_world(scenario_yaml)
    renderer = Renderer(world)
    origin = world.site.origin
    R_site_ned = origin.ned_to_site_rotation()
    T_bc = T_body_camera(world.camera)
    import numpy as np

    def capture(pose):
        T_sb = np.eye(4)
        T_sb[:3, :3] = R_site_ned @ R_ned_body_from_euler(pose.roll_rad, pose.pitch_rad, pose.yaw_rad)
        T_sb[:3, 3] = origin.geodetic_to_site(pose.lat_deg, pose.lon_deg, pose.alt_amsl_m)
        return renderer.render(T_sb @ T_bc).image_bgr

    capture.renders_pose = True  # the recorder stamps its frames with the pose's time
    return world, capture


def opencv_camera(index: int):
    import cv2

    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        from flight.errors import FlightError

        raise FlightError(f"--camera opencv:{index}: no camera there; expected a device OpenCV can open")

    def capture(pose):
        ok, img = cap.read()
        return img if ok else None

    return capture


def resume_paths(record: Path) -> tuple[Path, Path]:
    """(bundle to resume from, new bundle to record into) for ``--resume``: the latest of RECORD,
    RECORD.resume1, RECORD.resume2, ... and the next free one."""
    from flight.errors import FlightError

    record = Path(record)
    if not record.exists():
        raise FlightError(f"{record}: no such flight bundle; --resume continues a flight recorded there")
    n = 1
    while Path(f"{record}.resume{n}").exists():
        n += 1
    last = record if n == 1 else Path(f"{record}.resume{n - 1}")
    return last, Path(f"{record}.resume{n}")


def register(app: typer.Typer) -> None:
    @app.command("fly")
    def fly(
        plan_file: Path = typer.Argument(..., help="QGroundControl .plan made by rackscan plan"),
        connect: str = typer.Option("udpin:0.0.0.0:14550", "--connect", help="mavutil address of the vehicle link"),
        record: Path = typer.Option(..., "--record", help="new flight bundle directory"),
        site_yaml: Path = typer.Option(None, "--site", help="site file recorded into the bundle (default: the scenario's)"),
        camera: str = typer.Option("none", "--camera", help="none, opencv:INDEX, or synthetic (renders --scenario)"),
        scenario_yaml: Path = typer.Option(None, "--scenario", help="scenario for --camera synthetic"),
        camera_yaml: Path = typer.Option(None, "--camera-file", help="camera YAML (with --camera opencv)"),
        required_fix: int = typer.Option(6, "--required-fix", help="GPS fix type required (6 RTK fixed; 0 indoors)"),
        abort_mode: str = typer.Option("RTL", "--abort-mode", help="what Ctrl-C does: RTL or LAND"),
        resume: bool = typer.Option(False, "--resume", help="continue the interrupted flight recorded in --record after its last bin, recording the rest in RECORD.resume1 (.resume2, ...)"),
        resume_from: Path = typer.Option(None, "--resume-from", help="bundle of an interrupted flight: continue after its last bin"),
        signing_key_hex: str = typer.Option(None, "--signing-key-hex", help="MAVLink 2 signing key, 64 hex digits"),
        require_signing: bool = typer.Option(False, "--require-signing", help="refuse a vehicle that does not sign"),
        heartbeat_timeout_s: float = typer.Option(10.0, "--heartbeat-timeout-s", help="wait this long for the vehicle"),
        link_giveup_s: float = typer.Option(60.0, "--link-giveup-s", help="stop watching after the link is lost this long"),
    ) -> None:
        """Fly the mission, record the bundle, print how the flight ended."""
        import threading

        from rich.console import Console

        from flight.bundle import BundleWriter, FlightMeta
        from flight.errors import FlightError
        from flight.mission import mission_to_mavlink
        from flight.planfile import read_plan
        from flight.recorder import FlightRecorder, VehiclePose
        from flight.runner import MissionRunner, RunnerOptions
        from rackscan.executors import progress_bar

        con = Console()
        if abort_mode not in ("RTL", "LAND"):
            raise FlightError(f"--abort-mode: {abort_mode!r}; expected RTL or LAND")
        mission = read_plan(plan_file)
        plan = mission_to_mavlink(mission)
        takeoff = next((it.rel_alt_m for it in mission.items if it.kind == "takeoff"), 2.0)
        start_seq = 1
        original = record
        if resume:
            if resume_from:
                raise FlightError("--resume and --resume-from: give one (--resume continues the flight in --record)")
            resume_from, record = resume_paths(record)
        if resume_from:
            res_file = Path(resume_from) / "flight_result.json"
            if not res_file.exists():
                raise FlightError(f"{res_file}: missing; --resume-from needs a bundle recorded by rackscan fly")
            start_seq = int(json.loads(res_file.read_text()).get("resume_seq") or 0)
            if start_seq <= 1:
                raise FlightError(f"{res_file}: the flight finished; nothing to resume")
        key = None
        if signing_key_hex:
            try:
                key = bytes.fromhex(signing_key_hex)
            except ValueError:
                key = b""
            if len(key) != 32:
                raise FlightError("--signing-key-hex: expected 64 hex digits (a 32-byte key)")
        cam_fn, cam_spec, site_text = None, None, None
        if camera == "synthetic":
            if not scenario_yaml:
                raise FlightError("--camera synthetic: needs --scenario SCENARIO.yaml (the warehouse to render)")
            world, cam_fn = virtual_camera(scenario_yaml)
            cam_spec, site_text = world.camera, world.site.to_yaml()
        elif camera.startswith("opencv:"):
            cam_fn = opencv_camera(int(camera.split(":", 1)[1]))
            if camera_yaml:
                from warehouse.camera import load_camera

                cam_spec = load_camera(camera_yaml)
        elif camera != "none":
            raise FlightError(f"--camera: {camera!r}; expected none, opencv:INDEX or synthetic")
        if site_yaml:
            site_text = Path(site_yaml).read_text(encoding="utf-8")
        from warehouse.camera import T_body_camera

        meta = FlightMeta(flight_id=record.name, site_name=mission.meta.get("site", ""),
                          camera=cam_spec.model_dump(mode="json") if cam_spec else {},
                          T_body_camera=T_body_camera(cam_spec).tolist() if cam_spec else [],
                          source=f"mavlink {connect}", extra={"plan": str(plan_file), "start_seq": start_seq})
        opts = RunnerOptions(required_fix=required_fix, abort_mode=abort_mode, signing_key=key,
                             require_signing=require_signing, heartbeat_timeout_s=heartbeat_timeout_s,
                             link_giveup_s=link_giveup_s)
        writer = BundleWriter(record, meta, site_yaml_text=site_text, fsync_every=5)
        runner = None
        rec = None
        abort = threading.Event()
        status = "failed"
        try:
            with progress_bar() as prog:
                task = prog.add_task("connecting", total=len(plan.mission) - 1)

                def progress(done, total):
                    prog.update(task, completed=done, total=total, description=f"flying, item {done}/{total}")

                def pose():
                    s = runner.state
                    return VehiclePose(lat_deg=s.lat_deg, lon_deg=s.lon_deg, alt_amsl_m=s.alt_amsl_m,
                                       rel_alt_m=s.rel_alt_m, roll_rad=s.roll_rad, pitch_rad=s.pitch_rad,
                                       yaw_rad=s.yaw_rad, t_ns=s.position_t_ns) if s.lat_deg else None

                rec = FlightRecorder(writer, camera=cam_fn, fps=float(cam_spec.fps if cam_spec else 5.0), pose=pose,
                                     airborne=lambda: runner.state.armed and (runner.state.landed_state == 2 or runner.state.rel_alt_m > 0.2))
                runner = MissionRunner(connect, opts, tlog=rec.tlog, log=lambda t: prog.console.print(t),
                                       on_progress=progress).connect()
                rec.start()
                runner.request_streams()
                runner.preflight()
                runner.upload_and_verify(plan)
                try:
                    out = runner.fly(plan, takeoff_alt_m=takeoff, start_seq=start_seq, should_abort=abort.is_set)
                except KeyboardInterrupt:
                    abort.set()
                    out = runner.watch(len(plan.mission), should_abort=abort.is_set)
            status = out.status
            (Path(record) / "flight_result.json").write_text(json.dumps(
                {"status": out.status, "last_reached_seq": out.last_reached_seq, "resume_seq": out.resume_seq,
                 "disarmed_on_ground": out.disarmed_on_ground, "mode": out.mode, "events": list(out.events)}, indent=2))
            con.print(f"flight {out.status}: last item reached {out.last_reached_seq}, vehicle "
                      f"{'disarmed on the ground' if out.disarmed_on_ground else 'not confirmed landed'} ({out.mode}); "
                      f"{rec.frames} frames recorded in {record}")
            if out.resume_seq:
                con.print(f"resume with: rackscan fly {plan_file} --connect {connect} --record {original} --resume")
        finally:
            if rec is not None:
                rec.stop(status)
            else:
                writer.close(status)
            if runner is not None:
                runner.close()
