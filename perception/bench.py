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

from perception.detections import box_iou
from perception.detector import Detector
from perception.pipeline import run_perception


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
    decode_threads: int = 0  # threads reading codes beside the detector (0: inline, one frame after another)


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
            decode_threads: int = 0, on_frame: Callable[[int, int], None] | None = None) -> SpeedResult:
    """Time ``detector`` over ``frames`` (repeated ``repeat`` times) after a warm-up; with ``decode``,
    time again the whole per-frame job as ``rackscan detect`` runs it (detection, then every code
    read, on ``decode_threads`` threads beside the detector when > 0), tracking left out."""
    reps = -(-detector.batch // len(frames))
    detector.detect((frames * reps)[: detector.batch])  # warm-up on a full batch: session init, CUDA kernels, cuDNN tuning
    work = frames * repeat
    steps = len(work) * (2 if decode else 1)
    t0 = time.perf_counter()
    for s in range(0, len(work), detector.batch):
        detector.detect(work[s:s + detector.batch])
        if on_frame:
            on_frame(min(s + detector.batch, len(work)), steps)
    t_det = time.perf_counter() - t0
    n_codes, t_all = 0, 0.0
    if decode:
        done = [len(work)]

        def tick(d, img):
            done[0] += 1
            if on_frame:
                on_frame(done[0], steps)

        t1 = time.perf_counter()
        res = run_perception(((i, 0, img) for i, img in enumerate(work)), detector, track=False,
                             decode_threads=decode_threads, on_frame=tick)
        t_all = time.perf_counter() - t1
        n_codes = sum(len(d.codes) for d in res)
    n = len(work)
    return SpeedResult(backend=detector.backend, device=detector.device, batch=detector.batch, cores=cores, frames=n,
                       detect_fps=n / t_det, total_fps=n / t_all if decode else 0.0,
                       codes_per_frame=n_codes / n if decode else 0.0, decode_threads=decode_threads)


def agreement(reference: list, other: list, *, min_iou: float = 0.9) -> float:
    """Share of the reference detections (``FrameDetections`` per frame) that ``other`` has too: same
    class, IoU >= ``min_iou``, frame by frame; detections of ``other`` not in the reference count
    against it, so the figure is 1.0 only when both sides found the same boxes."""
    matched = total = 0
    for r, o in zip(reference, other, strict=True):
        total += max(len(r), len(o))
        if not len(r) or not len(o):
            continue
        iou = box_iou(r.xyxy, o.xyxy)
        iou[r.class_id[:, None] != o.class_id[None, :]] = 0.0
        matched += int(np.sum(iou.max(axis=1) >= min_iou))
    return matched / total if total else 1.0
