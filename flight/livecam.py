"""Live cameras for ``rackscan fly``: a network stream (RTSP, UDP/RTP MPEG-TS, HTTP) or a V4L2
device read through PyAV (FFmpeg), each frame with its own time; and the MAVLink camera protocol
for a camera on the autopilot (MAV_CMD_IMAGE_START_CAPTURE, CAMERA_IMAGE_CAPTURED).

Frame times: a V4L2 device gives the kernel's capture time (``timestamps=abs``: wall clock); a
stream gives each frame's pts, put on the ground station's clock by the least-delayed frame seen
so far (arrival - pts at its minimum): a decoder's burst at the start does not stamp frames late,
and what remains is the link's constant latency, which fusion's clock solve takes out as it does
a camera's clock offset. A camera on the autopilot keeps its photos on its card: its
CAMERA_IMAGE_CAPTURED messages land in the bundle's tlog, and ``rackscan import --log
BUNDLE/telemetry.tlog --images CARD/`` puts each photo at its message's time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from flight.errors import FlightError

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtp://", "udp://", "srt://", "http://", "https://", "tcp://")
UNIX_AFTER_S = 1_000_000_000  # a pts beyond this many seconds is a wall-clock time (V4L2 timestamps=abs)
MAV_CMD_IMAGE_START_CAPTURE, MAV_CMD_IMAGE_STOP_CAPTURE = 2000, 2001


@dataclass(frozen=True)
class TimedFrame:
    """A frame and when it was captured (unix ns, ground-station clock); a vehicle's several cameras
    give a tuple of images of the same instant (``flight.recorder``)."""

    image: np.ndarray | tuple[np.ndarray, ...]
    t_ns: int


@dataclass(frozen=True, kw_only=True)
class CameraSource:
    """What ``--camera`` names: kind none | synthetic | opencv | stream | v4l2 | mavlink, and where."""

    kind: str
    where: str = ""


def parse_camera_source(text: str) -> CameraSource:
    t = (text or "none").strip()
    if t in ("none", "synthetic", "mavlink"):
        return CameraSource(kind=t)
    if t.startswith("opencv:"):
        return CameraSource(kind="opencv", where=t.split(":", 1)[1])
    if t.startswith("v4l2:") or t.startswith("/dev/video"):
        return CameraSource(kind="v4l2", where=t.removeprefix("v4l2:"))
    if t.startswith("gst:") or " ! " in t:
        raise FlightError(f"--camera {t!r}: a GStreamer pipeline needs an OpenCV built with GStreamer, which this install "
                          "is not; expected the stream's rtsp:// or udp:// URL (FFmpeg reads it)")
    if t.startswith(STREAM_SCHEMES):
        return CameraSource(kind="stream", where=t)
    raise FlightError(f"--camera {t!r}; expected none, synthetic, mavlink, opencv:INDEX, v4l2:/dev/videoN or a stream "
                      f"URL ({', '.join(s.rstrip(':/') for s in STREAM_SCHEMES)})")


class StreamCamera:
    """A live stream or V4L2 device read on a thread; calling it returns the newest frame not yet
    returned as a ``TimedFrame`` (None when there is none), as ``flight.recorder`` asks a camera."""

    def __init__(self, url: str, *, v4l2: bool = False, open_timeout_s: float = 10.0, size: str | None = None) -> None:
        self.url, self.v4l2, self.open_timeout_s, self.size = url, v4l2, open_timeout_s, size
        self._latest: TimedFrame | None = None
        self._returned_t = 0
        self._anchor_ns: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_read = 0
        self.error: str | None = None

    def _open(self):
        import av

        opts = {"timeout": str(int(self.open_timeout_s * 1e6))}
        fmt = None
        if self.v4l2:
            fmt = "video4linux2"
            opts = {"timestamps": "abs", **({"video_size": self.size} if self.size else {})}
        elif self.url.startswith(("rtsp://", "rtsps://")):
            opts["rtsp_transport"] = "tcp"
        elif self.url.startswith("udp://"):
            opts.update({"fifo_size": "1000000", "overrun_nonfatal": "1"})
        try:
            return av.open(self.url, format=fmt, options=opts, timeout=self.open_timeout_s)
        except (av.error.FFmpegError, OSError) as exc:
            raise FlightError(f"--camera {self.url}: cannot open ({type(exc).__name__}: {str(exc)[:80]}); expected a "
                              "live stream or device that FFmpeg reads") from None

    def frame_time_ns(self, pts_s: float, arrival_ns: int) -> int:
        """The capture time of a frame with presentation time ``pts_s`` that arrived at ``arrival_ns``."""
        pts_ns = int(round(pts_s * 1e9))
        if pts_s > UNIX_AFTER_S:  # the device's own wall-clock stamp
            return pts_ns
        gap = arrival_ns - pts_ns
        if self._anchor_ns is None or gap < self._anchor_ns:
            self._anchor_ns = gap
        return pts_ns + self._anchor_ns

    def start(self) -> "StreamCamera":
        container = self._open()  # in the caller's thread: a camera that cannot open stops the flight before takeoff
        self._thread = threading.Thread(target=self._read, args=(container,), daemon=True, name="live-camera")
        self._thread.start()
        return self

    def _read(self, container) -> None:
        try:
            for fr in container.decode(video=0):
                if self._stop.is_set():
                    break
                now = time.time_ns()
                if fr.pts is None or fr.time is None:
                    continue
                t = self.frame_time_ns(float(fr.time), now)
                img = fr.to_ndarray(format="bgr24")
                with self._lock:
                    self._latest = TimedFrame(img, t)
                self.frames_read += 1
        except Exception as exc:  # a dropped stream ends the frames, not the flight
            self.error = f"{type(exc).__name__}: {str(exc)[:120]}"
        finally:
            container.close()

    def __call__(self, pose=None) -> TimedFrame | None:
        with self._lock:
            f = self._latest
        if f is None or f.t_ns <= self._returned_t:
            return None
        self._returned_t = f.t_ns
        return f

    def close(self) -> None:
        """Stop reading; a reader blocked on a silent stream ends at its read timeout (it is a daemon)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)


