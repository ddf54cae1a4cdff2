"""Frames of a real camera and the camera's own times for them.

- A video (MP4/MOV/MKV, read with PyAV): each frame's container time stamp (pts) plus the
  container's ``creation_time`` (UTC). MP4 stores the creation time in whole seconds, so the
  fraction comes only from the pts (a camera that starts its first frame at pts 0 leaves up to
  1 s for the trigger match or fusion's clock solve to find).
- A folder of photos: EXIF ``DateTimeOriginal`` + ``SubSecTimeOriginal`` + ``OffsetTimeOriginal``
  (the local time of the shot, its fraction of a second, the camera's UTC offset); without an
  offset in the file the camera's offset must be given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from imports.errors import ImportsError
from imports.telemetry import sha256_of
from imports.timebase import exif_to_unix_ns, iso_to_unix_ns, unix_ns_to_iso

IMAGE_EXT = (".jpg", ".jpeg")
EXIF_IFD = 0x8769
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME = 0x9010
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_SUBSEC_TIME = 0x9290
TAG_SUBSEC_TIME_ORIGINAL = 0x9291


@dataclass(frozen=True, kw_only=True)
class FrameTimes:
    """The camera clock's time of every frame (unix ns) and how it was read."""

    t_ns: np.ndarray  # (N,) int64, camera clock, capture order
    names: tuple[str, ...]  # file per frame (photos) or "video.mp4#k"
    source: str  # how the times were read
    files: dict  # file name -> sha256
    width_px: int
    height_px: int
    warnings: tuple[str, ...] = ()


# -- photos -------------------------------------------------------------------------------------
def exif_time_ns(path: Path, *, default_offset: dt.timezone | None = None) -> tuple[int, bool]:
    """(capture time in unix ns, whether the file gave its own UTC offset) of one JPEG."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            exif = im.getexif()
    except (UnidentifiedImageError, OSError) as exc:
        raise ImportsError(f"{path}: not a readable JPEG ({type(exc).__name__}); expected a camera photo with EXIF") from None
    sub = exif.get_ifd(EXIF_IFD)
    when = sub.get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME)
    if not when:
        raise ImportsError(f"{path}: EXIF DateTimeOriginal (0x9003): missing; expected the camera's capture time")
    subsec = sub.get(TAG_SUBSEC_TIME_ORIGINAL) if sub.get(TAG_DATETIME_ORIGINAL) else sub.get(TAG_SUBSEC_TIME)
    offset = sub.get(TAG_OFFSET_TIME_ORIGINAL) or sub.get(TAG_OFFSET_TIME)
    t = exif_to_unix_ns(str(when), None if subsec is None else str(subsec), None if offset is None else str(offset),
                        where=str(path), default_offset=default_offset)
    return t, bool(offset)


def photo_times(folder: str | Path, *, default_offset: dt.timezone | None = None) -> FrameTimes:
    from PIL import Image

    d = Path(folder)
    if not d.is_dir():
        raise ImportsError(f"{d}: not a directory; expected a folder of JPEG photos with EXIF times")
    files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_EXT)
    if not files:
        raise ImportsError(f"{d}: no .jpg/.jpeg files; expected the camera's photos")
    times, own_offset, sizes = [], 0, set()
    no_subsec = 0
    for f in files:
        t, own = exif_time_ns(f, default_offset=default_offset)
        times.append(t)
        own_offset += own
        with Image.open(f) as im:
            sizes.add(im.size)
            if not im.getexif().get_ifd(EXIF_IFD).get(TAG_SUBSEC_TIME_ORIGINAL):
                no_subsec += 1
    if len(sizes) != 1:
        raise ImportsError(f"{d}: photos of {len(sizes)} sizes {sorted(sizes)}; expected one camera at one image size")
    order = np.argsort(np.array(times, np.int64), kind="stable")
    t = np.array(times, np.int64)[order]
    names = tuple(files[i].name for i in order)
    warnings = []
    if no_subsec:
        warnings.append(f"{d.name}: {no_subsec} photos without SubSecTimeOriginal: their times are whole seconds")
    dup = int(np.sum(np.diff(t) == 0))
    if dup:
        warnings.append(f"{d.name}: {dup} photos share a capture time with the one before")
    src = ("EXIF DateTimeOriginal + SubSecTimeOriginal + OffsetTimeOriginal" if own_offset == len(files)
           else "EXIF DateTimeOriginal + SubSecTimeOriginal, UTC offset given (--camera-utc-offset)")
    (w, h), = sizes
    return FrameTimes(t_ns=t, names=names, source=src, files={f.name: sha256_of(f) for f in files},
                      width_px=w, height_px=h, warnings=tuple(warnings))


def iter_photos(folder: str | Path, names: tuple[str, ...]) -> Iterator[bytes]:
    """The photos' JPEG bytes as they are (no re-encoding), in the given order."""
    for n in names:
        yield (Path(folder) / n).read_bytes()


