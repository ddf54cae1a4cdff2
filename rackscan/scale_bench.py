"""``rackscan bench scale``: how the costs grow with the site (reconcile, the store's writes and
reads, the reports, every dashboard page, peak memory) on generated sites of N bins, and with the
flight (fusion over a flight of N frames: ``slam_fusion.synthetic.long_flight``).

A site of N bins: aisles of two facing racks (6 levels, 2 positions per bay, 2.7 m bays, 30 bays
or fewer per rack); stock drawn with a seed (60% of bins hold one of 200 SKUs, 1-8 tires); the
observations are that stock with 3% of bins made short, over, ghost, or moved to an empty bin
(misplaced). Each size runs in a fresh Python process, so its peak resident memory is its own.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BAYS_PER_RACK = 30
LEVELS_M = (0.0, 1.2, 2.4, 3.6, 4.8, 6.0)
POSITIONS = 2
PAGES = ("overview", "live", "rack_view", "discrepancies", "flights", "campaigns", "export", "fleet", "operations_log")


def scale_site_dict(n_bins: int) -> dict:
    from warehouse.site import grid_site_dict

    per_bay = len(LEVELS_M) * POSITIONS
    n_aisles = max(1, math.ceil(n_bins / (2 * BAYS_PER_RACK * per_bay)))
    bays = max(1, round(n_bins / (2 * n_aisles * per_bay)))
    return grid_site_dict(n_aisles, bays, levels_m=LEVELS_M, positions=POSITIONS, bay_m=2.7,
                          name=f"generated site of {n_bins} bins")


def scale_data(site, seed: int = 0):
    """(erp, observations, injected): the ERP stock, what a perfect flight would count after the
    injected changes, and those changes as a world's truth lists them (kind, bin_id, sku, erp_qty,
    other_bin_id)."""
    import pandas as pd

    rng = random.Random(seed)  # nosec B311: a benchmark's seeded draw of stock, not security
    skus = [f"40{i:07d}" for i in range(200)]
    ids = [b.bin_id for b in site.bins]
    stock = {b: (rng.choice(skus), rng.randint(1, 8)) for b in ids if rng.random() < 0.6}
    counted = dict(stock)
    empty = [b for b in ids if b not in stock]
    rng.shuffle(empty)
    injected = []
    for b in rng.sample(sorted(stock), max(4, len(stock) * 3 // 100)):
        sku, q = stock[b]
        kind = rng.choice(["short", "over", "ghost", "misplaced"])
        if kind == "short" and q > 1:
            counted[b] = (sku, q - 1)
        elif kind == "over":
            counted[b] = (sku, q + 1)
        elif kind == "misplaced" and empty:
            dest = empty.pop()
            counted[dest] = (sku, q)
            del counted[b]
            injected.append((kind, b, sku, q, dest))
            continue
        else:
            kind = "ghost"
            del counted[b]
        injected.append((kind, b, sku, q, ""))
    erp = pd.DataFrame([(b, s, q) for b, (s, q) in stock.items()], columns=["bin_id", "sku", "qty"])
    obs = pd.DataFrame([(b, *counted.get(b, ("", 0)), 0.97, 6, "", "") for b in ids],
                       columns=["bin_id", "sku", "count", "confidence", "n_views", "evidence_path", "reason"])
    return erp, obs, pd.DataFrame(injected, columns=["kind", "bin_id", "sku", "erp_qty", "other_bin_id"])


@dataclass(frozen=True)
class ScaleRow:
    bins: int
    aisles: int
    reconcile_s: float
    store_write_s: float
    store_read_s: float
    report_s: float
    slowest_page: str  # on a second visit (the page's cached steps filled)
    slowest_page_s: float | None  # None: pages not rendered at this size
    slowest_first_page: str  # on the first visit after the data changed
    slowest_first_s: float | None
    peak_rss_mb: float
    precision: float
    recall: float


def _time(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def run_size(n_bins: int, pages: bool = True, seed: int = 0) -> dict:
    """One size, in this process (``bench_scale`` runs each in a fresh one)."""
    import resource

    from reconciliation.bench import score as score_kinds
    from reconciliation.diff import reconcile
    from reconciliation.erp import ErpSnapshot
    from reconciliation.report import write_reports
    from reconciliation.store import ResultsStore
    from warehouse.site import site_from_dict

    import yaml

    site_dict = scale_site_dict(n_bins)
    site = site_from_dict(site_dict, source=f"generated site of {n_bins} bins")
    erp, obs, injected = scale_data(site, seed)
    positions = site.bin_centres_site()
    site_bins = [b.bin_id for b in site.bins]
    res, t_rec = _time(lambda: reconcile(erp, obs, site_bins=site_bins, bin_positions=positions))
    score = next(s for s in score_kinds(res.discrepancies, injected) if s.kind == "all")
    with tempfile.TemporaryDirectory(prefix="rackscan-scale-") as tmp:
        tmp = Path(tmp)
        url = f"sqlite:///{tmp / 'scale.db'}"
        store = ResultsStore(url)
        aisle_of = {b.bin_id: b.aisle_id for b in site.bins}
        site_yaml = yaml.safe_dump(site_dict, sort_keys=False)

        def write():
            sid = store.upsert_site(site.spec.name, site_yaml)
            fid = store.upsert_flight(f"scale-{n_bins}", site_id=sid, started_utc=dt.datetime.now(dt.timezone.utc).isoformat(),
                                      n_frames=0, observations=obs)
            snap = ErpSnapshot("erp.csv", f"{n_bins:064d}", erp.assign(description="", lot="", unit_price=None))
            return store.save_reconciliation(fid, store.import_erp_snapshot(snap), res, {}, aisle_of=aisle_of)

        rid, t_write = _time(write)

        def read():
            store.reconciliation_summary(rid)
            store.list_discrepancies(rid)
            store.list_discrepancies(rid, aisle=site.aisle_ids[-1], include_matches=True)
            store.flight_observations(store.reconciliation_flight(rid)["id"])

        _, t_read = _time(read)
        _, t_rep = _time(lambda: write_reports(res, tmp / "report", aisle_of=aisle_of))
        page_times = _render_pages(url, tmp) if pages else {}
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    second = {k: v[1] for k, v in page_times.items()}
    first = {k: v[0] for k, v in page_times.items()}
    slow2 = max(second, key=second.get) if second else ""
    slow1 = max(first, key=first.get) if first else ""
    return asdict(ScaleRow(len(site.bins), len(site.aisle_ids), t_rec, t_write, t_read, t_rep, slow2, second.get(slow2),
                           slow1, first.get(slow1), peak_kb / 1024, score.precision, score.recall))


def _render_pages(url: str, tmp: Path) -> dict[str, tuple[float, float]]:
    """Each dashboard page's (first, second) render time, signed in as a controller, in Streamlit's
    AppTest: the first fills the page's caches (a visit after new data), the second is a visit after."""
    import logging
    import os

    os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # before streamlit is imported in this process
    from streamlit.testing.v1 import AppTest

    from dashboard.access import PAGES as SPECS
    from dashboard.access import Session, utcnow
    from dashboard.auth import add_user
    from dashboard.gate import SESSION_KEY

    users = add_user("bench", "controller", "scale-bench-Password-1", tmp / "users.yaml")
    os.environ.update(RACKSCAN_DB=url, RACKSCAN_USERS=str(users))
    from streamlit.logger import set_log_level

    set_log_level(logging.ERROR)  # "missing ScriptRunContext" from cached steps in AppTest, once per call
    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
    out: dict[str, float] = {}
    known = {p.key for p in SPECS}
    for page in PAGES:
        if page not in known:
            continue
        at = AppTest.from_file(app, default_timeout=600)
        now = utcnow()
        at.session_state[SESSION_KEY] = Session("bench", "scale-bench", now, now)
        at.run()
        at.switch_page(f"views/{page}.py")
        _, first = _time(at.run)
        if at.exception:
            raise RuntimeError(f"dashboard page {page}: {at.exception[0].message}")
        _, second = _time(at.run)
        out[page] = (first, second)
    return out


