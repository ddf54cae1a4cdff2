"""``import_flight``: real logs + a video or photos + a camera file + a site -> a flight bundle in
``flight.bundle``'s format, so detection, fusion, reconciliation, replay and the dashboard run on
it unchanged.

The bundle's ``telemetry.tlog`` holds the chosen pose stream as the simulated and SITL flights
write it (GLOBAL_POSITION_INT + ATTITUDE sharing ``time_boot_ms``, or ODOMETRY indoors) stamped
with the log's UTC times; ``frames.csv`` the frames' times (on the log clock when camera-trigger
messages placed them, else on the camera's clock for fusion's clock solve); ``flight.json``
``extra.import`` where every piece came from (file names and SHA-256); ``import/report.json`` and
``import/report.png`` how it went.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from imports.errors import ImportsError
from imports.frames import FrameTimes, iter_photos, iter_video, photo_times, video_times
from imports.match import TriggerMatch, match_triggers
from imports.telemetry import Telemetry, sha256_of
from imports.timebase import iso_to_unix_ns, parse_utc_offset, unix_ns_to_iso

REPORT_DIR = "import"


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    """How a real flight is imported; the defaults live here."""

    logs: tuple[Path, ...]
    camera: Path
    site: Path
    out: Path
    video: Path | None = None
    images: Path | None = None
    poses_csv: Path | None = None  # an external SLAM's poses (t_ns,x_m,y_m,z_m,qw,qx,qy,qz: T_site_body)
    catalogue: Path | None = None  # catalogue.csv (sku,gtin) copied into the bundle for fusion's SKUs
    system_id: int | None = None  # the vehicle in a tlog of several systems (default: most position packets)
    camera_utc_offset: str | None = None  # the photos' UTC offset when EXIF has no OffsetTimeOriginal
    video_start_utc: str | None = None  # the video's time 0 when the container has no creation_time
    log_boot_utc: str | None = None  # UTC at the log's boot when the log has no GPS time
    frame_step: int = 1  # every n-th video frame
    use_triggers: bool = True  # time frames by the log's camera-trigger messages when it has them
    max_gap_s: float = 1.0  # a pose gap longer than this is reported and not bridged
    max_rate_hz: float = 50.0  # densest pose stream written
    outside_s: float = 1.0  # frames farther than this outside the pose stream are left out
    flight_id: str | None = None

    def __post_init__(self) -> None:
        if not self.logs and self.poses_csv is None:
            raise ImportsError("--log: at least one flight log is needed (or --poses-csv); expected --log FILE")
        if (self.video is None) == (self.images is None):
            raise ImportsError("--video / --images: give exactly one; expected the camera's video or its photo folder")
        if self.frame_step < 1:
            raise ImportsError(f"--frame-step {self.frame_step}; expected an integer >= 1")
        if self.max_gap_s <= 0 or self.max_rate_hz <= 0:
            raise ImportsError("--max-gap-s and the pose rate must be > 0")


@dataclass(frozen=True, kw_only=True)
class ImportReport:
    bundle: str
    flight_id: str
    logs: list  # LogSource dicts
    frames: dict  # n, source, first_utc, last_utc, left_out, files
    frame_timing: dict  # source, offset_s, drift_ppm, matched, residual_ms_median/max, unmatched
    poses: dict  # source, frame, n, rate_hz, span_s, gaps
    warnings: list = field(default_factory=list)
    report_png: str = ""

    def to_json(self) -> dict:
        return asdict(self)


# -- poses --------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PoseStream:
    """The poses written into the bundle: positions (frame as the log's) and attitude at t_ns."""

    t_ns: np.ndarray
    pos: np.ndarray
    quat_wxyz: np.ndarray
    frame: str
    what: str
    gaps: tuple[tuple[int, int], ...]  # (start t_ns, end t_ns) of pose gaps over max_gap_s


def _slerp(t_src: np.ndarray, q_src: np.ndarray, t: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation, Slerp

    if len(t_src) == 1:
        return np.repeat(q_src, len(t), 0)
    r = Rotation.from_quat(np.concatenate([q_src[:, 1:], q_src[:, :1]], axis=1))
    q = Slerp(t_src.astype(float), r)(np.clip(t, t_src[0], t_src[-1]).astype(float)).as_quat()
    return np.concatenate([q[:, 3:], q[:, :3]], axis=1)


def build_poses(pos_tel: Telemetry, att_tel: Telemetry, opts: ImportOptions) -> PoseStream:
    """Positions and attitude on one time line: the position samples, plus attitude samples in
    between (up to ``max_rate_hz``) with the position interpolated; nothing inside a gap."""
    tp, P = pos_tel.pos_t_ns, pos_tel.pos
    ta, Q = att_tel.att_t_ns, att_tel.att_quat_wxyz
    gap_ns = int(opts.max_gap_s * 1e9)
    lo, hi = max(tp[0], ta[0]), min(tp[-1], ta[-1])
    if hi < lo:
        raise ImportsError(f"{att_tel.source.path}: attitude ({unix_ns_to_iso(int(ta[0]))} .. {unix_ns_to_iso(int(ta[-1]))}) "
                           f"and positions of {pos_tel.source.path} ({unix_ns_to_iso(int(tp[0]))} .. "
                           f"{unix_ns_to_iso(int(tp[-1]))}) do not overlap; expected logs of one flight")
    t = np.union1d(tp, ta)
    t = t[(t >= lo) & (t <= hi)]
    # thin to max_rate_hz, keeping the first sample of each slot
    slot = (t - t[0]) // int(1e9 / opts.max_rate_hz)
    t = t[np.concatenate([[True], np.diff(slot) > 0])]

    def inside_gap(ts: np.ndarray, src: np.ndarray) -> np.ndarray:
        """Strictly between two samples of ``src`` that are more than the gap apart."""
        if len(src) < 2:
            return np.zeros(len(ts), bool)
        j = np.clip(np.searchsorted(src, ts, side="right"), 1, len(src) - 1)
        return (ts > src[j - 1]) & (ts < src[j]) & ((src[j] - src[j - 1]) > gap_ns)

    keep = ~inside_gap(t, tp) & ~inside_gap(t, ta)
    t = t[keep]
    if len(t) < 2:
        raise ImportsError(f"{pos_tel.source.path}: fewer than 2 poses where positions and attitude overlap; "
                           "expected a flight of more than a moment")
    pos = np.stack([np.interp(t.astype(float), tp.astype(float), P[:, k]) for k in range(3)], axis=1)
    quat = _slerp(ta, Q, t)
    gaps = []
    for src in (tp, ta):
        for k in np.nonzero(np.diff(src) > gap_ns)[0]:
            if src[k] >= lo and src[k + 1] <= hi:
                gaps.append((int(src[k]), int(src[k + 1])))
    return PoseStream(t_ns=t, pos=pos, quat_wxyz=quat, frame=pos_tel.pos_frame,
                      what=f"positions {pos_tel.pos_what} ({Path(pos_tel.source.path).name}), attitude "
                           f"{att_tel.att_what} ({Path(att_tel.source.path).name})",
                      gaps=tuple(sorted(set(gaps))))


def _write_telemetry(w, poses: PoseStream, site, max_fix: int | None) -> None:
    os.environ.setdefault("MAVLINK20", "1")
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    from imports.telemetry import euler_from_quat

    class _Sink:
        def write(self, b):
            pass

    mav = mavlink2.MAVLink(_Sink(), srcSystem=1, srcComponent=1)
    t0 = int(poses.t_ns[0])
    rpy = euler_from_quat(poses.quat_wxyz)
    fix = max_fix if max_fix and max_fix >= 3 else 3
    nan21 = [float("nan")] * 21
    home_alt = float(poses.pos[0, 2])
    last_hb = None
    for k, (t, p, q, (roll, pitch, yaw)) in enumerate(zip(poses.t_ns, poses.pos, poses.quat_wxyz, rpy)):
        boot_ms = int((int(t) - t0) // 1_000_000)
        msgs = []
        if last_hb is None or t - last_hb >= 1_000_000_000:
            msgs.append(mav.heartbeat_encode(mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                             mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, 3, mavlink2.MAV_STATE_ACTIVE))
            msgs.append(mav.system_time_encode(int(t) // 1000, boot_ms))
            last_hb = t
        msgs.append(mav.attitude_encode(boot_ms, float(roll), float(pitch), float(yaw), 0, 0, 0))
        if poses.frame == "geodetic":
            lat, lon, alt = (float(x) for x in p)
            yaw_cd = int(round((np.degrees(yaw) % 360) * 100)) % 36000
            msgs.append(mav.global_position_int_encode(boot_ms, int(round(lat * 1e7)), int(round(lon * 1e7)),
                                                       int(round(alt * 1000)), int(round((alt - home_alt) * 1000)),
                                                       0, 0, 0, yaw_cd))
            if k % 5 == 0:
                msgs.append(mav.gps_raw_int_encode(int(t) // 1000, fix, int(round(lat * 1e7)), int(round(lon * 1e7)),
                                                   int(round(alt * 1000)), 65535, 65535, 0, 65535, 0))
        else:
            msgs.append(mav.odometry_encode(int(t) // 1000, mavlink2.MAV_FRAME_LOCAL_NED, mavlink2.MAV_FRAME_BODY_FRD,
                                            float(p[0]), float(p[1]), float(p[2]), [float(x) for x in q],
                                            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, nan21, nan21, 0, 0, 100))
        for m in msgs:
            m.pack(mav)
            w.write_mavlink(m, int(t))


# -- the import ---------------------------------------------------------------------------------
def _pick(tels: list[Telemetry], key: Callable[[Telemetry], int]) -> Telemetry:
    return max(tels, key=lambda t: (t.pos_frame == "geodetic", key(t)))


def _poses_from_csv(path: Path, site) -> Telemetry:
    """An external SLAM's poses.csv (T_site_body) as local-NED telemetry about the site origin, validated."""
    import pandas as pd

    from flight.bundle import POSES_CSV_HEADER
    from imports.telemetry import LogSource

    try:
        df = pd.read_csv(path)
    except Exception as exc:  # pandas raises several parser errors
        raise ImportsError(f"{path}: not a readable CSV ({type(exc).__name__}); expected {','.join(POSES_CSV_HEADER)}") from None
    miss = [c for c in POSES_CSV_HEADER if c not in df.columns]
    if miss:
        raise ImportsError(f"{path}: missing column(s) {', '.join(miss)}; expected {','.join(POSES_CSV_HEADER)}")
    vals = df[POSES_CSV_HEADER].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    bad = ~np.all(np.isfinite(vals), axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise ImportsError(f"{path}: row {row + 2}: non-numeric value; expected numbers in {','.join(POSES_CSV_HEADER)}")
    t = vals[:, 0].astype(np.int64)
    if np.any(np.diff(t) <= 0):
        row = int(np.argmax(np.diff(t) <= 0)) + 3
        raise ImportsError(f"{path}: row {row}: t_ns does not increase; expected poses in time order")
    from scipy.spatial.transform import Rotation

    R_ned_site = site.origin.ned_to_site_rotation().T
    q = vals[:, 4:8]
    r = Rotation.from_matrix(R_ned_site) * Rotation.from_quat(np.concatenate([q[:, 1:], q[:, :1]], axis=1))
    q_ned = r.as_quat()
    src = LogSource(path=str(path), sha256=sha256_of(path), kind="poses.csv", n_bytes=path.stat().st_size,
                    time_source="t_ns as written (unix ns)", messages=len(df))
    return Telemetry(source=src, pos_t_ns=t, pos=vals[:, 1:4] @ R_ned_site.T, pos_frame="local_ned", pos_what="poses.csv",
                     att_t_ns=t, att_quat_wxyz=np.concatenate([q_ned[:, 3:], q_ned[:, :3]], axis=1), att_what="poses.csv")


def import_flight(opts: ImportOptions, *, on_frame: Callable[[int, int], None] | None = None) -> ImportReport:
    from flight.bundle import BundleWriter, FlightMeta
    from imports.logs import read_log
    from warehouse.camera import T_body_camera, load_camera
    from warehouse.site import load_site

    site = load_site(opts.site)
    cam = load_camera(opts.camera)
    if opts.catalogue is not None:
        _check_catalogue(Path(opts.catalogue))
    boot_utc = iso_to_unix_ns(opts.log_boot_utc, where="--log-boot-utc") if opts.log_boot_utc else None
    tels = [read_log(p, system_id=opts.system_id, boot_utc_ns=boot_utc) for p in opts.logs]
    warnings: list[str] = [w for t in tels for w in t.source.warnings]
    # frames and their camera-clock times
    if opts.images is not None:
        tz = parse_utc_offset(opts.camera_utc_offset, where="--camera-utc-offset") if opts.camera_utc_offset else None
        ft = photo_times(opts.images, default_offset=tz)
        what_frames = str(opts.images)
    else:
        ft = video_times(opts.video, start_utc=opts.video_start_utc, frame_step=opts.frame_step)
        what_frames = str(opts.video)
    warnings += list(ft.warnings)
    if (ft.width_px, ft.height_px) != (cam.image_width_px, cam.image_height_px):
        raise ImportsError(f"{opts.camera}: image size {cam.image_width_px}x{cam.image_height_px} but {what_frames} has "
                           f"{ft.width_px}x{ft.height_px} frames; expected the camera file of the camera that took them "
                           "(`rackscan calibrate` writes one)")
    # frame timing: camera triggers when a log has them
    timing: dict = {"source": f"camera clock: {ft.source}", "offset_s": 0.0, "drift_ppm": 0.0, "matched": 0}
    t_frames = ft.t_ns.copy()
    trig_tel = next((t for t in tels if len(t.trig_t_ns)), None)
    if trig_tel is not None and opts.use_triggers:
        m = match_triggers(ft.t_ns, trig_tel.trig_t_ns)
        if m is None:
            warnings.append(f"{Path(trig_tel.source.path).name}: {len(trig_tel.trig_t_ns)} {trig_tel.trig_what} messages "
                            f"but fewer than 3 frames found one; frames keep the camera's times")
        else:
            t_frames = m.to_log_clock(ft.t_ns, int(ft.t_ns[0]))
            t_frames[m.pairs[:, 0]] = trig_tel.trig_t_ns[m.pairs[:, 1]]
            t_frames = np.maximum.accumulate(t_frames)
            timing = {"source": f"camera triggers: {trig_tel.trig_what} ({Path(trig_tel.source.path).name})",
                      "offset_s": m.offset_ns / 1e9, "drift_ppm": m.drift_ppm, "matched": int(len(m.pairs)),
                      "residual_ms_median": m.residual_ms_median, "residual_ms_max": m.residual_ms_max,
                      "unmatched_frames": m.unmatched_frames, "unmatched_triggers": m.unmatched_triggers,
                      "tolerance_ms": m.tolerance_ms}
            if m.unmatched_frames:
                warnings.append(f"{m.unmatched_frames} of {len(ft.t_ns)} frames found no {trig_tel.trig_what} within "
                                f"{m.tolerance_ms:.0f} ms; moved by the clock offset alone")
    # poses
    if opts.poses_csv is not None:
        pos_tel = att_tel = _poses_from_csv(Path(opts.poses_csv), site)
        tels_for_report = tels + [pos_tel]
    else:
        if not tels:
            raise ImportsError("--log: no flight log given; expected --log FILE")
        pos_tel = _pick(tels, lambda t: len(t.pos_t_ns))
        att_tel = max(tels, key=lambda t: len(t.att_t_ns))
        tels_for_report = tels
    poses = build_poses(pos_tel, att_tel, opts)
    # frames outside the poses
    out_ns = int(opts.outside_s * 1e9)
    inside = (t_frames >= poses.t_ns[0] - out_ns) & (t_frames <= poses.t_ns[-1] + out_ns)
    if not inside.any():
        raise ImportsError(_no_overlap_message(what_frames, t_frames, poses))
    if not inside.all():
        warnings.append(f"{int((~inside).sum())} of {len(t_frames)} frames fall more than {opts.outside_s:g} s outside "
                        f"the poses ({unix_ns_to_iso(int(poses.t_ns[0]))} .. {unix_ns_to_iso(int(poses.t_ns[-1]))}); "
                        "left out")
    in_gap = sum(int(np.sum((t_frames > a) & (t_frames < b))) for a, b in poses.gaps)
    if poses.gaps:
        warnings.append(f"{len(poses.gaps)} gaps in the poses longer than {opts.max_gap_s:g} s (longest "
                        f"{max(b - a for a, b in poses.gaps) / 1e9:.1f} s), {in_gap} frames inside them")
    keep = np.nonzero(inside)[0]
    # the bundle
    out = Path(opts.out)
    if out.exists() and any(out.iterdir()):
        raise ImportsError(f"{out}: not empty; expected a new directory for the bundle")
    first = Path(opts.logs[0]).stem if opts.logs else "poses"
    flight_id = opts.flight_id or f"import-{first}-{unix_ns_to_iso(int(t_frames[keep[0]]))[:19].replace(':', '')}"
    provenance = {
        "logs": [{"file": Path(t.source.path).name, "sha256": t.source.sha256, "kind": t.source.kind,
                  "time_source": t.source.time_source, "system_id": t.source.system_id} for t in tels_for_report],
        "frames": {"from": Path(what_frames).name, "source": ft.source, "files": ft.files},
        "camera": {"file": Path(opts.camera).name, "sha256": sha256_of(opts.camera)},
        "site": {"file": Path(opts.site).name, "sha256": sha256_of(opts.site)},
        **({"catalogue": {"file": Path(opts.catalogue).name, "sha256": sha256_of(opts.catalogue)}} if opts.catalogue else {}),
        "frame_timing": timing["source"], "poses": poses.what,
    }
    meta = FlightMeta(flight_id=flight_id, site_name=site.spec.name, camera=cam.model_dump(mode="json"),
                      T_body_camera=T_body_camera(cam).tolist(), source="import",
                      started_utc=unix_ns_to_iso(int(min(t_frames[keep[0]], poses.t_ns[0])))[:19] + "Z",
                      extra={"import": provenance})
    with BundleWriter(out, meta, site_yaml_text=Path(opts.site).read_text(encoding="utf-8")) as w:
        _write_telemetry(w, poses, site, max((t.source.max_fix_type or 0) for t in tels) if tels else None)
        if opts.images is not None:
            names = tuple(ft.names[i] for i in keep)
            for k, (i, data) in enumerate(zip(keep, iter_photos(opts.images, names))):
                w.write_frame(data, int(t_frames[i]))
                if on_frame:
                    on_frame(k + 1, len(keep))
        else:
            pts_of = {int(ft.names[i].rsplit("#", 1)[1]): int(i) for i in keep}
            k = 0
            for pts, img in iter_video(opts.video, set(pts_of)):
                w.write_frame(img, int(t_frames[pts_of[pts]]))
                k += 1
                if on_frame:
                    on_frame(k, len(keep))
    if opts.poses_csv is not None:
        shutil.copyfile(opts.poses_csv, out / "poses.csv")
    if opts.catalogue is not None:
        shutil.copyfile(opts.catalogue, out / "catalogue.csv")
    span = (poses.t_ns[-1] - poses.t_ns[0]) / 1e9
    report = ImportReport(
        bundle=str(out), flight_id=flight_id, logs=[asdict(t.source) for t in tels_for_report],
        frames={"n": int(len(keep)), "source": ft.source, "from": what_frames,
                "first_utc": unix_ns_to_iso(int(t_frames[keep[0]])), "last_utc": unix_ns_to_iso(int(t_frames[keep[-1]])),
                "left_out": int(len(t_frames) - len(keep)), "in_pose_gaps": in_gap},
        frame_timing=timing,
        poses={"source": poses.what, "frame": poses.frame, "n": int(len(poses.t_ns)),
               "rate_hz": float((len(poses.t_ns) - 1) / span) if span > 0 else 0.0, "span_s": float(span),
               "first_utc": unix_ns_to_iso(int(poses.t_ns[0])), "last_utc": unix_ns_to_iso(int(poses.t_ns[-1])),
               "gaps": [{"start_utc": unix_ns_to_iso(a), "duration_s": (b - a) / 1e9} for a, b in poses.gaps]},
        warnings=warnings, report_png=str(out / REPORT_DIR / "report.png"))
    from imports.report import write_report

    write_report(out / REPORT_DIR, report, poses, site, t_frames[keep])
    return report


def _check_catalogue(path: Path) -> None:
    import pandas as pd

    try:
        cols = pd.read_csv(path, dtype=str, nrows=5).columns
    except Exception as exc:  # pandas raises several parser errors
        raise ImportsError(f"{path}: not a readable CSV ({type(exc).__name__}); expected columns sku,gtin") from None
    miss = [c for c in ("sku", "gtin") if c not in cols]
    if miss:
        raise ImportsError(f"{path}: missing column(s) {', '.join(miss)}; expected a catalogue with columns sku,gtin")


def _no_overlap_message(what: str, t_frames: np.ndarray, poses: PoseStream) -> str:
    """No frame within the poses: say by how much, and whether a whole time zone explains it."""
    d_s = (np.median(t_frames) - np.median(poses.t_ns)) / 1e9
    hint = ""
    q = round(d_s / 900.0) * 900.0  # time zones are whole quarter hours
    if abs(q) >= 900 and abs(d_s - q) < (poses.t_ns[-1] - poses.t_ns[0]) / 1e9 / 2 + 60:
        h, m = divmod(int(abs(q)) // 60, 60)
        hint = (f" (a camera clock {'ahead' if q > 0 else 'behind'} by {h:02d}:{m:02d}: a time zone set wrong? "
                f"pass --camera-utc-offset or fix OffsetTimeOriginal)")
    return (f"{what}: frames {unix_ns_to_iso(int(t_frames[0]))} .. {unix_ns_to_iso(int(t_frames[-1]))} and the poses "
            f"{unix_ns_to_iso(int(poses.t_ns[0]))} .. {unix_ns_to_iso(int(poses.t_ns[-1]))} do not overlap, "
            f"{d_s:+.1f} s apart{hint}; expected photos or a video of the logged flight")
