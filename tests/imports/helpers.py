"""Small real inputs for imports tests: a camera file, a site placed where a log flew, an H.264
MP4 written by PyAV (libx264) and JPEG photos with EXIF times."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import yaml

from imports.export import jpeg_with_exif
from imports.timebase import parse_utc_offset
from tests.conftest import DEFAULT_SITE
from warehouse.camera import CameraSpec, dump_camera

W, H = 320, 240


def small_camera(path: Path) -> Path:
    dump_camera(CameraSpec(name="test-320", image_width_px=W, image_height_px=H, fps=2.0), path)
    return path


def site_at(path: Path, lat_deg: float, lon_deg: float, alt_m: float) -> Path:
    data = yaml.safe_load(DEFAULT_SITE.read_text())
    data["origin"] = {"lat_deg": float(lat_deg), "lon_deg": float(lon_deg), "alt_m": float(alt_m), "heading_deg": 0.0}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def frame_image(k: int) -> np.ndarray:
    img = np.full((H, W, 3), 90, np.uint8)
    cv2.putText(img, f"frame {k}", (40, 130), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    return img


def video_at(path: Path, start_ns: int, *, n: int = 8, fps: float = 2.0, metadata: bool = True) -> Path:
    """An MP4 whose first frame is at ``start_ns``: creation_time its whole second, pts the rest."""
    import av

    t0 = start_ns // 1_000_000_000 * 1_000_000_000
    tb = Fraction(1, 90_000)
    c = av.open(str(path), "w")
    if metadata:
        c.metadata["creation_time"] = dt.datetime.fromtimestamp(t0 / 1e9, tz=dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.000000Z")
    s = c.add_stream("libx264", rate=int(fps))
    s.width, s.height, s.pix_fmt = W, H, "yuv420p"
    s.codec_context.time_base = tb
    s.time_base = tb
    for k in range(n):
        fr = av.VideoFrame.from_ndarray(frame_image(k), format="bgr24")
        fr.pts = int(round(((start_ns - t0) / 1e9 + k / fps) / tb))
        fr.time_base = tb
        for p in s.encode(fr):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return path


def photos_at(folder: Path, times_ns: list[int], utc_offset: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tz = parse_utc_offset(utc_offset, where="test")
    for k, t in enumerate(times_ns):
        ok, enc = cv2.imencode(".jpg", frame_image(k))
        (folder / f"IMG_{k:04d}.JPG").write_bytes(jpeg_with_exif(enc.tobytes(), int(t), tz, "test-320"))
    return folder
