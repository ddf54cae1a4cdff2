"""The flight bundle: a directory written as the flight goes, read by every later stage.

Layout (DESIGN.md "Data on disk")::

    BUNDLE/
      flight.json      ids, site, plan hash, camera intrinsics + distortion, T_body_camera,
                       software version, status (recording | complete | aborted)
      site.yaml        the site file the flight was planned on (copied in)
      telemetry.tlog   standard MAVLink telemetry log: 8-byte big-endian capture time (unix us)
                       + the raw packet, as ground stations write it; readable by pymavlink
      frames/          one JPEG per frame, ``000000.jpg`` ...
      frames.csv       frame_idx,t_ns,file   (camera capture time, unix ns, camera clock); a bundle of
                       several cameras (a left and right pair) adds ``camera``, the index of the
                       frame's camera in flight.json's T_body_cameras
      poses.csv        optional external SLAM: t_ns,x_m,y_m,z_m,qw,qx,qy,qz (T_site_body)
      truth/           optional synthetic ground truth (datasets writes it)

Frames and telemetry are appended and flushed as they arrive; ``fsync`` runs every
``fsync_every`` frames and on close, so a killed recorder loses at most the last batch and its
bundle still opens (a partial last CSV line is dropped with a warning).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import struct
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from flight.errors import FlightError

BUNDLE_VERSION = 1
FRAMES_CSV_HEADER = ["frame_idx", "t_ns", "file"]
FRAMES_CSV_HEADER_CAMERAS = [*FRAMES_CSV_HEADER, "camera"]
POSES_CSV_HEADER = ["t_ns", "x_m", "y_m", "z_m", "qw", "qx", "qy", "qz"]


def software_version() -> str:
    try:
        from importlib.metadata import version

        return version("rackscan")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "0+source"


@dataclass
class FlightMeta:
    """What ``flight.json`` holds."""

    flight_id: str
    site_name: str = ""
    plan_sha256: str = ""
    camera: dict = field(default_factory=dict)  # warehouse.camera.CameraSpec.model_dump()
    T_body_camera: list = field(default_factory=lambda: np.eye(4).tolist())
    # one 4x4 per camera where the vehicle carries several (frames.csv's ``camera`` column indexes it);
    # empty: one camera, T_body_camera
    T_body_cameras: list = field(default_factory=list)
    started_utc: str = ""
    software_version: str = field(default_factory=software_version)
    status: str = "recording"
    source: str = ""  # "sim", "sitl", "vehicle", "synthetic"
    extra: dict = field(default_factory=dict)
    bundle_version: int = BUNDLE_VERSION

    @classmethod
    def from_json(cls, path: Path) -> "FlightMeta":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FlightError(f"{path}: missing; a flight bundle needs flight.json") from None
        except json.JSONDecodeError as exc:
            raise FlightError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg}); expected flight.json") from None
        if not isinstance(data, dict) or "flight_id" not in data:
            raise FlightError(f"{path}: flight_id: required field is missing; expected a flight.json object")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class BundleWriter:
    """Write a flight bundle as the flight goes. Use as a context manager."""

    def __init__(
        self,
        path: str | Path,
        meta: FlightMeta,
        *,
        site_yaml_text: str | None = None,
        fsync_every: int = 10,
        jpeg_quality: int = 92,
    ) -> None:
        self.path = Path(path)
        if (self.path / "frames.csv").exists():
            raise FlightError(f"{self.path}: already holds a flight bundle; record into an empty directory")
        (self.path / "frames").mkdir(parents=True, exist_ok=True)
        self.meta = meta
        if not meta.started_utc:
            meta.started_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if site_yaml_text is not None:
            (self.path / "site.yaml").write_text(site_yaml_text, encoding="utf-8")
        self._write_meta()
        self._frames = open(self.path / "frames.csv", "w", newline="", encoding="utf-8")
        self.n_cameras = max(1, len(meta.T_body_cameras))
        self._frames.write(",".join(FRAMES_CSV_HEADER_CAMERAS if self.n_cameras > 1 else FRAMES_CSV_HEADER) + "\n")
        self._tlog = open(self.path / "telemetry.tlog", "ab")
        self._poses = None
        self.fsync_every = max(1, fsync_every)
        self.jpeg_quality = jpeg_quality
        self.n_frames = 0
        self._closed = False

    def _write_meta(self) -> None:
        tmp = self.path / "flight.json.tmp"
        tmp.write_text(json.dumps(asdict(self.meta), indent=2), encoding="utf-8")
        os.replace(tmp, self.path / "flight.json")

    def write_frame(self, image: np.ndarray | bytes, t_ns: int, camera: int = 0) -> int:
        """Append one frame (BGR/grey array, or JPEG bytes) captured at ``t_ns`` by camera ``camera``
        (an index into the meta's ``T_body_cameras``; 0 where there is one camera); returns its index."""
        import cv2

        if not 0 <= camera < self.n_cameras:
            raise FlightError(f"{self.path}: camera {camera}: the bundle has {self.n_cameras} camera(s); expected "
                              f"0..{self.n_cameras - 1}")
        idx = self.n_frames
        name = f"frames/{idx:06d}.jpg"
        if isinstance(image, (bytes, bytearray)):
            data = bytes(image)
        else:
            ok, enc = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                raise FlightError(f"{self.path / name}: could not encode frame {idx} as JPEG")
            data = enc.tobytes()
        with open(self.path / name, "wb") as f:
            f.write(data)
        self._frames.write(f"{idx},{int(t_ns)},{name}" + (f",{camera}\n" if self.n_cameras > 1 else "\n"))
        self._frames.flush()
        self.n_frames += 1
        if self.n_frames % self.fsync_every == 0:
            self.sync()
        return idx

    def write_mavlink(self, packet: bytes | object, t_ns: int | None = None) -> None:
        """Append a MAVLink packet (raw bytes or a pymavlink message) with its capture time."""
        raw = packet if isinstance(packet, (bytes, bytearray)) else packet.get_msgbuf()
        t_us = int((time.time_ns() if t_ns is None else t_ns) // 1000)
        self._tlog.write(struct.pack(">Q", t_us) + bytes(raw))
        self._tlog.flush()

    def write_pose(self, t_ns: int, xyz_m, quat_wxyz) -> None:
        """Append an external-SLAM pose (T_site_body) to ``poses.csv``."""
        if self._poses is None:
            new = not (self.path / "poses.csv").exists()
            self._poses = open(self.path / "poses.csv", "a", newline="", encoding="utf-8")
            if new:
                self._poses.write(",".join(POSES_CSV_HEADER) + "\n")
        vals = [int(t_ns), *[float(x) for x in xyz_m], *[float(q) for q in quat_wxyz]]
        self._poses.write(",".join(str(v) for v in vals) + "\n")
        self._poses.flush()

    def sync(self) -> None:
        for f in (self._frames, self._tlog, self._poses):
            if f is not None and not f.closed:
                f.flush()
                os.fsync(f.fileno())

    def close(self, status: str = "complete") -> None:
        if self._closed:
            return
        self.sync()
        for f in (self._frames, self._tlog, self._poses):
            if f is not None:
                f.close()
        self.meta.status = status
        self._write_meta()
        self._closed = True

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("complete" if exc_type is None else "aborted")


def frame_extrinsics(T_body_cameras: np.ndarray, frames) -> np.ndarray | dict[int, np.ndarray]:
    """What fusion takes as ``T_body_camera``: the one 4x4, or frame_idx -> its camera's 4x4
    (``frames``: FrameRecords, each naming its camera)."""
    if len(T_body_cameras) == 1:
        return T_body_cameras[0]
    return {f.frame_idx: T_body_cameras[f.camera] for f in frames}


@dataclass(frozen=True)
class FrameRecord:
    frame_idx: int
    t_ns: int
    file: str
    camera: int = 0  # which of the vehicle's cameras took it (flight.json T_body_cameras)


class Bundle:
    """Read a flight bundle (also one whose recorder was killed)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FlightError(f"{self.path}: not a directory; expected a flight bundle (flight.json, frames.csv, ...)")
        self.meta = FlightMeta.from_json(self.path / "flight.json")
        self.frames: list[FrameRecord] = self._read_frames_csv()

    # -- frames -----------------------------------------------------------------------------
    def _read_frames_csv(self) -> list[FrameRecord]:
        p = self.path / "frames.csv"
        if not p.exists():
            return []
        raw = p.read_bytes().decode("utf-8", errors="replace")
        lines = raw.split("\n")
        partial = lines[-1] != ""
        if partial:
            warnings.warn(f"{p}: last line is partial (recorder stopped mid-write); it is skipped")
        lines = [ln for ln in lines[:-1] if ln.strip()]
        header = lines[0].strip().split(",") if lines else []
        if header not in (FRAMES_CSV_HEADER, FRAMES_CSV_HEADER_CAMERAS):
            raise FlightError(f"{p}:1: header must be {','.join(FRAMES_CSV_HEADER)} (or {','.join(FRAMES_CSV_HEADER_CAMERAS)} "
                              "for several cameras)")
        n_fields, n_cams = len(header), max(1, len(self.meta.T_body_cameras))
        out: list[FrameRecord] = []
        last_t = None
        for i, ln in enumerate(csv.reader(io.StringIO("\n".join(lines[1:]))), start=2):
            if len(ln) != n_fields:
                raise FlightError(f"{p}:{i}: expected {n_fields} fields {','.join(header)}, got {len(ln)}")
            try:
                idx, t_ns = int(ln[0]), int(ln[1])
                cam = int(ln[3]) if n_fields == 4 else 0
            except ValueError:
                what = "frame_idx, t_ns and camera" if n_fields == 4 else "frame_idx and t_ns"
                raise FlightError(f"{p}:{i}: {what} must be integers, got {', '.join(map(repr, ln[:2] + ln[3:]))}") from None
            if not 0 <= cam < n_cams:
                raise FlightError(f"{p}:{i}: camera {cam}: flight.json's T_body_cameras holds {n_cams} camera(s); "
                                  f"expected 0..{n_cams - 1}")
            if last_t is not None and t_ns < last_t:
                raise FlightError(f"{p}:{i}: t_ns {t_ns} goes back in time (previous {last_t}); frames must be in capture order")
            last_t = t_ns
            out.append(FrameRecord(idx, t_ns, ln[2], cam))
        return out

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def frame_times_ns(self) -> np.ndarray:
        return np.array([f.t_ns for f in self.frames], dtype=np.int64)

    def read_frame(self, i: int, *, grey: bool = False) -> np.ndarray:
        """Frame ``i`` as a BGR uint8 array (``grey``: one channel, which for a JPEG skips the colour
        planes and takes half the time); FlightError naming the file when missing or corrupt."""
        import cv2

        rec = self.frames[i]
        fp = self.path / rec.file
        if not fp.exists():
            raise FlightError(f"{fp}: frame {rec.frame_idx} is missing from the bundle")
        img = cv2.imdecode(np.fromfile(fp, dtype=np.uint8), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
        if img is None:
            raise FlightError(f"{fp}: frame {rec.frame_idx} is not a readable image (corrupt or truncated)")
        return img

    def iter_frames(self, *, skip_bad: bool = True, prefetch: int = 0,
                    grey: bool = False) -> Iterator[tuple[FrameRecord, np.ndarray]]:
        """Yield (record, image) in order; missing or corrupt frames are skipped with a warning.
        ``prefetch`` > 0 decodes up to that many frames ahead on as many threads (JPEG decoding
        releases the GIL), for consumers faster than one core decodes. ``grey``: as `read_frame`."""
        if prefetch <= 0:
            for i, rec in enumerate(self.frames):
                try:
                    yield rec, self.read_frame(i, grey=grey)
                except FlightError as exc:
                    if not skip_bad:
                        raise
                    warnings.warn(str(exc))
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(prefetch, thread_name_prefix="read-frames") as pool:
            ahead: deque = deque()
            todo = iter(range(len(self.frames)))
            try:
                for i in todo:
                    ahead.append((i, pool.submit(self.read_frame, i, grey=grey)))
                    if len(ahead) >= prefetch:
                        break
                while ahead:
                    i, fut = ahead.popleft()
                    nxt = next(todo, None)
                    if nxt is not None:
                        ahead.append((nxt, pool.submit(self.read_frame, nxt, grey=grey)))
                    try:
                        img = fut.result()
                    except FlightError as exc:
                        if not skip_bad:
                            raise
                        warnings.warn(str(exc))
                        continue
                    yield self.frames[i], img
            finally:
                for _, fut in ahead:
                    fut.cancel()

    # -- telemetry --------------------------------------------------------------------------
    @property
    def tlog_path(self) -> Path:
        return self.path / "telemetry.tlog"

    def iter_mavlink(self, types: list[str] | None = None) -> Iterator[tuple[int, object]]:
        """Yield (t_ns, message) from ``telemetry.tlog`` via pymavlink; a truncated tail ends it."""
        os.environ.setdefault("MAVLINK20", "1")
        from pymavlink import mavutil

        if not self.tlog_path.exists():
            raise FlightError(f"{self.tlog_path}: missing; a flight bundle needs its telemetry log")
        mlog = mavutil.mavlink_connection(str(self.tlog_path), dialect="ardupilotmega", robust_parsing=True)
        try:
            while True:
                msg = mlog.recv_match(type=types)
                if msg is None:
                    break
                if msg.get_type() == "BAD_DATA":
                    continue
                yield int(round(msg._timestamp * 1e9)), msg
        finally:
            mlog.close()

    # -- extras -----------------------------------------------------------------------------
    def camera_spec(self):
        from warehouse.camera import CameraSpec

        return CameraSpec.model_validate(self.meta.camera)

    @property
    def T_body_camera(self) -> np.ndarray:
        T = np.asarray(self.meta.T_body_camera, dtype=np.float64)
        if T.shape != (4, 4):
            raise FlightError(f"{self.path / 'flight.json'}: T_body_camera must be a 4x4 matrix, got {T.shape}")
        return T

    @property
    def T_body_cameras(self) -> np.ndarray:
        """(K, 4, 4): each camera's extrinsic (one camera: T_body_camera alone)."""
        if not self.meta.T_body_cameras:
            return self.T_body_camera[None]
        T = np.asarray(self.meta.T_body_cameras, dtype=np.float64)
        if T.ndim != 3 or T.shape[1:] != (4, 4):
            raise FlightError(f"{self.path / 'flight.json'}: T_body_cameras must be a list of 4x4 matrices, got {T.shape}")
        return T

    def frame_T_body_camera(self) -> np.ndarray | dict[int, np.ndarray]:
        return frame_extrinsics(self.T_body_cameras, self.frames)

    def site(self):
        from warehouse.site import load_site

        p = self.path / "site.yaml"
        if not p.exists():
            raise FlightError(f"{p}: missing; pass the site file explicitly or record it into the bundle")
        return load_site(p)

    def read_poses_csv(self):
        """External SLAM poses as a DataFrame (t_ns, x_m, y_m, z_m, qw, qx, qy, qz) or None."""
        import pandas as pd

        p = self.path / "poses.csv"
        if not p.exists():
            return None
        df = pd.read_csv(p)
        missing = [c for c in POSES_CSV_HEADER if c not in df.columns]
        if missing:
            raise FlightError(f"{p}: missing column(s) {missing}; expected {','.join(POSES_CSV_HEADER)}")
        return df
