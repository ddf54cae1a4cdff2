"""Recording a flight as it happens: every MAVLink message into the bundle's tlog, and frames
from a pluggable camera at its frame rate while the vehicle is airborne.

A camera is any ``capture(pose) -> image | TimedFrame | None`` callable, given the latest vehicle
pose (``VehiclePose``); a vehicle's several cameras (a left and right pair) are one callable whose
image is a tuple, one picture per camera taken at the same instant, in the camera file's mount order; the CLI wires a real camera (OpenCV, or a stream or V4L2 device from
``flight.livecam``, whose frames carry their capture time) or the synthetic virtual camera that
renders the warehouse from that pose. Frames are stamped with the ground-station clock, as the
tlog is, and the bundle is fsynced every few frames, so a killed recorder leaves a bundle that
opens and replays up to the kill.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from flight.bundle import BundleWriter
from flight.livecam import TimedFrame


@dataclass(frozen=True, kw_only=True)
class VehiclePose:
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    roll_rad: float
    pitch_rad: float
    yaw_rad: float
    t_ns: int = 0  # when the position was received (ground-station clock); 0: unknown
    # where a simulated vehicle really is (SITL's SIMSTATE; None from a real one): a camera that
    # renders the simulated world renders it from there, not from the (drifting) estimate
    true_lat_deg: float | None = None
    true_lon_deg: float | None = None
    # when the true position was received: a picture rendered from it shows that moment (the
    # estimate of the same tick comes a moment before it, and reading both between the two would
    # put the picture one telemetry period, 0.1 s or 15 cm along a pass, away from its stamp)
    true_t_ns: int = 0


Camera = Callable[[VehiclePose], "np.ndarray | TimedFrame | None"]


class FlightRecorder:
    def __init__(self, writer: BundleWriter, *, camera: Camera | None = None, fps: float = 5.0,
                 pose: Callable[[], VehiclePose | None] = lambda: None,
                 airborne: Callable[[], bool] = lambda: True) -> None:
        self.writer, self.camera, self.fps, self._pose, self._airborne = writer, camera, fps, pose, airborne
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.frames = 0
        self._last_t_ns = 0
        self.errors: list[str] = []

    def tlog(self, raw: bytes, t_ns: int) -> None:
        with self._lock:
            self.writer.write_mavlink(raw, t_ns)

    def start(self) -> "FlightRecorder":
        if self.camera is not None:
            self._thread = threading.Thread(target=self._capture_loop, daemon=True, name="camera")
            self._thread.start()
        return self

    def _capture_loop(self) -> None:
        period = 1.0 / max(self.fps, 0.1)
        next_t = time.monotonic()
        while not self._stop.is_set():
            next_t += period
            pose = self._pose()
            if pose is not None and self._airborne():
                # a rendered frame shows the pose it was rendered from: stamp it with that pose's time
                t_ns = pose.t_ns if getattr(self.camera, "renders_pose", False) and pose.t_ns else time.time_ns()
                try:
                    img = self.camera(pose)
                except Exception as e:  # a camera hiccup loses a frame, not the flight
                    self.errors.append(f"{type(e).__name__}: {e}")
                    img = None
                if isinstance(img, TimedFrame):  # a live camera's own capture time (flight.livecam)
                    img, t_ns = img.image, img.t_ns
                if img is not None and t_ns <= self._last_t_ns:
                    img = None  # the same pose again: no new frame
                if img is not None:
                    self._last_t_ns = t_ns
                    with self._lock:
                        for k, one in enumerate(img if isinstance(img, tuple) else (img,)):
                            self.writer.write_frame(one, t_ns, camera=k)
                            self.frames += 1
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def stop(self, status: str) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            self.writer.close(status)
