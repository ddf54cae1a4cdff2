"""A flight bundle exported as a real drone's files: the camera's MP4 (H.264, each frame's
container time stamp, the recording start as ``creation_time``) or its photos (JPEG with EXIF
DateTimeOriginal + SubSecTimeOriginal + OffsetTimeOriginal), and the autopilot's DataFlash .bin
(GPS with week and time of week, the EKF's POS, ATT, and CAM per photo when asked). What
``rackscan import`` reads back, so a synthetic flight proves the import end to end."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from imports.dataflash_writer import DataFlashWriter
from imports.errors import ImportsError
from imports.timebase import parse_utc_offset, unix_ns_to_gps

BOOT_LEAD_S = 20.0  # the autopilot booted this long before the log's first pose


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    log: Path
    frames: Path
    n_frames: int
    n_poses: int
    n_triggers: int


def _telemetry(bundle) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(t_ns, lat/lon/alt, roll/pitch/yaw rad) per GLOBAL_POSITION_INT of the bundle (its ATTITUDE
    paired by time_boot_ms, as fusion pairs them) and the best GPS fix type."""
    att, pos, fix = {}, [], 3
    for t, m in bundle.iter_mavlink(["ATTITUDE", "GLOBAL_POSITION_INT", "GPS_RAW_INT"]):
        k = m.get_type()
        if k == "ATTITUDE":
            att[int(m.time_boot_ms)] = (m.roll, m.pitch, m.yaw)
        elif k == "GLOBAL_POSITION_INT":
            pos.append((t, int(m.time_boot_ms), m.lat / 1e7, m.lon / 1e7, m.alt / 1000.0))
        else:
            fix = max(fix, int(m.fix_type))
    if not pos or not att:
        raise ImportsError(f"{bundle.tlog_path}: no GLOBAL_POSITION_INT + ATTITUDE; expected a bundle flown outdoors "
                           "(RTK/GPS) to export as a DataFlash log")
    ms = np.array(sorted(att))
    t = np.array([p[0] for p in pos], np.int64)
    lla = np.array([p[2:] for p in pos], float)
    rpy = []
    for p in pos:
        j = int(np.clip(np.searchsorted(ms, p[1]), 0, len(ms) - 1))
        if j > 0 and abs(ms[j - 1] - p[1]) < abs(ms[j] - p[1]):
            j -= 1
        rpy.append(att[int(ms[j])])
    return t, lla, np.array(rpy, float), fix


def export_dataflash(bundle, path: str | Path, *, triggers_ns: np.ndarray | None = None) -> tuple[int, int]:
    """The bundle's poses as an ArduPilot DataFlash log; CAM at ``triggers_ns`` (log clock) when
    given. Returns (poses written, CAM messages written)."""
    t, lla, rpy, fix = _telemetry(bundle)
    boot_ns = int(t[0] - BOOT_LEAD_S * 1e9)
    home_alt = float(lla[0, 2])
    with open(path, "wb") as f:
        w = DataFlashWriter(f)
        w.write("MSG", 0, "ArduCopter V4.5.0 (rackscan export)")
        for name, value in (("LOG_BITMASK", 176126), ("CAM_TRIGG_TYPE", 0), ("GPS_TYPE", 1)):
            w.write("PARM", 0, name, value)
        w.write("MODE", int(1e6), 3, 3, 0)
        for k, (tt, (lat, lon, alt), (roll, pitch, yaw)) in enumerate(zip(t, lla, rpy)):
            us = (int(tt) - boot_ns) // 1000
            if k % 4 == 0:
                week, tow_ms = unix_ns_to_gps(int(tt))
                w.write("GPS", us, 0, fix, int(round(tow_ms)), week, 16, 0.7, lat, lon, alt, 0.0, 0.0, 0.0, 0.0, 1)
            w.write("POS", us, lat, lon, alt, alt - home_alt, alt - home_alt)
            w.write("ATT", us, 0.0, np.degrees(roll), 0.0, np.degrees(pitch), 0.0, np.degrees(yaw) % 360.0, 0.0, 0.0, 3)
        n_cam = 0
        if triggers_ns is not None:
            for img, tt in enumerate(np.asarray(triggers_ns, np.int64)):
                j = int(np.clip(np.searchsorted(t, tt), 0, len(t) - 1))
                week, tow_ms = unix_ns_to_gps(int(tt))
                lat, lon, alt = lla[j]
                r, p, y = np.degrees(rpy[j])
                w.write("CAM", (int(tt) - boot_ns) // 1000, 0, img + 1, int(round(tow_ms)), week, lat, lon, alt,
                        alt - home_alt, alt, r, p, y % 360.0)
                n_cam += 1
    return len(t), n_cam


