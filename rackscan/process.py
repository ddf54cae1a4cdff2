"""The offline pipeline on a recorded flight: detect -> fuse -> reconcile, resumable.

Perception runs in chunks of frames through an executor (local, or Ray); each chunk's detections
are written to ``BUNDLE/.rackscan/chunks/detect-<fingerprint>/`` as soon as it is done, so a
killed run loses at most the chunks in flight. Tracking (ByteTrack, sequential by nature) runs
over the joined chunks, which makes the result independent of how the chunks were spread. Each
stage records a fingerprint of its inputs and options (``rackscan.stages``); a stage whose
fingerprint and outputs are still there is skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rackscan.stages import StageState, code_digest, file_digest, fingerprint

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
    from perception.detector import Detector, input_colour
    from perception.io import write_detections
    from perception.pipeline import default_decode_threads, run_perception

    # the weights' train_config.yaml may have changed since this process loaded them (input colour)
    key = (job.weights, input_colour(Path(job.weights)), job.backend, job.device, job.conf, job.batch)
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
                yield rec.frame_idx, rec.t_ns, b.read_frame(i, grey=det.takes_grey)
            except FlightError:
                skipped += 1

    dets = run_perception(frames(), det, track=False, decode_threads=default_decode_threads(job.device))
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
    fusion: object | None = None  # FuseSummary, when fusion ran in this run
    reconciliation: object | None = None

    @property
    def processing_s(self) -> float:
        return sum(self.seconds.values())


@dataclass
class _DetectPlan:
    """One bundle's perception: its chunks, those still to run, and what marks the stage done."""
    bundle: object
    fp: str
    jobs: list[DetectChunk]
    todo: list[DetectChunk]
    skipped: bool = False


def _plan_detect(b, *, w: Path, backend: str, device: str, conf: float, batch: int, chunk_frames: int,
                 log: Callable[[str], None]) -> _DetectPlan:
    """A bundle's perception chunks (resumable: chunks already written are not run again)."""
    from perception.detector import input_colour
    from rackscan.executors import chunked

    root = Path(b.path)
    state = StageState(root)
    # what the weights were trained on (their train_config.yaml) decides what the detector is given;
    # the weights by their bytes, not their path: a checkout moved or cloned keeps its detections
    fp = fingerprint("detect", file_digest(w), backend, conf, chunk_frames, code_digest("perception"), input_colour(w),
                     files=[root / "frames.csv"])
    if state.is_done("detect", fp, [root / "detections.parquet"]):
        log(f"detect: up to date ({root.name}/detections.parquet)")
        return _DetectPlan(b, fp, [], [], skipped=True)
    cdir = state.chunk_dir("detect", fp)
    jobs = [DetectChunk(bundle=str(root), chunk=k, indices=tuple(idx), out=str(cdir / f"chunk_{k:05d}.parquet"),
                        weights=str(w), backend=backend, device=device, conf=conf, batch=batch)
            for k, idx in enumerate(chunked(list(range(len(b.frames))), chunk_frames))]
    todo = [j for j in jobs if not Path(j.out).exists()]
    if len(todo) < len(jobs):
        log(f"detect: resuming, {len(jobs) - len(todo)} of {len(jobs)} chunks already done ({root.name})")
    return _DetectPlan(b, fp, jobs, todo)


def _finish_detect(plan: _DetectPlan, *, seconds: float, executor_name: str, log: Callable[[str], None]) -> int:
    """Join a bundle's chunks, track (ByteTrack, in frame order), write detections.parquet and mark
    the stage done; returns the frames skipped as unreadable."""
    from perception.io import read_detections, write_detections
    from perception.pipeline import Tracker

    b = plan.bundle
    root = Path(b.path)
    dets = [d for j in plan.jobs for d in read_detections(j.out)]
    dets.sort(key=lambda d: d.frame_idx)
    tracker = Tracker(float(b.camera_spec().fps or 5.0))
    dets = [tracker.update(d) for d in dets]
    write_detections(root / "detections.parquet", dets)
    skipped = len(b.frames) - len(dets)
    StageState(root).mark_done("detect", plan.fp, frames=len(dets), skipped=skipped, seconds=seconds, executor=executor_name)
    log(f"detect: {len(dets)} frames ({skipped} skipped), {sum(len(d) for d in dets)} boxes, "
        f"{sum(len(d.codes) for d in dets)} codes -> {root.name}/detections.parquet")
    return skipped


@dataclass(frozen=True)
class FuseJob:
    flight: str  # the flight's first bundle (its continuations are found beside it)
    options: object  # FusionOptions


