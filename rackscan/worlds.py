"""Scoring the whole pipeline on worlds of a family it was not tuned on (``rackscan bench worlds``).

For each world: draw it (``datasets.family``), plan it (the planner may refuse a store too dark
to count: then none of its bins is counted, all go to recount), fly it with the synthetic
recorder, run detect -> fuse -> reconcile, and score against the world's truth. A world's result
is saved once (``world.json`` beside its flight) and reloaded while the family file and the code
of the stages are unchanged.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

CONFIDENT = 0.9  # "confidently wrong": wrong at this confidence or above
MIN_CONFIDENCE = 0.8  # below it a bin goes to recount (reconciliation's needs_recount)


@dataclass(frozen=True, kw_only=True)
class WorldRun:
    world: int
    split: str
    name: str
    summary: str  # what the world is, in a line
    refused: str = ""  # the planner's reason, when it would not fly the store
    bins: int = 0  # bins on the flown faces
    observed: int = 0
    count_right: int = 0
    sku_right: int = 0
    recount: int = 0  # observed bins under MIN_CONFIDENCE
    confidently_wrong: int = 0
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, count and SKU right) per observed bin
    wrong: list[dict] = field(default_factory=list)  # the wrong bins, for a look
    kinds: dict[str, list[int]] = field(default_factory=dict)  # kind -> [truth, predicted, true positive]
    flight_s: float = 0.0
    processing_s: float = 0.0
    frames: int = 0

    @property
    def count_accuracy(self) -> float:
        return self.count_right / self.observed if self.observed else float("nan")

    @property
    def sku_accuracy(self) -> float:
        return self.sku_right / self.observed if self.observed else float("nan")


def describe_world(sc) -> str:
    s = sc.spec
    z = s.site_size
    geo = (f"{z.layout} {z.bays_per_face}x{z.bay_width_m:.1f} m bays, {z.levels} levels of {z.level_height_m:.1f} m, "
           f"{z.positions_per_bay}/bay, aisle {z.aisle_width_m:.1f} m") if z else f"site {s.site}"
    lux = f"{s.lighting.lux:.0f} lux" if s.lighting.lux else f"gain {s.lighting.gain_min:.2f}-{s.lighting.gain_max:.2f}"
    return f"{geo}; {lux}; {len(s.catalogue)} SKUs"


def _key(fam_path: Path, k: int, faces: str) -> str:
    import hashlib

    from rackscan.stages import code_digest

    parts = [Path(fam_path).read_bytes(), str(k).encode(), faces.encode()]
    parts += [code_digest(p).encode() for p in ("datasets", "flight", "perception", "slam_fusion", "reconciliation", "warehouse")]
    return hashlib.sha256(b"|".join(parts)).hexdigest()[:16]


def run_world(fam, k: int, out_root: Path, *, executor=None, fresh: bool = False, one_face: bool = False,
              log: Callable[[str], None] = print, on_frame: Callable[[int, int], None] | None = None) -> WorldRun:
    """Draw, plan, fly, process and score world ``k`` of ``fam``; the result is kept in ``out_root/world-k``."""
    import pandas as pd

    from datasets.family import world_scenario
    from datasets.synthflight import record_synthetic_flight
    from datasets.world import build_world
    from flight.errors import FlightError
    from rackscan.cmd_bench_scenario import score_counts, truth_by_bin
    from rackscan.process import process_bundle
    from rackscan.stages import StageState
    from reconciliation.bench import bench_world

    sc = world_scenario(fam, k)
    world = build_world(sc)
    site = world.site
    faces = [f.face_id for f in site.faces][: 1 if one_face else None]
    root = Path(out_root) / f"world-{k}"
    key = _key(fam.source, k, ",".join(faces))
    saved = root / "world.json"
    if not fresh and saved.exists():
        data = json.loads(saved.read_text())
        if data.get("key") == key:
            data.pop("key")
            data["outcomes"] = [tuple(x) for x in data["outcomes"]]
            return WorldRun(**data)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    base = dict(world=k, split=fam.split_of(k), name=sc.spec.name, summary=describe_world(sc))
    bins = [b.bin_id for f in faces for b in site.face(f).bins]
    try:
        fr = record_synthetic_flight(world, root / "flight", face_ids=faces, on_frame=on_frame)
    except FlightError as exc:  # the planner refused the store: nothing counted, every bin to recount
        run = WorldRun(**base, refused=str(exc), bins=len(bins))
        _save(saved, run, key)
        return run
    erp = root / "erp_stock.csv"
    erp.write_text(world.erp.to_csv(index=False))
    rep = process_bundle(fr.bundle, erp=erp, executor=executor, log=log,
                         reconcile_options={"out_dir": root / "report", "db_url": None, "min_confidence": MIN_CONFIDENCE})
    st = StageState(fr.bundle)
    proc_s = sum(float(st.info(s).get("seconds", 0.0)) for s in ("detect", "fuse", "reconcile"))
    obs = pd.read_parquet(fr.bundle / "observations.parquet")
    obs["sku"] = obs["sku"].fillna("").astype(str)
    truth = truth_by_bin(world.stock.assign(sku=world.stock["sku"].fillna("").astype(str)))
    n_obs, ok_c, ok_s = score_counts(obs, world.stock)
    outcomes, wrong = [], []
    for r in obs.itertuples():
        t_count, t_sku = int(truth["count"].get(r.bin_id, 0)), truth["sku"].get(r.bin_id, "")
        right = int(r.count) == t_count and (r.sku or "") == t_sku
        outcomes.append((float(r.confidence), bool(right)))
        if not right:
            wrong.append({"bin_id": r.bin_id, "count": int(r.count), "true_count": t_count, "sku": r.sku or "",
                          "true_sku": t_sku, "confidence": round(float(r.confidence), 3), "reason": r.reason or ""})
    scoped = set(bins)
    disc = world.discrepancies
    in_scope = disc[disc.bin_id.isin(scoped) & disc.other_bin_id.fillna("").map(lambda b: not b or b in scoped)]
    scores = bench_world(type("W", (), {"erp": world.erp[world.erp.Bin.isin(scoped)], "site": site,
                                        "discrepancies": in_scope, "stock": world.stock}), obs, min_confidence=MIN_CONFIDENCE)
    run = WorldRun(**base, bins=len(bins), observed=n_obs, count_right=ok_c, sku_right=ok_s,
                   recount=sum(c < MIN_CONFIDENCE for c, _ in outcomes),
                   confidently_wrong=sum(c >= CONFIDENT and not ok for c, ok in outcomes), outcomes=outcomes,
                   wrong=wrong, kinds={s.kind: [s.truth, s.predicted, s.true_positive] for s in scores},
                   flight_s=rep.flight_time_s, processing_s=proc_s, frames=rep.frames)
    _save(saved, run, key)
    return run


def _save(path: Path, run: WorldRun, key: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**asdict(run), "key": key}, indent=1))
    tmp.replace(path)


@dataclass(frozen=True, kw_only=True)
class Pooled:
    worlds: int
    refused: int
    bins: int
    observed: int
    count_right: int
    sku_right: int
    recount: int
    confidently_wrong: int
    median_count_accuracy: float
    worst_count_accuracy: float
    worst_world: int | None
    kinds: dict[str, list[int]]
    ece: float
    brier: float
    flight_s: float
    processing_s: float


def pool(runs: list[WorldRun]) -> Pooled:
    import numpy as np

    from slam_fusion.core.calibration import reliability

    flown = [r for r in runs if not r.refused and r.observed]
    acc = [r.count_accuracy for r in flown]
    kinds: dict[str, list[int]] = {}
    for r in flown:
        for kd, v in r.kinds.items():
            kinds[kd] = [a + b for a, b in zip(kinds.get(kd, [0, 0, 0]), v)]
    conf = np.array([c for r in flown for c, _ in r.outcomes])
    ok = np.array([o for r in flown for _, o in r.outcomes])
    ece, brier = reliability(conf, ok) if len(conf) else (float("nan"), float("nan"))
    worst = min(flown, key=lambda r: r.count_accuracy) if flown else None
    return Pooled(worlds=len(runs), refused=sum(bool(r.refused) for r in runs), bins=sum(r.bins for r in runs),
                  observed=sum(r.observed for r in flown), count_right=sum(r.count_right for r in flown),
                  sku_right=sum(r.sku_right for r in flown), recount=sum(r.recount for r in flown),
                  confidently_wrong=sum(r.confidently_wrong for r in flown),
                  median_count_accuracy=float(np.median(acc)) if acc else float("nan"),
                  worst_count_accuracy=worst.count_accuracy if worst else float("nan"),
                  worst_world=worst.world if worst else None, kinds=kinds, ece=ece, brier=brier,
                  flight_s=sum(r.flight_s for r in flown), processing_s=sum(r.processing_s for r in flown))


def reliability_plot(runs: list[WorldRun], path: Path) -> Path:
    """Reliability diagram of the pooled bins (confidence band -> share right)."""
    import numpy as np

    from rackscan.cmd_bench_calibration import _diagram

    conf = np.array([c for r in runs for c, _ in r.outcomes])
    ok = np.array([o for r in runs for _, o in r.outcomes])
    _diagram(path, conf, ok, None)
    return path


def worlds_table(runs: list[WorldRun]):
    import pandas as pd

    return pd.DataFrame([{"world": r.world, "split": r.split, "bins": r.bins, "observed": r.observed,
                          "count_acc": r.count_accuracy, "sku_acc": r.sku_accuracy, "recount": r.recount,
                          "conf_wrong": r.confidently_wrong, "refused": bool(r.refused), "flight_s": round(r.flight_s),
                          "proc_s": round(r.processing_s), "summary": r.summary} for r in runs])