def export_video(bundle, path: str | Path, *, crf: int = 14, on_frame: Callable[[int, int], None] | None = None) -> int:
    """The bundle's frames as an H.264 MP4: each frame's pts its time after ``creation_time``
    (the first frame's whole second, as an MP4 stores it)."""
    import av

    if not len(bundle.frames):
        raise ImportsError(f"{bundle.path / 'frames.csv'}: no frames; nothing to export")
    t0 = int(bundle.frames[0].t_ns) // 1_000_000_000 * 1_000_000_000
    spec = bundle.camera_spec()
    tb = Fraction(1, 90_000)
    c = av.open(str(path), "w")
    try:
        c.metadata["creation_time"] = dt.datetime.fromtimestamp(t0 / 1e9, tz=dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.000000Z")
        s = c.add_stream("libx264", rate=max(1, int(round(spec.fps))))
        s.width, s.height, s.pix_fmt = spec.image_width_px, spec.image_height_px, "yuv420p"
        s.codec_context.time_base = tb
        s.time_base = tb
        s.options = {"crf": str(crf), "preset": "veryfast"}
        n = 0
        for rec, img in bundle.iter_frames(skip_bad=False):
            fr = av.VideoFrame.from_ndarray(img, format="bgr24")
            fr.pts = int(round((rec.t_ns - t0) / 1e9 / tb))
            fr.time_base = tb
            for pkt in s.encode(fr):
                c.mux(pkt)
            n += 1
            if on_frame:
                on_frame(n, len(bundle.frames))
        for pkt in s.encode():
            c.mux(pkt)
    finally:
        c.close()
    return n


def jpeg_with_exif(jpeg: bytes, t_ns: int, tz: dt.timezone, camera_name: str) -> bytes:
    """The JPEG with an EXIF APP1 segment (capture time, fraction, UTC offset) after its SOI,
    the image data untouched."""
    from PIL import Image

    from imports.frames import EXIF_IFD, TAG_DATETIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL, TAG_SUBSEC_TIME_ORIGINAL

    if jpeg[:2] != b"\xff\xd8":
        raise ImportsError("frame is not a JPEG (no SOI marker); expected the bundle's JPEG frames")
    local = dt.datetime.fromtimestamp(t_ns // 1_000_000_000, tz=tz)
    exif = Image.Exif()
    exif[0x0110] = camera_name  # Model
    ifd = exif.get_ifd(EXIF_IFD)
    ifd[TAG_DATETIME_ORIGINAL] = local.strftime("%Y:%m:%d %H:%M:%S")
    ifd[TAG_SUBSEC_TIME_ORIGINAL] = f"{(t_ns % 1_000_000_000) // 1_000_000:03d}"
    off = local.strftime("%z")
    ifd[TAG_OFFSET_TIME_ORIGINAL] = f"{off[:3]}:{off[3:]}"
    payload = exif.tobytes()
    if not payload.startswith(b"Exif"):
        payload = b"Exif\x00\x00" + payload
    seg = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + seg + jpeg[2:]


def export_photos(bundle, folder: str | Path, *, utc_offset: str = "+00:00",
                  on_frame: Callable[[int, int], None] | None = None) -> int:
    """The bundle's frames as a camera's photo folder: the JPEG bytes as they are, with EXIF
    capture times (local time at ``utc_offset``, milliseconds, the offset) from frames.csv."""
    tz = parse_utc_offset(utc_offset, where="--utc-offset")
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    name = bundle.camera_spec().name
    for k, rec in enumerate(bundle.frames):
        data = (bundle.path / rec.file).read_bytes()
        (d / f"IMG_{k + 1:05d}.JPG").write_bytes(jpeg_with_exif(data, int(rec.t_ns), tz, name))
        if on_frame:
            on_frame(k + 1, len(bundle.frames))
    return len(bundle.frames)


def export_flight(bundle_dir: str | Path, *, log: str | Path, video: str | Path | None = None,
                  photos: str | Path | None = None, triggers: bool = False, utc_offset: str = "+00:00",
                  crf: int = 14, on_frame: Callable[[int, int], None] | None = None) -> ExportResult:
    """Export a bundle as (video | photos) + a DataFlash log. ``triggers``: a CAM message per frame
    at its capture time on the autopilot's clock (the frame's time less the bundle's known camera
    clock offset, ``flight.json`` extra.clock_offset_s)."""
    from flight.bundle import Bundle

    if (video is None) == (photos is None):
        raise ImportsError("--video / --photos: give exactly one")
    b = Bundle(bundle_dir)
    trig = None
    if triggers:
        off_ns = int(round(float(b.meta.extra.get("clock_offset_s", 0.0)) * 1e9))
        trig = b.frame_times_ns - off_ns
    n_poses, n_cam = export_dataflash(b, log, triggers_ns=trig)
    if video is not None:
        n = export_video(b, video, crf=crf, on_frame=on_frame)
    else:
        n = export_photos(b, photos, utc_offset=utc_offset, on_frame=on_frame)
    return ExportResult(log=Path(log), frames=Path(video or photos), n_frames=n, n_poses=n_poses, n_triggers=n_cam)
