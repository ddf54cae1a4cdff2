"""Measurements behind ``rackscan bench perception``: frames per second of detection + decoding at
1920x1080 on a fixed number of CPU cores (ONNX Runtime and PyTorch side by side), and batched GPU
throughput when a GPU is present. Frames are rendered from the synthetic warehouse (real labels
drawn by real encoders) by the caller, so the decoding load is the one a flight gives.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from perception.detector import Detector
from perception.pipeline import read_codes


@dataclass(frozen=True, kw_only=True)
class SpeedResult:
    backend: str
    device: str
    batch: int
    cores: int
    frames: int
    detect_fps: float  # detection alone (pre/post-processing included)
    total_fps: float  # detection + reading every code (0 when not measured)
    codes_per_frame: float


@contextmanager
def pinned_cores(n: int | None):
    """Run the block on the first n CPU cores of this process's affinity set (all when None)."""
    if not n or not hasattr(os, "sched_getaffinity"):
        yield os.cpu_count() or 1
        return
    old = os.sched_getaffinity(0)
    use = set(sorted(old)[:n])
    os.sched_setaffinity(0, use)
    try:
        yield len(use)
    finally:
        os.sched_setaffinity(0, old)


def measure(detector: Detector, frames: list[np.ndarray], *, decode: bool, cores: int, repeat: int = 1,
            on_frame: Callable[[int, int], None] | None = None) -> SpeedResult:
    """Time ``detector`` (and code reading when ``decode``) over ``frames`` after a warm-up."""
    detector.detect(frames[: detector.batch])  # warm-up: session init, CUDA kernels
    work = frames * repeat
    t0 = time.perf_counter()
    dets = []
    for s in range(0, len(work), detector.batch):
        dets += detector.detect(work[s:s + detector.batch])
        if on_frame:
            on_frame(min(s + detector.batch, len(work)), len(work) * (2 if decode else 1))
    t_det = time.perf_counter() - t0
    n_codes = 0
    t_dec = 0.0
    if decode:
        t1 = time.perf_counter()
        for i, (img, d) in enumerate(zip(work, dets)):
            n_codes += len(read_codes(img, d))
            if on_frame:
                on_frame(len(work) + i + 1, 2 * len(work))
        t_dec = time.perf_counter() - t1
    n = len(work)
    return SpeedResult(backend=detector.backend, device=detector.device, batch=detector.batch, cores=cores, frames=n,
                       detect_fps=n / t_det, total_fps=n / (t_det + t_dec) if decode else 0.0,
                       codes_per_frame=n_codes / n if decode else 0.0)