@dataclass(frozen=True)
class FuseSummary:
    """What a fusion task sends back (its outputs are in the bundle folder: observations.parquet, ...)."""
    bins: int
    tires: int
    clock_offset_s: float
    label_residual_median_px: float
    warnings: tuple[str, ...]
    seconds: float


def fuse_flight(job: FuseJob) -> FuseSummary:
    """Fuse one flight and write its outputs; picklable for Ray (several flights fuse side by side)."""
    from flight.continuation import open_flight
    from slam_fusion.tools.io import fuse_bundle, residual_stats, write_outputs

    t0 = time.perf_counter()
    flight = open_flight(job.flight)
    res = fuse_bundle(flight, job.options)
    write_outputs(flight, res, flight.meta.flight_id)
    med, _ = residual_stats(res.label_residuals_px)
    return FuseSummary(len(res.observations), sum(o.count for o in res.observations), float(res.clock_offset_s), med,
                       tuple(res.warnings), time.perf_counter() - t0)


@dataclass
class _Flight:
    path: Path
    flight: object
    bundles: list
    report: ProcessReport
    fuse_fp: str = ""


def process_bundles(bundle_dirs: list[str | Path], *, erp: str | Path | None = None, executor=None,
                    weights: str | Path | None = None, backend: str = "onnx", device: str = "cpu",
                    conf: float = 0.25, batch: int = 1, chunk_frames: int = 32,
                    fuse_options: "FusionOptions | None" = None, reconcile_options=None,
                    log: Callable[[str], None] = print) -> list[ProcessReport]:
    """detect -> fuse -> reconcile on several recorded flights, one count each, side by side on one
    executor: every flight's perception chunks go to the executor as one batch (on Ray, spread over
    the cluster's workers at once, not flight after flight), then every flight's fusion as one batch
    (one task per flight), then reconciliation flight by flight (one results store). A flight
    interrupted and continued (``BUNDLE.resume1``, ...) is one count: perception per bundle, fusion
    over all of them, outputs in its first bundle's folder. ``reconcile_options``: one dict for
    every flight, or a function of the flight's folder giving its dict. The detect and fuse seconds
    of each report are those of the shared batch."""
    import pandas as pd

    from flight.continuation import flight_bundles, open_flight
    from perception.detector import DEFAULT_WEIGHTS
    from rackscan.executors import LocalExecutor
    from slam_fusion.tools.io import FusionOptions, fusion_inputs

    executor = executor or LocalExecutor()
    ex_name = getattr(executor, "name", "local")
    fo = fuse_options or FusionOptions()
    flights: list[_Flight] = []
    for d in bundle_dirs:
        paths = flight_bundles(d)
        fl = open_flight(d)
        bundles = getattr(fl, "bundles", [fl])
        rep = ProcessReport(bundle=Path(fl.path))
        for bb in bundles:
            ts = [fr.t_ns for fr in bb.frames]
            rep.flight_time_s += (max(ts) - min(ts)) / 1e9 if ts else 0.0
            rep.frames += len(ts)
        if len(paths) > 1:
            log(f"flight of {len(paths)} bundles: {', '.join(p.name for p in paths)} (one count)")
        flights.append(_Flight(Path(fl.path), fl, bundles, rep))

    # 1. perception: every flight's chunks in one batch
    w = Path(weights) if weights else DEFAULT_WEIGHTS.with_suffix(".onnx" if backend == "onnx" else ".pt")
    t0 = time.perf_counter()
    plans = {id(f): [_plan_detect(bb, w=w, backend=backend, device=device, conf=conf, batch=batch,
                                  chunk_frames=chunk_frames, log=log) for bb in f.bundles] for f in flights}
    todo = [j for ps in plans.values() for p in ps for j in p.todo]
    if todo:
        n_fl = sum(any(not p.skipped for p in ps) for ps in plans.values())
        what = flights[0].path.name if len(flights) == 1 else f"{n_fl} flights"
        executor.map(detect_chunk, todo, description=f"detect {what} ({len(todo)} chunks of {chunk_frames} frames)")
    for f in flights:
        for p in plans[id(f)]:
            if not p.skipped:
                f.report.frames_skipped += _finish_detect(p, seconds=time.perf_counter() - t0, executor_name=ex_name, log=log)
        f.report.stages["detect"] = "skipped" if all(p.skipped for p in plans[id(f)]) else "ran"
    t_detect = time.perf_counter() - t0
    for f in flights:
        f.report.seconds["detect"] = t_detect

    # 2. fusion: every flight that needs it, one task each, in one batch
    from dataclasses import asdict

    t0 = time.perf_counter()
    to_fuse = []
    for f in flights:
        # the options, every file fusion reads, as fusion declares them (slam_fusion.tools.io), and
        # its code and the site model's it counts with (tire sizes: warehouse.tires)
        f.fuse_fp = fingerprint("fuse", sorted(asdict(fo).items()), code_digest("slam_fusion", "warehouse"),
                                files=fusion_inputs(f.flight, fo))
        if StageState(f.path).is_done("fuse", f.fuse_fp, [f.path / "observations.parquet"]):
            f.report.stages["fuse"] = "skipped"
            log(f"fuse: up to date ({f.path.name}/observations.parquet)")
        else:
            to_fuse.append(f)
    if to_fuse:
        what = to_fuse[0].path.name if len(to_fuse) == 1 else f"{len(to_fuse)} flights"
        done = executor.map(fuse_flight, [FuseJob(str(f.path), fo) for f in to_fuse], description=f"fuse {what}",
                            uses_gpu=False)
        for f, r in zip(to_fuse, done):
            StageState(f.path).mark_done("fuse", f.fuse_fp, bins=r.bins, clock_offset_s=r.clock_offset_s, seconds=r.seconds)
            f.report.fusion = r
            f.report.stages["fuse"] = "ran"
            log(f"fuse: {f.path.name}: {r.bins} bins observed, {r.tires} tires; clock offset "
                f"{r.clock_offset_s * 1000:+.1f} ms, label residual median {r.label_residual_median_px:.1f} px "
                "-> observations.parquet")
            for msg in r.warnings:
                log(f"fuse: warning: {msg}")
    t_fuse = time.perf_counter() - t0
    for f in flights:
        f.report.seconds["fuse"] = t_fuse

    # 3. reconciliation, flight by flight
    for f in flights:
        root, rep = f.path, f.report
        if erp is not None:
            from reconciliation.pipeline import JUDGED_OBSERVATIONS, reconcile_flight
            from slam_fusion.tools.io import flight_info

            ro = dict((reconcile_options(root) if callable(reconcile_options) else reconcile_options) or {})
            t0 = time.perf_counter()
            out_dir = Path(ro.get("out_dir") or root / "report")
            obs_out = root / "observations.parquet"
            fp = fingerprint("reconcile", sorted((k, str(v)) for k, v in ro.items()), code_digest("reconciliation"),
                             files=[obs_out, Path(erp)] + ([Path(ro["product_master_path"])] if ro.get("product_master_path") else []))
            state = StageState(root)
            if state.is_done("reconcile", fp, [out_dir / "report.xlsx", out_dir / "discrepancies.csv",
                                               out_dir / JUDGED_OBSERVATIONS]):
                rep.stages["reconcile"] = "skipped"
                log(f"reconcile: up to date ({out_dir})")
            else:
                rep.reconciliation = reconcile_flight(root, erp, flight=flight_info(f.flight), **ro)
                state.mark_done("reconcile", fp, reconciliation_id=getattr(rep.reconciliation, "reconciliation_id", None),
                                seconds=time.perf_counter() - t0)
                rep.stages["reconcile"] = "ran"
                log(f"reconcile: report {rep.reconciliation.report_xlsx}")
            rep.seconds["reconcile"] = time.perf_counter() - t0
        pd.DataFrame([{"stage": k, "status": rep.stages[k], "seconds": round(v, 2)} for k, v in rep.seconds.items()]).to_csv(
            root / ".rackscan" / "last_run.csv", index=False)
    return [f.report for f in flights]


def process_bundle(bundle_dir: str | Path, *, erp: str | Path | None = None, executor=None,
                   weights: str | Path | None = None, backend: str = "onnx", device: str = "cpu",
                   conf: float = 0.25, batch: int = 1, chunk_frames: int = 32, fuse_options: "FusionOptions | None" = None,
                   reconcile_options: dict | None = None, log: Callable[[str], None] = print) -> ProcessReport:
    """detect -> fuse -> reconcile on the flight recorded in ``bundle_dir`` (``process_bundles`` of one)."""
    return process_bundles([bundle_dir], erp=erp, executor=executor, weights=weights, backend=backend, device=device,
                           conf=conf, batch=batch, chunk_frames=chunk_frames, fuse_options=fuse_options,
                           reconcile_options=reconcile_options, log=log)[0]


__all__ = ["process_bundle", "process_bundles", "detect_chunk", "DetectChunk", "fuse_flight", "FuseJob", "FuseSummary", "ProcessReport"]
