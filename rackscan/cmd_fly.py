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


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    tmp.replace(path)


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
        resume: bool = typer.Option(False, "--resume", help="continue the interrupted flight recorded in --record from its interrupted pass, recording the rest in RECORD.resume1 (.resume2, ...)"),
        resume_from: Path = typer.Option(None, "--resume-from", help="bundle of an interrupted flight: continue from its interrupted pass, recording into --record"),
        failsafe_profile: Path = typer.Option(None, "--failsafe-profile", help="failsafe profile YAML: the vehicle parameters to set before arming and the runner's policy per signal (default: the shipped warehouse profile)"),
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
        from flight.bundle import sha256_file
        from flight.continuation import RESULT_FILE, plan_continuation, result_json
        from flight.failsafe import load_failsafe_profile

        profile = load_failsafe_profile(failsafe_profile)
        mission = read_plan(plan_file)
        plan_sha = sha256_file(plan_file)
        original = record
        extra: dict = {"plan": str(plan_file)}
        if resume and resume_from:
            raise FlightError("--resume and --resume-from: give one (--resume continues the flight in --record)")
        if resume or resume_from:
            cont = plan_continuation(mission, plan_sha, record, interrupted=resume_from)
            mission, record = cont.mission, cont.record
            extra.update(resume_of=str(cont.interrupted), resumed_after_seq=cont.after_plan_seq,
                         seq_map=mission.meta["seq_map"])
            con.print(f"continuing {cont.interrupted} after plan item {cont.after_plan_seq}: "
                      f"{len(mission.items)} items, recorded in {record}")
        plan = mission_to_mavlink(mission)
        takeoff = next((it.rel_alt_m for it in mission.items if it.kind == "takeoff"), 2.0)
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

        meta = FlightMeta(flight_id=record.name, site_name=mission.meta.get("site_name", mission.meta.get("site", "")),
                          plan_sha256=plan_sha, camera=cam_spec.model_dump(mode="json") if cam_spec else {},
                          T_body_camera=T_body_camera(cam_spec).tolist() if cam_spec else [],
                          source=f"mavlink {connect}", extra=extra)
        opts = RunnerOptions(required_fix=required_fix, abort_mode=abort_mode, signing_key=key,
                             require_signing=require_signing, heartbeat_timeout_s=heartbeat_timeout_s,
                             link_giveup_s=link_giveup_s, failsafe=profile)
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
                fs = runner.configure_failsafes(plan)  # refuses the flight when one cannot be set
                _write_json(Path(record) / "failsafe.json", fs.to_json())
                try:
                    out = runner.fly(plan, takeoff_alt_m=takeoff, should_abort=abort.is_set)
                except KeyboardInterrupt:
                    abort.set()
                    out = runner.watch(len(plan.mission), should_abort=abort.is_set)
            status = out.status.value
            _write_json(Path(record) / RESULT_FILE, result_json(out, seq_map=mission.meta.get("seq_map"),
                                                                resumed_after=extra.get("resumed_after_seq", 0),
                                                                failsafe_record=fs))
            for e in out.failsafes:
                con.print(f"failsafe at {e.t_s:.0f} s (item {e.mission_seq}): {e.signal.value}: {e.detail} -> "
                          f"{e.action.value} by the {e.by}")
            con.print(f"flight {status}: last item reached {out.last_reached_seq}, vehicle "
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
