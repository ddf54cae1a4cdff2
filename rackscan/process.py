"""The offline pipeline on a recorded flight: detect -> fuse -> reconcile, resumable.

Perception runs in chunks of frames through an executor (local, or Ray); each chunk's detections
are written to ``BUNDLE/.rackscan/chunks/detect-<fingerprint>/`` as soon as it is done, so a
killed run loses at most the chunks in flight. Tracking (ByteTrack, sequential by nature) runs
over the joined chunks, which makes the result independent of how the chunks were spread. Each
stage records a fingerprint of its inputs and options (``rackscan.stages``); a stage whose
fingerprint and outputs are still there is skipped.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rackscan.stages import StageState, code_digest, fingerprint

_DETECTORS: dict[tuple, object] = {}  # one Detector per worker process and configuration


@dataclass(frozen=True, kw_only=True)
class DetectChunk:
    bundle: str
    chunk: int
    indices: tuple[int, ...]  # positions in bundle.frames
    out: str
    weights: str | None
    backend: str
    device: str
    conf: float
    batch: int


def detect_chunk(job: DetectChunk) -> tuple[int, int]:
    """Detect + read codes on one chunk of frames (no tracking); write its parquet atomically.
    Returns (frames done, frames skipped as corrupt or missing). Picklable for Ray."""
    from flight.bundle import Bundle
    from flight.errors import FlightError
    from perception.detector import Detector
    from perception.io import write_detections
    from perception.pipeline import run_perception

    key = (job.weights, job.backend, job.device, job.conf, job.batch)
    det = _DETECTORS.get(key)
    if det is None:
        det = _DETECTORS[key] = Detector(job.weights, backend=job.backend, device=job.device, conf=job.conf,
                                         batch=job.batch)
    b = Bundle(job.bundle)
    skipped = 0

    def frames():
        nonlocal skipped
        for i in job.indices:
            rec = b.frames[i]
            try:
                yield rec.frame_idx, rec.t_ns, b.read_frame(i)
            except FlightError:
                skipped += 1

    # beside a GPU detector, codes are read on every core (a CPU detector already uses them)
    dets = run_perception(frames(), det, track=False, decode_threads=0 if job.device == "cpu" else os.cpu_count() or 1)
    write_detections(job.out, dets)
    return len(dets), skipped


@dataclass
class ProcessReport:
    bundle: Path
    stages: dict[str, str] = field(default_factory=dict)  # stage -> "ran" | "skipped"
    seconds: dict[str, float] = field(default_factory=dict)
    frames: int = 0
    frames_skipped: int = 0
    flight_time_s: float = 0.0
    fusion: object | None = None
    reconciliation: object | None = None

    @property
    def processing_s(self) -> float:
        return sum(self.seconds.values())


def _detect(b, *, executor, w: Path, backend: str, device: str, conf: float, batch: int, chunk_frames: int,
            log: Callable[[str], None]) -> tuple[str, int]:
    """Perception on one bundle, resumable; ('ran' | 'skipped', frames skipped as unreadable)."""
    from perception.io import read_detections, write_detections
    from perception.pipeline import Tracker
    from rackscan.executors import chunked

    root = Path(b.path)
    state = StageState(root)
    det_out = root / "detections.parquet"
    fp = fingerprint("detect", str(w), backend, conf, chunk_frames, code_digest("perception"),
                     files=[root / "frames.csv", w])
    t0 = time.perf_counter()
    if state.is_done("detect", fp, [det_out]):
        log(f"detect: up to date ({root.name}/{det_out.name})")
        return "skipped", 0
    cdir = state.chunk_dir("detect", fp)
    jobs = [DetectChunk(bundle=str(root), chunk=k, indices=tuple(idx), out=str(cdir / f"chunk_{k:05d}.parquet"),
                        weights=str(w), backend=backend, device=device, conf=conf, batch=batch)
            for k, idx in enumerate(chunked(list(range(len(b.frames))), chunk_frames))]
    todo = [j for j in jobs if not Path(j.out).exists()]
    if len(todo) < len(jobs):
        log(f"detect: resuming, {len(jobs) - len(todo)} of {len(jobs)} chunks already done")
    executor.map(detect_chunk, todo, description=f"detect {root.name} ({len(todo)} chunks of {chunk_frames} frames)")
    dets = [d for j in jobs for d in read_detections(j.out)]
    dets.sort(key=lambda d: d.frame_idx)
    tracker = Tracker(float(b.camera_spec().fps or 5.0))
    dets = [tracker.update(d) for d in dets]
    write_detections(det_out, dets)
    skipped = len(b.frames) - len(dets)
    state.mark_done("detect", fp, frames=len(dets), skipped=skipped, seconds=time.perf_counter() - t0,
                    executor=getattr(executor, "name", "local"))
    log(f"detect: {len(dets)} frames ({skipped} skipped), {sum(len(d) for d in dets)} boxes, "
        f"{sum(len(d.codes) for d in dets)} codes -> {root.name}/{det_out.name}")
    return "ran", skipped


def process_bundle(bundle_dir: str | Path, *, erp: str | Path | None = None, executor=None,
                   weights: str | Path | None = None, backend: str = "onnx", device: str = "cpu",
                   conf: float = 0.25, batch: int = 1, chunk_frames: int = 32, fuse_options: "FusionOptions | None" = None,
                   reconcile_options: dict | None = None, log: Callable[[str], None] = print) -> ProcessReport:
    """detect -> fuse -> reconcile on the flight recorded in ``bundle_dir``; a flight interrupted and
    continued (``rackscan fly --resume``: ``BUNDLE.resume1``, ...) is processed as one count:
    perception per bundle, fusion over all of them, outputs in ``bundle_dir``."""
    import pandas as pd

    from flight.continuation import flight_bundles, open_flight
    from perception.detector import DEFAULT_WEIGHTS
    from rackscan.executors import LocalExecutor

    paths = flight_bundles(bundle_dir)
    flight = open_flight(bundle_dir)
    bundles = getattr(flight, "bundles", [flight])
    root = Path(flight.path)
    state = StageState(root)
    executor = executor or LocalExecutor()
    rep = ProcessReport(bundle=root)
    for bb in bundles:
        ts = [fr.t_ns for fr in bb.frames]
        rep.flight_time_s += (max(ts) - min(ts)) / 1e9 if ts else 0.0
        rep.frames += len(ts)
    if len(paths) > 1:
        log(f"flight of {len(paths)} bundles: {', '.join(p.name for p in paths)} (one count)")

    # 1. perception, bundle by bundle
    w = Path(weights) if weights else DEFAULT_WEIGHTS.with_suffix(".onnx" if backend == "onnx" else ".pt")
    t0 = time.perf_counter()
    ran = []
    for bb in bundles:
        how, skipped = _detect(bb, executor=executor, w=w, backend=backend, device=device, conf=conf, batch=batch,
                               chunk_frames=chunk_frames, log=log)
        ran.append(how)
        rep.frames_skipped += skipped
    rep.stages["detect"] = "ran" if "ran" in ran else "skipped"
    rep.seconds["detect"] = time.perf_counter() - t0

    # 2. fusion
    from dataclasses import asdict

    from slam_fusion.tools.io import FusionOptions, fuse_bundle, fusion_inputs, residual_stats, write_outputs

    fo = fuse_options or FusionOptions()
    obs_out = root / "observations.parquet"
    # the options and every file fusion reads, as fusion declares them (slam_fusion.tools.io)
    fp = fingerprint("fuse", sorted(asdict(fo).items()), code_digest("slam_fusion"), files=fusion_inputs(flight, fo))
    t0 = time.perf_counter()
    if state.is_done("fuse", fp, [obs_out]):
        rep.stages["fuse"] = "skipped"
        log(f"fuse: up to date ({obs_out.name})")
    else:
        res = fuse_bundle(flight, fo)
        write_outputs(flight, res, flight.meta.flight_id)
        med, _ = residual_stats(res.label_residuals_px)
        state.mark_done("fuse", fp, bins=len(res.observations), clock_offset_s=res.clock_offset_s,
                        seconds=time.perf_counter() - t0)
        rep.fusion = res
        rep.stages["fuse"] = "ran"
        log(f"fuse: {len(res.observations)} bins observed, {sum(o.count for o in res.observations)} tires; clock offset "
            f"{res.clock_offset_s * 1000:+.1f} ms, label residual median {med:.1f} px -> {obs_out.name}")
        for w in res.warnings:
            log(f"fuse: warning: {w}")
    rep.seconds["fuse"] = time.perf_counter() - t0

    # 3. reconciliation
    if erp is not None:
        from reconciliation.pipeline import reconcile_flight

        ro = dict(reconcile_options or {})
        t0 = time.perf_counter()
        out_dir = Path(ro.get("out_dir") or root / "report")
        fp = fingerprint("reconcile", sorted((k, str(v)) for k, v in ro.items()), code_digest("reconciliation"),
                         files=[obs_out, Path(erp)] + ([Path(ro["product_master_path"])] if ro.get("product_master_path") else []))
        if state.is_done("reconcile", fp, [out_dir / "report.xlsx", out_dir / "discrepancies.csv"]):
            rep.stages["reconcile"] = "skipped"
            log(f"reconcile: up to date ({out_dir})")
        else:
            from slam_fusion.tools.io import flight_info

            rep.reconciliation = reconcile_flight(root, erp, flight=flight_info(flight), **ro)
            state.mark_done("reconcile", fp, reconciliation_id=getattr(rep.reconciliation, "reconciliation_id", None),
                            seconds=time.perf_counter() - t0)
            rep.stages["reconcile"] = "ran"
            log(f"reconcile: report {rep.reconciliation.report_xlsx}")
        rep.seconds["reconcile"] = time.perf_counter() - t0
    pd.DataFrame([{"stage": k, "status": rep.stages[k], "seconds": round(v, 2)} for k, v in rep.seconds.items()]).to_csv(
        root / ".rackscan" / "last_run.csv", index=False)
    return rep


__all__ = ["process_bundle", "detect_chunk", "DetectChunk", "ProcessReport"]
