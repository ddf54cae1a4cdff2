"""Live counting: perception and fusion while the flight is being recorded (``rackscan fly --live``).

A worker process of its own (``python -m rackscan.live_count BUNDLE --db URL``), so the recorder
never waits for perception: it reads the frames the recorder has written so far, detects and
reads codes on each new one, and learns from the results store how far the mission has got (the
live feed's mission item). A bin is final for the live view once every pass that sees it is
flown; then the flight so far (every frame processed up to now, the telemetry so far) is fused,
and the newly final bins' counts, each with its ERP quantity and discrepancy kind, are written to
the store as provisional rows. If perception falls behind, frames wait on disk (nothing is lost)
and are processed after. When the recorder has closed the bundle and every frame is processed,
the rest of the bins are written and the worker exits. The offline pass over the landed flight
(``rackscan process``) replaces the provisional counts; ``compare_with_final`` lists what changed.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class LiveCountOptions:
    weights: str | None = None  # default: the shipped detector (ONNX)
    backend: str = "onnx"
    conf: float = 0.25
    poll_s: float = 0.5  # look for new frames and progress this often when idle
    batch_frames: int = 8  # frames detected between two looks at the progress
    min_fuse_gap_s: float = 2.0  # fuse at most this often (bins become final a pass at a time)
    catalogue: str | None = None  # GTIN -> SKU (default: the bundle's catalogue.csv when it has one)
    erp: str | None = None  # the ERP export the provisional bins are compared with
    min_confidence: float = 0.8
    wait_for_bundle_s: float = 120.0


class LiveCounter:
    """One flight's live count; ``step`` does one round, ``run`` until the flight is counted."""

    def __init__(self, bundle_dir: str | Path, db_url: str, opts: LiveCountOptions = LiveCountOptions(),
                 log: Callable[[str], None] = print) -> None:
        from reconciliation.store import ResultsStore

        self.path = Path(bundle_dir)
        self.opts = opts
        self.log = log
        self.store = ResultsStore(db_url)
        self.dets: list = []  # FrameDetections of the frames processed, in frame order
        self.n_done = 0  # frames processed (of the bundle's frames, in order)
        self.written: set[str] = set()
        self._needs: dict[str, int] = {}  # bin -> frames recorded when it became final
        self.max_queued = 0
        self._det = None
        self._tracker = None
        self._erp = None
        self._last_fuse = 0.0
        self.live_id: int | None = None

    # -- inputs --------------------------------------------------------------------------------
    def _bundle(self):
        from flight.bundle import Bundle
        from flight.errors import FlightError

        if not (self.path / "flight.json").exists():
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a partial last line of frames.csv: the recorder is writing it
                return Bundle(self.path)
        except FlightError:
            return None

    def _detector(self):
        if self._det is None:
            from perception.detector import DEFAULT_WEIGHTS, Detector

            w = self.opts.weights or str(DEFAULT_WEIGHTS.with_suffix(".onnx" if self.opts.backend == "onnx" else ".pt"))
            self._det = Detector(w, backend=self.opts.backend, device="cpu", conf=self.opts.conf)
        return self._det

    def _erp_rows(self, site):
        if self.opts.erp is None:
            return None
        if self._erp is None:
            from reconciliation.erp import load_erp

            self._erp = load_erp(self.opts.erp, site=site).rows
        return self._erp

    # -- one round -----------------------------------------------------------------------------
    def step(self) -> bool:
        """Detect up to ``batch_frames`` new frames; write the bins that became final. True when
        the flight is over and every bin is written."""
        from flight.errors import FlightError
        from perception.pipeline import run_perception
        from reconciliation.live import find_live_flight, last_pass_of, live_flight, live_samples

        b = self._bundle()
        if b is None:
            return False
        todo = list(range(self.n_done, min(len(b.frames), self.n_done + self.opts.batch_frames)))
        self.max_queued = max(self.max_queued, len(b.frames) - self.n_done)
        if todo:
            det = self._detector()

            def frames():  # as `rackscan process` reads them (grey for grey weights), so live and final agree
                for i in todo:
                    rec = b.frames[i]
                    try:
                        yield rec.frame_idx, rec.t_ns, b.read_frame(i, grey=det.takes_grey)
                    except FlightError:  # a frame the recorder could not write: skipped, as offline
                        continue
            if self._tracker is None:  # over every frame, in order, as offline (kept across rounds)
                from perception.pipeline import Tracker

                self._tracker = Tracker(float(b.camera_spec().fps or 5.0))
            # codes read inline: the recorder needs the other core (a reader thread measured no faster
            # live, docs/benchmarks.md, Counting while flying)
            self.dets += [self._tracker.update(d)
                          for d in run_perception(frames(), det, track=False, decode_threads=0)]
            self.n_done = todo[-1] + 1
        closed = b.meta.status != "recording"
        if self.live_id is None:
            self.live_id = find_live_flight(self.store, self.path.name)
            if self.live_id is None:
                if closed:  # the live feed never started (the flight says why): nothing to write to
                    self.log(f"live: no live flight {self.path.name!r} in the store; nothing counted live")
                return closed
        if closed and not b.frames:
            return True  # the flight ended before a frame was recorded (refused, or failed at take-off)
        fl = live_flight(self.store, self.live_id)
        sm = live_samples(self.store, self.live_id)
        seq = int(sm["mission_seq"].iloc[-1]) if len(sm) else 0
        last_of = last_pass_of(fl["plan"])
        all_in = self.n_done == len(b.frames)
        final = {x for x, q in last_of.items() if q < seq} if not closed else set(last_of)
        for x in final - self.written:  # the frames recorded when it became final must all be processed
            self._needs.setdefault(x, len(b.frames))
        ready = {x for x in final - self.written if self.n_done >= self._needs[x]}
        if closed and all_in:
            ready = set(last_of) - self.written
        elif not ready or time.monotonic() - self._last_fuse < self.opts.min_fuse_gap_s:
            return False
        if ready:
            try:
                self._write(b, sorted(ready), fl, sm, last_of)
            except Exception as exc:  # e.g. too little of the flight yet to fuse: try again with more
                if closed:
                    raise
                self._last_fuse = time.monotonic()
                self.log(f"live: fusion of the flight so far failed ({type(exc).__name__}: {exc}); trying again later")
                return False
        return closed and all_in and not (set(last_of) - self.written)

    def _fuse(self, b, bins: list[str]):
        """The flight so far fused for the faces of ``bins`` only: the clock offset and the drift
        are solved on every frame processed, the counting done on the frames near those faces (a
        face's bins count as the whole flight's fusion counts them), so a fusion costs what the
        faces cost, not what the flight so far does."""
        from slam_fusion.tools.io import FusionOptions, fuse_frames_so_far

        site = b.site()
        faces = {site.bin(x).face_id for x in bins}
        return fuse_frames_so_far(b, self.dets, FusionOptions(catalogue=self.opts.catalogue),  # default: BUNDLE/catalogue.csv
                                  only_faces=faces)

    def _write(self, b, bins: list[str], fl: dict, sm, last_of: dict[str, int]) -> None:
        import pandas as pd

        from reconciliation.diff import reconcile
        from reconciliation.live import as_utc, pass_end_at, write_live_bins

        t0 = time.monotonic()
        res = self._fuse(b, bins)
        self._last_fuse = time.monotonic()
        want = set(bins)
        obs = pd.DataFrame([(o.bin_id, o.sku, o.count, o.confidence, o.n_views, "", o.reason, o.count_confidence,
                             o.n_serials, o.count_lo, o.count_hi, ";".join(o.size_fits))
                            for o in res.observations if o.bin_id in want],  # None: reconcile takes the bin's
                           columns=["bin_id", "sku", "count", "confidence", "n_views", "evidence_path", "reason",
                                    "count_confidence", "n_serials", "count_lo", "count_hi", "size_fits"])
        site = b.site()
        erp = self._erp_rows(site)
        kinds: dict[str, str] = {}
        erp_qty: dict[str, int] = {}
        if erp is not None:
            rows = erp[erp["bin_id"].isin(want)]
            r = reconcile(rows, obs, site_bins=bins, scanned_bins=want, min_confidence=self.opts.min_confidence)
            order = ["misplaced", "ghost", "unexpected_sku", "short", "over", "needs_recount", "not_scanned", "match"]
            d = r.discrepancies
            for x in bins:
                ks = set(d.loc[d["bin_id"] == x, "kind"])
                kinds[x] = next((k for k in order if k in ks), "match")
            erp_qty = rows.groupby("bin_id")["qty"].sum().astype(int).to_dict()
        out = []
        for x in bins:
            o = obs[obs["bin_id"] == x]
            ended = pass_end_at(sm, last_of[x]) if len(sm) else None
            out.append({"bin_id": x, "count": int(o["count"].sum()), "sku": ", ".join(sorted(set(o["sku"]) - {""})),
                        "confidence": float(o["confidence"].min()) if len(o) else 0.0,
                        "erp_qty": (int(erp_qty.get(x, 0)) if erp is not None else None),
                        "kind": kinds.get(x, "counted"),
                        "latency_s": None if ended is None else max(0.0, (pd.Timestamp.now(tz="UTC") - as_utc(ended)).total_seconds()),
                        "frames_fused": len(self.dets)})
        write_live_bins(self.store, self.live_id, out)
        self.written |= want
        self.log(f"live: {len(bins)} bins final ({len(self.written)} of {len(last_of)}), fused {len(self.dets)} frames "
                 f"in {time.monotonic() - t0:.1f} s")

    def run(self, *, timeout_s: float = 24 * 3600) -> None:
        deadline = time.monotonic() + timeout_s
        start = time.monotonic()
        while time.monotonic() < deadline:
            b_frames = self.n_done
            if self.step():
                b = self._bundle()
                self.log(f"live: done: {self.n_done} of {len(b.frames) if b else self.n_done} frames processed, "
                         f"{self.max_queued} queued at most, {len(self.written)} bins written")
                return
            if self.n_done == b_frames:  # nothing new to detect: wait for the recorder
                time.sleep(self.opts.poll_s)
            if self._bundle() is None and time.monotonic() - start > self.opts.wait_for_bundle_s:
                raise TimeoutError(f"{self.path}: no flight bundle after {self.opts.wait_for_bundle_s:.0f} s")