@dataclass(frozen=True)
class FramesRow:
    frames: int
    bins: int
    flight_min: float
    fuse_s: float
    ms_per_frame: float
    peak_rss_mb: float
    count_accuracy: float  # bins whose fused count is the truth's


def run_frames(n_frames: int, seed: int = 0) -> dict:
    """Fusion (clock offset, drift correction, tracks, bins) over one flight of about ``n_frames``
    frames at 5 fps, in this process; detections projected from the truth (perception not timed)."""
    import resource

    import numpy as np

    from slam_fusion.pipeline import fuse_detections
    from slam_fusion.synthetic import long_flight

    site, cam, traj, frame_t_ns, dets, truth = long_flight(n_frames, seed=seed)
    res, t_fuse = _time(lambda: fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj,
                                                frame_t_ns=frame_t_ns, detections=dets))
    got = {o.bin_id: o.count for o in res.observations}
    right = sum(got.get(b) == n for b, n in truth.items())
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return asdict(FramesRow(len(dets), len(site.bins), (traj.t_ns[-1] - traj.t_ns[0]) / 60e9, t_fuse,
                            1000 * t_fuse / max(len(dets), 1), peak_kb / 1024, right / max(len(truth), 1)))


def _fresh(args: list[str], what: str) -> dict:
    """``python -m rackscan.scale_bench ARGS`` in a fresh interpreter; its last line, as JSON."""
    import json
    import subprocess  # nosec B404: runs this module in a fresh interpreter
    import sys

    from reconciliation.errors import ReconciliationError

    r = subprocess.run([sys.executable, "-m", "rackscan.scale_bench", *args], capture_output=True, text=True)  # nosec B603
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReconciliationError(f"bench scale at {what}: the measuring process failed ({last})")
    return json.loads(lines[-1])


def bench_scale(sizes: list[int], *, pages_up_to: int, on_row=None) -> list[ScaleRow]:
    """Each size in a fresh Python process (``python -m rackscan.scale_bench N PAGES``), one after the other."""
    rows = []
    for n in sizes:
        row = ScaleRow(**_fresh([str(n), str(int(n <= pages_up_to))], f"{n} bins"))
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def bench_frames(counts: list[int], *, on_row=None) -> list[FramesRow]:
    """Fusion over flights of each length, each in a fresh Python process (``... frames N``)."""
    rows = []
    for n in counts:
        row = FramesRow(**_fresh(["frames", str(n)], f"{n} frames"))
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


if __name__ == "__main__":  # one size (or flight length), measured in this fresh process: its row as JSON
    import json
    import sys

    if sys.argv[1] == "frames":
        print(json.dumps(run_frames(int(sys.argv[2]))))
    else:
        print(json.dumps(run_size(int(sys.argv[1]), pages=sys.argv[2] == "1")))