# -- video --------------------------------------------------------------------------------------
def _open_video(path: Path):
    import av

    try:
        c = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ImportsError(f"{path}: not a readable video ({type(exc).__name__}: {str(exc)[:80]}); "
                           "expected an MP4/MOV/MKV a camera wrote") from None
    if not c.streams.video:
        c.close()
        raise ImportsError(f"{path}: no video stream; expected a camera's video")
    return c


def video_start_ns(path: Path, container, *, start_utc: str | None = None) -> tuple[int, str]:
    """UTC of the video's time 0: ``start_utc`` when given, else the container's creation_time."""
    if start_utc:
        return iso_to_unix_ns(start_utc, where="--video-start-utc"), "--video-start-utc"
    meta = {**container.streams.video[0].metadata, **container.metadata}
    ct = meta.get("creation_time")
    if not ct:
        raise ImportsError(f"{path}: creation_time: missing from the container; expected the camera's recording "
                           "start, or pass --video-start-utc ISO-TIME")
    return iso_to_unix_ns(ct, where=f"{path}: creation_time"), "container creation_time"


def video_times(path: str | Path, *, start_utc: str | None = None, frame_step: int = 1) -> FrameTimes:
    """Every ``frame_step``-th frame's time from the container's pts (decoding is skipped: packets only)."""
    p = Path(path)
    c = _open_video(p)
    try:
        t0, how = video_start_ns(p, c, start_utc=start_utc)
        s = c.streams.video[0]
        tb = s.time_base
        pts = []
        for pkt in c.demux(s):
            if pkt.pts is not None:
                pts.append(int(pkt.pts))
        w, h = s.codec_context.width, s.codec_context.height
    finally:
        c.close()
    if not pts:
        raise ImportsError(f"{p}: no frames with a time stamp (pts); expected a video with timed frames")
    pts = np.sort(np.array(pts, np.int64))[::max(1, frame_step)]
    t = t0 + np.array([int(round(float(x * tb) * 1e9)) for x in pts], np.int64)
    names = tuple(f"{p.name}#{int(x)}" for x in pts)
    warnings = [] if start_utc or how != "container creation_time" else [
        f"{p.name}: creation_time {unix_ns_to_iso(t0)} has whole seconds (MP4); the fraction comes from the frames' "
        "pts, the trigger match or fusion's clock solve"]
    return FrameTimes(t_ns=t, names=names, source=f"video pts + {how}", files={p.name: sha256_of(p)},
                      width_px=w, height_px=h, warnings=tuple(warnings))


def iter_video(path: str | Path, keep_pts: set[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(pts, BGR frame) of the frames whose pts is in ``keep_pts``, in order."""
    p = Path(path)
    c = _open_video(p)
    try:
        for fr in c.decode(video=0):
            if fr.pts in keep_pts:
                yield int(fr.pts), fr.to_ndarray(format="bgr24")
    finally:
        c.close()