def compare_with_final(store, live_id: int, observations) -> tuple[int, int, list[str]]:
    """(bins equal, bins compared, bins whose count changed) of the provisional rows against the
    offline pass's observations (bin_id, count)."""
    from reconciliation.live import live_bins

    prov = live_bins(store, live_id).set_index("bin_id")["count"]
    final = observations.groupby("bin_id")["count"].sum() if len(observations) else {}
    changed = [b for b, c in prov.items() if int(final.get(b, 0)) != int(c)]
    return len(prov) - len(changed), len(prov), changed


def replayable_live_bins(bundle_dir: str | Path, store, live_id: int):
    """The live flight's provisional rows, refused in one line when they cannot be replayed."""
    from flight.errors import FlightError
    from reconciliation.live import live_bins

    lb = live_bins(store, live_id)
    if not len(lb):
        raise FlightError(f"{bundle_dir}: the live count wrote no bins; nothing to replay")
    if lb["frames_fused"].isna().any():
        raise FlightError(f"{bundle_dir}: the store's live bins do not say how many frames each was fused from "
                          "(written before rackscan kept it); expected a live flight flown with this version")
    return lb


def replay_live_fusions(bundle_dir: str | Path, store, live_id: int, *, catalogue: str | None = None):
    """The live counter's fusions of a landed flight done again offline, with today's code: each
    bin the live count wrote is fused from the frames it had fused then (``frames_fused``: the
    first K frames' detections, as the offline pass's detections.parquet holds them), for that
    bin's face, as ``LiveCounter`` does. Returns one row per bin (bin_id, frames_fused, provisional,
    replayed). Replaying a run whose counts changed tells a change of fusion from a flight that
    went otherwise, without flying it again."""
    from flight.bundle import Bundle
    from flight.errors import FlightError
    from perception.errors import PerceptionError
    from perception.io import read_detections
    from slam_fusion.tools.io import FusionOptions, fuse_frames_so_far

    b = Bundle(bundle_dir)
    lb = replayable_live_bins(bundle_dir, store, live_id)
    path = Path(bundle_dir) / "detections.parquet"
    if not path.exists():
        raise FlightError(f"{path}: missing; run `rackscan process {bundle_dir}` first (the replay reuses its detections)")
    try:
        dets = sorted(read_detections(path), key=lambda d: d.frame_idx)
    except PerceptionError as exc:
        raise FlightError(str(exc)) from None
    site = b.site()
    replayed: dict[str, int] = {}
    for k, group in lb.groupby("frames_fused", sort=True):
        bins = set(group["bin_id"])
        res = fuse_frames_so_far(b, dets[:int(k)], FusionOptions(catalogue=catalogue),
                                 only_faces={site.bin(x).face_id for x in bins})
        for x in bins:
            replayed[x] = 0
        for o in res.observations:
            if o.bin_id in bins:
                replayed[o.bin_id] += int(o.count)
    out = lb[["bin_id", "frames_fused", "count"]].rename(columns={"count": "provisional"}).copy()
    out["frames_fused"] = out["frames_fused"].astype(int)
    out["replayed"] = [replayed[x] for x in out["bin_id"]]
    return out.reset_index(drop=True)


if __name__ == "__main__":  # the worker `rackscan fly --live` starts
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m rackscan.live_count")
    ap.add_argument("bundle")
    ap.add_argument("--db", required=True)
    ap.add_argument("--erp")
    ap.add_argument("--catalogue")
    ap.add_argument("--weights")
    a = ap.parse_args()
    try:
        LiveCounter(a.bundle, a.db, LiveCountOptions(erp=a.erp, catalogue=a.catalogue, weights=a.weights),
                    log=lambda s: print(s, flush=True)).run()
    except Exception as exc:  # one line, as every rackscan error
        print(f"error: live count: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
