"""One recorded flight from a plan file to its bundle: ``fly(FlyRequest) -> FlightSession``.

Everything ``rackscan fly`` decides lives here, so the verb only parses options and prints: the
continuation of an interrupted flight (``--resume``: the rest of the plan as a mission of its own,
recorded in ``RECORD.resume1``, ...), the bundle's ``flight.json`` (plan hash, camera, site), the
camera source, the runner's walk (connect, streams, pre-flight checks, upload and verify, the
failsafe profile set and written to ``failsafe.json``, GUIDED, arm, take off, AUTO, watch), an
operator's Ctrl-C (the abort mode, then watching until the vehicle is down) and
``flight_result.json``. What comes back is typed: the vehicle's ``FlightOutcome``, where it was
recorded, the continuation, the files written and the camera's frames.

A camera source is a ``CameraSource``: none, an OpenCV device (``opencv_camera``) or any capture
callable with its camera spec (the CLI builds the synthetic warehouse's virtual camera, which lives
above this package).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from flight.errors import FlightError

if TYPE_CHECKING:
    from flight.continuation import Continuation
    from flight.runner import MissionRunner
    from flight.failsafe import FailsafeRecord
    from flight.live import LiveSink
    from flight.recorder import Camera
    from flight.runner import RunnerOptions
    from flight.watch import FlightOutcome
    from warehouse.camera import CameraSpec

ABORT_MODES = ("RTL", "LAND")
FAILSAFE_FILE = "failsafe.json"


@dataclass(frozen=True, kw_only=True)
class CameraSource:
    """Where frames come from: ``capture(pose) -> image | None`` and the camera's spec (intrinsics,
    frame rate) recorded in the bundle; ``site_yaml_text`` when the source knows its warehouse."""

    name: str = "none"  # none | opencv:INDEX | synthetic
    capture: "Camera | None" = None
    spec: "CameraSpec | None" = None
    site_yaml_text: str | None = None

    @property
    def fps(self) -> float:
        return float(self.spec.fps) if self.spec is not None else 5.0


def parse_camera(text: str) -> tuple[str, int | None]:
    """``--camera``: ("none", None), ("synthetic", None) or ("opencv", INDEX); FlightError otherwise."""
    if text in ("none", "synthetic"):
        return text, None
    kind, _, index = text.partition(":")
    if kind == "opencv" and index.strip().isdigit():
        return "opencv", int(index)
    raise FlightError(f"--camera: {text!r}; expected none, opencv:INDEX (a device number) or synthetic")


def opencv_camera(index: int, camera_file: Path | None = None) -> CameraSource:
    """An OpenCV capture device; its camera YAML (``camera_file``) gives the intrinsics recorded."""
    import cv2

    spec = None
    if camera_file is not None:
        from warehouse.camera import load_camera

        spec = load_camera(camera_file)
        if spec.is_pair:  # one device gives one picture: the bundle would file them all as the left camera's
            raise FlightError(f"--camera-file {camera_file}: mounts_yaw_deg: a left and right pair, and --camera "
                              f"opencv:{index} is one device; expected one camera's file (mounts_yaw_deg: [90] for a "
                              "camera looking right), or --camera synthetic for a pair")
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise FlightError(f"--camera opencv:{index}: no camera there; expected a device OpenCV can open")

    def capture(pose):
        ok, img = cap.read()
        return img if ok else None

    return CameraSource(name=f"opencv:{index}", capture=capture, spec=spec)


def _default_options() -> "RunnerOptions":
    from flight.runner import RunnerOptions

    return RunnerOptions()


@dataclass(frozen=True, kw_only=True)
class FlyRequest:
    plan_file: Path
    record: Path  # a new bundle directory; with ``resume``, the interrupted flight's bundle
    connect: str = "udpin:0.0.0.0:14550"
    camera: CameraSource = field(default_factory=CameraSource)
    site_yaml: Path | None = None  # recorded into the bundle (default: the camera source's site)
    resume: bool = False  # continue the flight recorded in ``record`` (into RECORD.resumeN)
    resume_from: Path | None = None  # continue the flight of this bundle, recording into ``record``
    options: "RunnerOptions" = field(default_factory=_default_options)
    live: "LiveSink | None" = None  # who watches the flight as it happens (flight.live; the results store)
    abort: threading.Event | None = None  # set from another thread (a fleet's Ctrl-C): the abort mode, then down
    on_runner: "Callable[[MissionRunner | None], None] | None" = None  # told the runner once connected, None at the end
    # called once the vehicle could take off (checks passed, mission uploaded and verified, failsafes
    # set); returns when it may (a fleet's start: ``flight.fleet_fly.TakeoffGate``)
    ready: "Callable[[], None] | None" = None


@dataclass(frozen=True, kw_only=True)
class FlightSession:
    """A flight flown and recorded."""

    outcome: "FlightOutcome"
    record: Path  # the bundle this flight went into
    requested: Path  # the ``record`` asked for (with --resume: the interrupted flight's first bundle)
    continuation: "Continuation | None"  # what this flight continued, if it did
    result_file: Path  # flight_result.json
    failsafe_file: Path  # failsafe.json
    failsafe: "FailsafeRecord"
    frames: int
    camera: str
    camera_errors: tuple[str, ...] = ()
    events: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.outcome.status.value

    @property
    def resumable(self) -> bool:
        return bool(self.outcome.resume_seq)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON atomically (a crash leaves the old file or the new one)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    tmp.replace(path)


def _signing_key(opts: "RunnerOptions") -> None:
    key = opts.signing_key
    if key is not None and len(key) != 32:
        raise FlightError(f"signing key: {len(key)} bytes; expected 32 (64 hex digits)")


def fly(req: FlyRequest, *, log: Callable[[str], None] = lambda s: None,
        on_progress: Callable[[int, int], None] | None = None) -> FlightSession:
    """Fly ``req.plan_file`` over ``req.connect``, record the bundle, return how it went.

    One-line FlightErrors for bad input (plan, options, nothing to resume) before anything is
    recorded, and for a vehicle that refuses (the bundle is closed with status "failed")."""
    from flight.bundle import BundleWriter, FlightMeta, sha256_file
    from flight.continuation import RESULT_FILE, plan_continuation, result_json
    from flight.mission import FRAME_GLOBAL_RELATIVE_ALT_INT, NAV_TAKEOFF, mission_to_mavlink
    from flight.planfile import read_plan
    from flight.recorder import FlightRecorder, VehiclePose
    from flight.runner import MissionRunner
    from warehouse.camera import T_body_camera, T_body_cameras

    opts = req.options
    if opts.abort_mode not in ABORT_MODES:
        raise FlightError(f"--abort-mode: {opts.abort_mode!r}; expected RTL or LAND")
    if req.resume and req.resume_from:
        raise FlightError("--resume and --resume-from: give one (--resume continues the flight in --record)")
    _signing_key(opts)
    mission = read_plan(req.plan_file)
    plan_sha = sha256_file(req.plan_file)
    record, cont = Path(req.record), None
    extra: dict = {"plan": str(req.plan_file)}
    if req.resume or req.resume_from:
        cont = plan_continuation(mission, plan_sha, record, interrupted=req.resume_from)
        mission, record = cont.mission, cont.record
        extra.update(resume_of=str(cont.interrupted), resumed_after_seq=cont.after_plan_seq,
                     seq_map=mission.meta["seq_map"])
        log(f"continuing {cont.interrupted} after plan item {cont.after_plan_seq}: {len(mission.items)} items, "
            f"recorded in {record}")
    plan = mission_to_mavlink(mission)
    takeoff_m = next((it.rel_alt_m if it.kind == "takeoff" else it.alt_m for it in mission.items  # a QGC takeoff too
                      if it.kind == "takeoff" or (it.command == NAV_TAKEOFF and it.frame == FRAME_GLOBAL_RELATIVE_ALT_INT)), 2.0)
    cam = req.camera
    site_text = Path(req.site_yaml).read_text(encoding="utf-8") if req.site_yaml else cam.site_yaml_text
    meta = FlightMeta(flight_id=record.name, site_name=mission.meta.get("site_name", mission.meta.get("site", "")),
                      plan_sha256=plan_sha, camera=cam.spec.model_dump(mode="json") if cam.spec else {},
                      T_body_camera=T_body_camera(cam.spec).tolist() if cam.spec else [],
                      T_body_cameras=[T.tolist() for T in T_body_cameras(cam.spec)] if cam.spec and cam.spec.is_pair else [],
                      source=f"mavlink {req.connect}", extra=extra)
    writer = BundleWriter(record, meta, site_yaml_text=site_text, fsync_every=5)
    runner: MissionRunner | None = None
    rec: FlightRecorder | None = None
    feed = None
    abort = req.abort if req.abort is not None else threading.Event()
    status = "failed"
    n_items = len(plan.mission)
    if on_progress is not None:
        on_progress(0, n_items - 1)
    try:
        def pose():
            s = runner.state
            return VehiclePose(lat_deg=s.lat_deg, lon_deg=s.lon_deg, alt_amsl_m=s.alt_amsl_m, rel_alt_m=s.rel_alt_m,
                               roll_rad=s.roll_rad, pitch_rad=s.pitch_rad, yaw_rad=s.yaw_rad,
                               t_ns=s.position_t_ns, true_lat_deg=s.sim_lat_deg, true_lon_deg=s.sim_lon_deg,
                               true_t_ns=s.sim_t_ns) if s.lat_deg else None

        def airborne() -> bool:
            s = runner.state
            return s.armed and (s.landed_state == 2 or s.rel_alt_m > 0.2)

        rec = FlightRecorder(writer, camera=cam.capture, fps=cam.fps, pose=pose, airborne=airborne)
        runner = MissionRunner(req.connect, opts, tlog=rec.tlog, log=log, on_progress=on_progress).connect()
        if req.on_runner is not None:
            req.on_runner(runner)
        if req.live is not None:
            feed = _start_live(req.live, runner, mission, record.name, site_text, cam.spec, log)
        rec.start()
        runner.request_streams()
        runner.preflight()
        runner.upload_and_verify(plan)
        fs = runner.configure_failsafes(plan)  # refuses the flight when one cannot be set
        write_json(record / FAILSAFE_FILE, fs.to_json())
        if req.ready is not None:
            req.ready()
        if abort.is_set():  # stopped (a fleet's Ctrl-C) while this vehicle was still on the ground
            raise FlightError(f"{record.name}: stopped before take-off; the vehicle stays disarmed on the ground")
        try:
            out = runner.fly(plan, takeoff_alt_m=takeoff_m, should_abort=abort.is_set)
        except KeyboardInterrupt:  # the operator's Ctrl-C: the abort mode, then watch it down
            abort.set()
            out = runner.watch(n_items, should_abort=abort.is_set)
        status = out.status.value
        write_json(record / RESULT_FILE, result_json(out, seq_map=mission.meta.get("seq_map"),
                                                     resumed_after=extra.get("resumed_after_seq", 0),
                                                     failsafe_record=fs))
    finally:
        if feed is not None:
            feed.stop()
            try:
                req.live.end(status)
            except Exception as exc:  # the watchers miss the ending; the flight is recorded all the same
                log(f"live feed: cannot record the end ({type(exc).__name__}: {exc})")
        if rec is not None:
            rec.stop(status)
        else:
            writer.close(status)
        if req.on_runner is not None:
            req.on_runner(None)
        if runner is not None:
            runner.close()
    return FlightSession(outcome=out, record=record, requested=Path(req.record), continuation=cont,
                         result_file=record / RESULT_FILE,
                         failsafe_file=record / FAILSAFE_FILE, failsafe=fs, frames=rec.frames,
                         camera=cam.name, camera_errors=tuple(rec.errors), events=tuple(runner.events))


def _start_live(sink, runner, mission, flight_key: str, site_text: str | None, camera, log):
    """Tell ``sink`` the flight began (its site and the bins each pass covers) and start feeding it
    the vehicle's state; a sink that cannot begin is reported and the flight flies unwatched."""
    from flight.live import LiveFeed, pass_views
    from warehouse.geodetic import GeoOrigin

    try:
        site = None
        if site_text:
            import yaml

            from warehouse.site import site_from_dict

            site = site_from_dict(yaml.safe_load(site_text), source="the flight's site")
        origin = site.origin if site else GeoOrigin(lat_deg=mission.home[0], lon_deg=mission.home[1], alt_m=mission.home[2])
        sink.begin(flight_key=flight_key, site_name=mission.meta.get("site_name", ""), site_yaml=site_text or "",
                   plan=pass_views(mission.items, site, camera), n_items=len(mission.items) + 1)
    except Exception as exc:  # the watchers lose the flight; the flight itself goes on
        log(f"live feed: cannot start ({type(exc).__name__}: {exc}); the flight is not shown live")
        return None
    return LiveFeed(lambda: runner.state, sink, to_site=origin.geodetic_to_site, site_heading_deg=origin.heading_deg,
                    log=log).start()


__all__ = ["CameraSource", "FlyRequest", "FlightSession", "fly", "opencv_camera", "parse_camera", "write_json",
           "ABORT_MODES", "FAILSAFE_FILE"]