def image_start_capture(mav, target_system: int, target_component: int, *, interval_s: float, count: int = 0,
                        first_seq: int = 1):
    """MAV_CMD_IMAGE_START_CAPTURE (2000) as a COMMAND_LONG: a photo every ``interval_s`` (``count``
    0: until stopped); the camera numbers them from ``first_seq``."""
    if interval_s <= 0:
        raise FlightError(f"camera interval {interval_s} s; expected > 0")
    return mav.command_long_encode(target_system, target_component, MAV_CMD_IMAGE_START_CAPTURE, 0, 0.0,
                                   float(interval_s), float(count), float(first_seq), 0.0, 0.0, 0.0)


def image_stop_capture(mav, target_system: int, target_component: int):
    return mav.command_long_encode(target_system, target_component, MAV_CMD_IMAGE_STOP_CAPTURE, 0, 0.0, 0.0, 0.0, 0.0,
                                   0.0, 0.0, 0.0)


@dataclass(frozen=True, kw_only=True)
class CapturedImage:
    """One CAMERA_IMAGE_CAPTURED: the photo's index, its UTC time, where the camera keeps it."""

    index: int
    t_ns: int
    ok: bool
    file_url: str


def captured_image(msg) -> CapturedImage | None:
    """A CAMERA_IMAGE_CAPTURED message as a ``CapturedImage`` (None for other messages)."""
    if msg.get_type() != "CAMERA_IMAGE_CAPTURED":
        return None
    url = msg.file_url
    if isinstance(url, (bytes, bytearray)):
        url = url.decode("utf-8", "replace")
    return CapturedImage(index=int(msg.image_index), t_ns=int(msg.time_utc) * 1000, ok=int(msg.capture_result) == 1,
                         file_url=str(url).rstrip("\x00"))

