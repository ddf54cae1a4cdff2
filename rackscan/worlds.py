"""Scoring the whole pipeline on worlds of a family it was not tuned on (``rackscan bench worlds``).

For each world: draw it (``datasets.family``), plan it (the planner may refuse a store too dark
to count: then none of its bins is counted, all go to recount), fly it with the synthetic
recorder, run detect -> fuse -> reconcile, and score against the world's truth. The recorded
flight is kept while what its frames are made of is unchanged (``flight_key``: the world as the
camera sees it, the passes flown, the code that renders and records);
each processing stage is skipped while its inputs, options and code are (``rackscan.stages``), so
a new detector or fusion rule re-runs only what it changes. The scores go to ``world.json``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

CONFIDENT = 0.9  # "confidently wrong": wrong at this confidence or above
MIN_CONFIDENCE = 0.8  # below it a bin goes to recount (reconciliation's needs_recount)
LIGHT_BANDS_LUX = (35.0, 120.0)  # the bench's light bands: a dim store, a dim one, a lit one
LABEL_KINDS = ("product_label", "pallet_label")  # what names a bin's SKU to a camera


@dataclass(frozen=True, kw_only=True)
class WorldRun:
    world: int
    split: str
    name: str
    summary: str  # what the world is, in a line
    lux: float = 0.0  # the store's light as its scenario gives it; 0 where it gives a gain instead
    refused: str = ""  # the planner's reason, when it would not fly the store
    bins: int = 0  # bins on the flown faces
    observed: int = 0
    count_right: int = 0
    sku_right: int = 0
    labelled: int = 0  # observed bins holding tires with at least one label: a SKU a camera can read
    labelled_sku_right: int = 0
    unlabelled: int = 0  # observed bins holding tires none of which carries a label: no camera reads their SKU
    unlabelled_recount: int = 0  # of those, sent to recount (under MIN_CONFIDENCE)
    unlabelled_sized: int = 0  # of those, named by their size (fusion's ``sku_by_size``)
    unlabelled_sized_right: int = 0  # ... and named right
    unlabelled_erp: int = 0  # of those, named by the ERP's SKU, their size fitting it (``sku_as_erp``)
    unlabelled_erp_right: int = 0  # ... and named right
    recount: int = 0  # observed bins under MIN_CONFIDENCE
    confidently_wrong: int = 0
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, count and SKU right) per observed bin
    count_outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (count confidence, count right) per observed bin
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


def labelled_bins(objects) -> set[str]:
    """The bins with at least one label on their goods (a tire's or a pallet's, torn and faded ones
    too): the world's truth, not what the flight saw. A bin whose tires all came without a label
    (the family's ``product_label_rate``) has a SKU no camera can read; it can only go to recount."""
    return {o.bin_id for o in objects if o.kind in LABEL_KINDS}


def discrepancies_in_scope(disc, scoped: set[str], labelled: set[str] | None = None):
    """The world's injected discrepancies as a flight over the bins ``scoped`` can see them: those of
    its bins, and goods moved across its edge judged from the side it flew. Moved out of it (to a bin
    not flown), the bin they left is empty while the ERP lists them: a ghost. Moved into it, they
    stand where the ERP, as far as the flight covers it, lists them nowhere: an unknown SKU.

    Goods moved between two flown bins whose new bin holds no label cannot be told by a label to be
    the goods the ERP lists elsewhere: unless the flight named them by their size, it sees the bin
    they left empty (a ghost) and goods of unread SKU where they stand (an unknown SKU), and is judged
    on those two. A substitution (the ERP lists another SKU where goods stand) in such a bin is out of
    its sight altogether: the count agrees, and only a recount tells the SKU. ``labelled``: the bins
    whose goods the flight can name, those carrying a label
    (``labelled_bins``) and those it named by size (fusion's ``sku_by_size``: then it is judged on
    the move). Without ``labelled`` every move is a move."""
    import pandas as pd

    rows = []
    for r in disc.to_dict("records"):
        src_in = r["bin_id"] in scoped
        dst_in = r["kind"] == "misplaced" and r["other_bin_id"] in scoped  # NaN where none: never in scoped
        ghost = {**r, "kind": "ghost", "other_bin_id": ""}
        unknown = {**r, "kind": "unknown_sku", "bin_id": r["other_bin_id"], "erp_qty": 0, "true_qty": r["erp_qty"],
                   "other_bin_id": ""}
        if r["kind"] == "misplaced" and src_in and not dst_in:
            rows.append(ghost)
        elif dst_in and not src_in:
            rows.append(unknown)
        elif dst_in and labelled is not None and r["other_bin_id"] not in labelled:
            rows += [ghost, unknown]
        elif r["kind"] == "substituted" and labelled is not None and r["bin_id"] not in labelled:
            continue  # goods no label or size names: nothing tells the ERP's SKU from the one there
        elif src_in:
            rows.append(r)
    return pd.DataFrame(rows, columns=disc.columns)


def pick_worlds(fam, split: str, ks: list[int]) -> list[int]:
    """Worlds ``ks`` of ``fam`` (sorted, each once), each checked to lie in ``split``, so a test world
    never slips into a dev run."""
    from datasets.errors import DatasetError

    if split not in fam.splits:
        raise DatasetError(f"--split {split!r}; expected one of {list(fam.splits)}")
    lo, hi = fam.splits[split]
    for k in ks:
        if not lo <= k <= hi:
            raise DatasetError(f"--world {k}: not a {split} world; expected {lo}-{hi}")
    return sorted(set(ks))


def describe_world(sc) -> str:
    s = sc.spec
    z = s.site_size
    geo = (f"{z.layout} {z.bays_per_face}x{z.bay_width_m:.1f} m bays, {z.levels} levels of {z.level_height_m:.1f} m, "
           f"{z.positions_per_bay}/bay, aisle {z.aisle_width_m:.1f} m") if z else f"site {s.site}"
    lux = f"{s.lighting.lux:.0f} lux" if s.lighting.lux else f"gain {s.lighting.gain_min:.2f}-{s.lighting.gain_max:.2f}"
    return f"{geo}; {lux}; {len(s.catalogue)} SKUs"


def flight_key(world, faces: list[str]) -> str:
    """What world's recorded flight over ``faces`` depends on, and nothing else: the world as the
    camera sees it (its scenario but the ERP's discrepancy rates, its site, its scene objects, stock
    and catalogue), the passes the planner flies over those faces with their speed, exposure and
    standoff (or its refusal), and the code that renders and records them (``datasets`` but the
    modules whose results are hashed here, ``warehouse``, ``flight.bundle``). The planner's other
    work (a sortie's way home) and the ERP's side of the world change no frame, so they keep the
    flight: an edit to the planner re-renders no world whose passes it left as they were."""
    import hashlib

    from datasets.synthflight import plan_world, scan_passes
    from flight.errors import FlightError
    from rackscan.stages import code_digest

    import flight.bundle

    spec = world.scenario.spec.model_dump(mode="json")
    spec.pop("discrepancies", None)
    try:
        planned = plan_world(world, faces)
        plan = repr((scan_passes(world, faces, planned=planned), planned.speed_m_s, planned.exposure_s, planned.exposure,
                     planned.standoff_m, sorted(planned.standoff_by_aisle.items())))
    except FlightError as exc:
        plan = f"refused: {exc}"
    parts = [json.dumps(spec, sort_keys=True), json.dumps(world.site.spec.model_dump(mode="json"), sort_keys=True),
             repr(world.objects), world.stock.to_csv(index=False), world.catalogue.to_csv(index=False), ",".join(faces),
             plan, repr(world.default_standoff_m()),
             json.dumps(world.camera.model_dump(mode="json"), sort_keys=True),
             code_digest("datasets", "warehouse", leave_out=("datasets.family", "datasets.scenario", "datasets.world")),
             Path(flight.bundle.__file__).read_text()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def record_world(fam, k: int, out_root: Path, *, one_face: bool = False, fresh: bool = False,
                 on_frame: Callable[[int, int], None] | None = None):
    """World ``k`` and its recorded flight (``out_root/world-k/flight``), recorded only when missing or
    stale; returns (scenario, world, faces, bundle or None, refusal)."""
    from datasets.family import world_scenario
    from datasets.synthflight import record_synthetic_flight
    from datasets.world import build_world
    from flight.errors import FlightError

    sc = world_scenario(fam, k)
    world = build_world(sc)
    faces = [f.face_id for f in world.site.faces][: 1 if one_face else None]
    root = Path(out_root) / f"world-{k}"
    key = flight_key(world, faces)
    kept = root / "flight.key"
    if not fresh and kept.exists() and kept.read_text() == key:
        refused = (root / "refused.txt").read_text() if (root / "refused.txt").exists() else ""
        if not refused:
            refresh_truth(world, root / "flight")
        return sc, world, faces, None if refused else root / "flight", refused
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        fr = record_synthetic_flight(world, root / "flight", face_ids=faces, on_frame=on_frame)
        bundle, refused = fr.bundle, ""
    except FlightError as exc:  # the planner refused the store: nothing counted, every bin to recount
        bundle, refused = None, str(exc)
        (root / "refused.txt").write_text(refused)
    kept.write_text(key)
    return sc, world, faces, bundle, refused


def refresh_truth(world, bundle: Path) -> None:
    """The world's discrepancy list in a flight kept (``truth/discrepancies.csv``): the ERP's side
    of the world is no part of the flight's key, so the list is written again where it changed,
    whole (a new file renamed over the old, which leaves a hard-linked copy as it was)."""
    path = Path(bundle) / "truth" / "discrepancies.csv"
    text = world.discrepancies.to_csv(index=False)
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    tmp.replace(path)


# what a recorded flight holds before any stage runs: the bundle's own files (flight.bundle) and the
# synthetic recorder's truth and catalogue; every other file in it is a stage's output
RECORDED = ("flight.json", "frames.csv", "frames", "site.yaml", "telemetry.tlog", "poses.csv", "catalogue.csv", "truth")


def weights_root(out_root: Path, weights: Path) -> Path:
    """Where worlds processed with candidate detector ``weights`` live: ``out_root/weights-<sha256[:10]>``,
    named by the file's bytes, so weights retrained over the same path get a folder of their own."""
    import hashlib

    return Path(out_root) / f"weights-{hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:10]}"


def _link_or_copy(src: str, dst: str) -> str:
    import os

    try:
        os.link(src, dst)
    except OSError:  # another disk, or one without hard links
        shutil.copy2(src, dst)
    return dst


def link_flight(src: Path, dst: Path) -> None:
    """The files flight ``src`` recorded (``RECORDED``), in ``dst``, hard-linked where the disk allows
    (no stage writes a recorded file, so both folders keep the same bytes without a second copy of the
    frames), copied otherwise. What its stages computed is left behind: ``dst`` is processed afresh.
    ``dst`` appears whole or not at all."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(dst.name + ".linking")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in RECORDED:
        p = src / name
        if p.is_dir():
            shutil.copytree(p, tmp / name, copy_function=_link_or_copy)
        elif p.exists():
            _link_or_copy(str(p), str(tmp / name))
    shutil.rmtree(dst, ignore_errors=True)
    tmp.replace(dst)


def check_candidate_weights(weights: Path) -> None:
    """Candidate detector weights as ``rackscan bench worlds --weights`` takes them, or a one-line
    ``DatasetError``: an .onnx file with the ``train_config.yaml`` ``rackscan train`` writes beside it
    (it says whether the weights take grey frames; without it they would be fed colour unnoticed)."""
    from datasets.errors import DatasetError

    weights = Path(weights)
    if not weights.is_file():
        raise DatasetError(f"--weights {weights}: no such file; expected detector weights (.onnx) rackscan train wrote")
    if weights.suffix != ".onnx":
        raise DatasetError(f"--weights {weights}: a {weights.suffix or 'suffix-less'} file; expected the .onnx "
                           "rackscan train exports (the bench detects with ONNX Runtime, as the pipeline does)")
    if not (weights.parent / "train_config.yaml").is_file():
        raise DatasetError(f"--weights {weights}: no train_config.yaml beside it; expected the one rackscan train "
                           "writes (it says whether the weights take grey or colour frames)")


@dataclass(frozen=True)
class WeightsRow:
    """One world (or all, ``label`` "all") under the shipped weights and a candidate's: (shipped, candidate) pairs."""
    label: str
    bins: int
    count_right: tuple[int, int]
    sku_right: tuple[int, int]
    recount: tuple[int, int]
    confidently_wrong: tuple[int, int]
    discrepancies: tuple[tuple[int, int, int], tuple[int, int, int]]  # all kinds: (truth, reported, found)
    newly_wrong: list[str]  # bins right with the shipped weights, wrong with the candidate (with what it counted)
    fixed: list[str]  # bins wrong with the shipped weights, right with the candidate


def compare_runs(shipped: list[WorldRun], candidate: list[WorldRun]) -> list[WeightsRow]:
    """Per world and in all, the same worlds scored with the shipped and with candidate detector
    weights; a bin is right when its count and SKU are (the ``wrong`` each run keeps)."""
    rows = []
    shipped_by_world = {r.world: r for r in shipped}
    for b in candidate:
        a = shipped_by_world[b.world]
        was = {w["bin_id"] for w in a.wrong}
        now = {w["bin_id"]: w for w in b.wrong}
        newly = [f"w{b.world} {i} {w['count']}/{w['true_count']} conf {w['confidence']:.2f}"
                 for i, w in sorted(now.items()) if i not in was]
        rows.append(WeightsRow(label=f"{b.world} (refused)" if b.refused else str(b.world), bins=b.bins,
                               count_right=(a.count_right, b.count_right), sku_right=(a.sku_right, b.sku_right),
                               recount=(a.bins if a.refused else a.recount, b.bins if b.refused else b.recount),
                               confidently_wrong=(a.confidently_wrong, b.confidently_wrong),
                               discrepancies=(tuple(a.kinds.get("all", (0, 0, 0))), tuple(b.kinds.get("all", (0, 0, 0)))),
                               newly_wrong=newly,
                               fixed=[f"w{a.world} {i}" for i in sorted(was - set(now))]))

    def both(name: str) -> tuple[int, int]:
        return sum(getattr(r, name)[0] for r in rows), sum(getattr(r, name)[1] for r in rows)

    rows.append(WeightsRow(label="all", bins=sum(r.bins for r in rows), count_right=both("count_right"),
                           sku_right=both("sku_right"), recount=both("recount"),
                           confidently_wrong=both("confidently_wrong"),
                           discrepancies=tuple(tuple(sum(r.discrepancies[i][j] for r in rows) for j in range(3))
                                               for i in range(2)),
                           newly_wrong=[x for r in rows for x in r.newly_wrong], fixed=[x for r in rows for x in r.fixed]))
    return rows


def run_world(fam, k: int, out_root: Path, *, executor=None, fresh: bool = False, one_face: bool = False,
              log: Callable[[str], None] = print, on_frame: Callable[[int, int], None] | None = None,
              weights: Path | None = None, fuse_options=None) -> WorldRun:
    """Draw, plan, fly, process and score world ``k`` of ``fam`` in ``out_root/world-k``. With candidate
    detector ``weights``, the same recorded flight is processed with them and scored in
    ``weights_root(out_root, weights)/world-k`` (its recorded files linked there, ``link_flight``); the
    shipped weights' results in ``out_root/world-k`` are left as they are. ``fuse_options``: how the
    flight is fused (``FusionOptions``; a candidate's confidence models), the defaults without it."""
    import pandas as pd

    from rackscan.cmd_bench_scenario import score_counts, truth_by_bin
    from rackscan.process import process_bundle
    from rackscan.stages import StageState
    from reconciliation.bench import bench_world
    from reconciliation.diff import count_confidence_of
    from reconciliation.pipeline import JUDGED_OBSERVATIONS

    sc, world, faces, bundle, refused = record_world(fam, k, out_root, one_face=one_face, on_frame=on_frame,
                                                     fresh=fresh and weights is None)  # --fresh flies once
    root = Path(out_root) / f"world-{k}"
    if weights is not None:
        key = (root / "flight.key").read_text()
        root = weights_root(out_root, weights) / f"world-{k}"
        root.mkdir(parents=True, exist_ok=True)
        if fresh or not (root / "flight.key").exists() or (root / "flight.key").read_text() != key:
            (root / "flight.key").unlink(missing_ok=True)  # a link interrupted is done again
            if bundle is not None:
                link_flight(bundle, root / "flight")
            (root / "flight.key").write_text(key)
        bundle = None if refused else root / "flight"
    site = world.site
    base = dict(world=k, split=fam.split_of(k), name=sc.spec.name, summary=describe_world(sc),
                lux=float(sc.spec.lighting.lux or 0.0))
    bins = [b.bin_id for f in faces for b in site.face(f).bins]
    if refused:
        run = WorldRun(**base, refused=refused, bins=len(bins))
        _save(root / "world.json", run)
        return run
    erp = root / "erp_stock.csv"
    text = world.erp.to_csv(index=False)
    if not erp.exists() or erp.read_text() != text:  # unchanged: reconciliation stays up to date
        erp.write_text(text)
    rep = process_bundle(bundle, erp=erp, executor=executor, log=log, weights=weights, fuse_options=fuse_options,
                         reconcile_options={"out_dir": root / "report", "db_url": None, "min_confidence": MIN_CONFIDENCE})
    st = StageState(bundle)
    proc_s = sum(float(st.info(s).get("seconds", 0.0)) for s in ("detect", "fuse", "reconcile"))
    # the observations as reconciliation judged them: goods unread named by the ERP where their size fits it
    obs = pd.read_parquet(root / "report" / JUDGED_OBSERVATIONS)
    obs["sku"] = obs["sku"].fillna("").astype(str)
    truth = truth_by_bin(world.stock.assign(sku=world.stock["sku"].fillna("").astype(str)))
    n_obs, ok_c, ok_s = score_counts(obs, world.stock)
    named = labelled_bins(world.objects)
    obs["count_confidence"] = count_confidence_of(obs)  # a flight fused before the count had its own: the bin's
    outcomes, count_outcomes, wrong, per_bin = [], [], [], []
    for r in obs.itertuples():
        t_count, t_sku = int(truth["count"].get(r.bin_id, 0)), truth["sku"].get(r.bin_id, "")
        right = int(r.count) == t_count and (r.sku or "") == t_sku
        outcomes.append((float(r.confidence), bool(right)))
        count_outcomes.append((float(r.count_confidence), int(r.count) == t_count))
        per_bin.append({"bin_id": r.bin_id, "count": int(r.count), "true_count": t_count, "sku": r.sku or "",
                        "true_sku": t_sku, "labelled": r.bin_id in named, "confidence": float(r.confidence),
                        "right": bool(right), "reason": r.reason or ""})
        if not right:
            wrong.append({**{x: v for x, v in per_bin[-1].items() if x != "right"}, "confidence": round(float(r.confidence), 3)})
    held = [b for b in per_bin if b["true_count"]]  # bins holding goods: labelled or not
    labelled = [b for b in held if b["labelled"]]
    unlabelled = [b for b in held if not b["labelled"]]
    sized = {b["bin_id"] for b in per_bin if "sku_by_size" in b["reason"].split(";")}
    by_erp = {b["bin_id"] for b in per_bin if "sku_as_erp" in b["reason"].split(";")}
    ev_path = bundle / "bin_evidence.parquet"
    bins_df = pd.DataFrame(per_bin)
    if ev_path.exists() and len(bins_df):  # the evidence each confidence was judged on, with the truth: for fitting
        bins_df = bins_df.merge(pd.read_parquet(ev_path), on="bin_id", how="left", suffixes=("", "_ev"))
    bins_df.assign(world=k).to_parquet(root / "bins.parquet", index=False)
    scoped = set(bins)
    in_scope = discrepancies_in_scope(world.discrepancies, scoped, named | sized)
    scores = bench_world(type("W", (), {"erp": world.erp[world.erp.Bin.isin(scoped)], "site": site,
                                        "discrepancies": in_scope, "stock": world.stock}), obs, min_confidence=MIN_CONFIDENCE)
    run = WorldRun(**base, bins=len(bins), observed=n_obs, count_right=ok_c, sku_right=ok_s, labelled=len(labelled),
                   labelled_sku_right=sum(b["sku"] == b["true_sku"] for b in labelled), unlabelled=len(unlabelled),
                   unlabelled_recount=sum(b["confidence"] < MIN_CONFIDENCE for b in unlabelled),
                   unlabelled_sized=sum(b["bin_id"] in sized for b in unlabelled),
                   unlabelled_sized_right=sum(b["bin_id"] in sized and b["sku"] == b["true_sku"] for b in unlabelled),
                   unlabelled_erp=sum(b["bin_id"] in by_erp for b in unlabelled),
                   unlabelled_erp_right=sum(b["bin_id"] in by_erp and b["sku"] == b["true_sku"] for b in unlabelled),
                   recount=sum(c < MIN_CONFIDENCE for c, _ in outcomes),
                   confidently_wrong=sum(c >= CONFIDENT and not ok for c, ok in outcomes), outcomes=outcomes,
                   count_outcomes=count_outcomes,
                   wrong=wrong, kinds={s.kind: [s.truth, s.predicted, s.true_positive] for s in scores},
                   flight_s=rep.flight_time_s, processing_s=proc_s, frames=rep.frames)
    _save(root / "world.json", run)
    return run


def _world_job(job: tuple) -> WorldRun:
    """One world of ``run_worlds`` in a worker process; its frames' progress goes to the parent's queue."""
    import time

    from datasets.family import load_family
    from rackscan.executors import LocalExecutor

    fam_path, k, out_root, fresh, one_face, weights, fuse_options, queue = job
    last = [0.0]

    def on_frame(i: int, n: int) -> None:
        now = time.monotonic()
        if i >= n or now - last[0] >= 0.5:
            last[0] = now
            queue.put((k, i, n))

    return run_world(load_family(fam_path), k, out_root, executor=LocalExecutor(quiet=True), fresh=fresh,
                     one_face=one_face, log=lambda s: None, on_frame=on_frame, weights=weights,
                     fuse_options=fuse_options)


def run_worlds(fam, ks: list[int], out_root: Path, *, jobs: int, fresh: bool = False, one_face: bool = False,
               weights: Path | None = None, fuse_options=None, on_frame: Callable[[int, int, int], None] | None = None,
               on_done: Callable[[WorldRun], None] | None = None) -> list[WorldRun]:
    """Worlds ``ks`` of ``fam`` run ``jobs`` at a time, each in its own process, returned in ``ks``' order:
    a world renders its frames on one core, most of its time (test world 20000: about 8 of 12 min).
    ``on_frame(k, i, n)``: world k has flown frame i of n; ``on_done(run)``: a world is scored."""
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")  # no state of this process (threads, a loaded detector) leaks into a worker
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        frames = manager.Queue()
        todo = {pool.submit(_world_job, (str(fam.source), k, Path(out_root), fresh, one_face, weights, fuse_options,
                                         frames)): k
                for k in ks}
        done: dict[int, WorldRun] = {}
        pending = set(todo)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        k, i, n = frames.get_nowait()
                    except queue_mod.Empty:
                        break
                    if on_frame is not None and k not in done:
                        on_frame(k, i, n)
                for fut in finished:
                    run = fut.result()  # a world's error stops the bench, as it does one world at a time
                    done[todo[fut]] = run
                    if on_done is not None:
                        on_done(run)
        except BaseException:  # that, or Ctrl-C: stop now, not after the worlds in flight (minutes each)
            _stop_workers(pool, pending)
            raise
        return [done[k] for k in ks]


def _stop_workers(pool, pending) -> None:
    """Cancel the worlds not started and end the ones flying: a world's flight is kept only once it
    is whole (``flight.key``), and every stage's result is written whole or not at all, so the next
    run picks up from what was finished."""
    for fut in pending:
        fut.cancel()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):  # no terminate_workers() before 3.14
        if proc.is_alive():
            proc.terminate()


def load_run(path: Path) -> WorldRun:
    data = json.loads(Path(path).read_text())
    data["outcomes"] = [tuple(x) for x in data["outcomes"]]
    data["count_outcomes"] = [tuple(x) for x in data.get("count_outcomes", [])]  # absent before 2026-12-05
    return WorldRun(**data)


def _save(path: Path, run: WorldRun) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(run), indent=1))
    tmp.replace(path)


@dataclass(frozen=True, kw_only=True)
class Pooled:
    worlds: int
    refused: int
    bins: int
    observed: int
    count_right: int
    sku_right: int
    labelled: int  # flown bins whose goods carry a label (``labelled_bins``)
    labelled_sku_right: int
    unlabelled: int  # flown bins of tires with no label at all: no camera reads their SKU, their size may name it
    unlabelled_recount: int
    recount: int  # flown bins under MIN_CONFIDENCE
    refused_bins: int  # the bins of the worlds the planner refused: all of them go to recount
    confidently_wrong: int
    median_count_accuracy: float
    worst_count_accuracy: float
    worst_world: int | None
    kinds: dict[str, list[int]]
    ece: float
    brier: float
    flight_s: float
    processing_s: float
    count_ece: float = float("nan")  # the count confidence against the count alone being right
    count_brier: float = float("nan")
    count_confidently_wrong: int = 0  # counted wrong at count confidence >= CONFIDENT
    unlabelled_sized: int = 0  # of the unlabelled bins, named by their size
    unlabelled_sized_right: int = 0
    unlabelled_erp: int = 0  # of the unlabelled bins, named by the ERP's SKU, their size fitting it
    unlabelled_erp_right: int = 0

    @property
    def sent_to_recount(self) -> int:
        return self.recount + self.refused_bins


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
    c_conf = np.array([c for r in flown for c, _ in r.count_outcomes])
    c_ok = np.array([o for r in flown for _, o in r.count_outcomes], dtype=bool)
    c_ece, c_brier = reliability(c_conf, c_ok) if len(c_conf) else (float("nan"), float("nan"))
    worst = min(flown, key=lambda r: r.count_accuracy) if flown else None
    return Pooled(worlds=len(runs), refused=sum(bool(r.refused) for r in runs), bins=sum(r.bins for r in runs),
                  observed=sum(r.observed for r in flown), count_right=sum(r.count_right for r in flown),
                  sku_right=sum(r.sku_right for r in flown), labelled=sum(r.labelled for r in flown),
                  labelled_sku_right=sum(r.labelled_sku_right for r in flown),
                  unlabelled=sum(r.unlabelled for r in flown),
                  unlabelled_recount=sum(r.unlabelled_recount for r in flown),
                  unlabelled_sized=sum(r.unlabelled_sized for r in flown),
                  unlabelled_sized_right=sum(r.unlabelled_sized_right for r in flown),
                  unlabelled_erp=sum(r.unlabelled_erp for r in flown),
                  unlabelled_erp_right=sum(r.unlabelled_erp_right for r in flown), recount=sum(r.recount for r in flown),
                  refused_bins=sum(r.bins for r in runs if r.refused),
                  confidently_wrong=sum(r.confidently_wrong for r in flown),
                  median_count_accuracy=float(np.median(acc)) if acc else float("nan"),
                  worst_count_accuracy=worst.count_accuracy if worst else float("nan"),
                  worst_world=worst.world if worst else None, kinds=kinds, ece=ece, brier=brier,
                  flight_s=sum(r.flight_s for r in flown), processing_s=sum(r.processing_s for r in flown),
                  count_ece=c_ece, count_brier=c_brier, count_confidently_wrong=int(((c_conf >= CONFIDENT) & ~c_ok).sum()))


def light_band(lux: float) -> str:
    """The light band a world's lux falls in (``LIGHT_BANDS_LUX``), named for a table."""
    lo, hi = LIGHT_BANDS_LUX
    if not lux:
        return "light given as a gain"
    return f"under {lo:.0f} lux" if lux < lo else f"{lo:.0f}-{hi:.0f} lux" if lux < hi else f"{hi:.0f} lux or more"


def by_light(runs: list[WorldRun]) -> list[tuple[str, Pooled]]:
    """The runs pooled by light band, darkest first: how far the figures depend on the store's light."""
    lo, hi = LIGHT_BANDS_LUX
    order = [light_band(lo / 2), light_band(lo), light_band(hi), light_band(0.0)]
    groups: dict[str, list[WorldRun]] = {}
    for r in runs:
        groups.setdefault(light_band(r.lux), []).append(r)
    return [(band, pool(groups[band])) for band in order if band in groups]


def light_plot(runs: list[WorldRun], path: Path) -> Path:
    """Each world's count accuracy against its store's light (lux, log axis), the band edges drawn:
    refused worlds on the floor as crosses, a world with bins wrong at >= CONFIDENT ringed in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lit = [r for r in runs if r.lux > 0]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for edge in LIGHT_BANDS_LUX:
        ax.axvline(edge, color="grey", lw=1, ls="--")
    flown = [r for r in lit if not r.refused and r.observed]
    ax.scatter([r.lux for r in flown], [100 * r.count_accuracy for r in flown], s=[12 + r.observed for r in flown],
               color="tab:blue", alpha=0.7, zorder=3, label="a flown world (size: bins)")
    wrong = [r for r in flown if r.confidently_wrong]
    if wrong:
        ax.scatter([r.lux for r in wrong], [100 * r.count_accuracy for r in wrong], s=[40 + r.observed for r in wrong],
                   facecolors="none", edgecolors="tab:red", lw=1.5, zorder=4,
                   label=f"with bins wrong at confidence >= {CONFIDENT}")
    refused = [r for r in lit if r.refused]
    if refused:
        ax.scatter([r.lux for r in refused], [0] * len(refused), marker="x", color="black", zorder=3,
                   label="refused by the planner (all to recount)")
    ax.set_xscale("log")
    ax.set_title(f"bins counted right in each of {len(lit)} worlds, by the store's light", fontsize=10)
    ax.set_ylim(-5, 105)
    ax.set_xlabel("the store's light, lux")
    ax.set_ylabel("bins counted right, %")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def reliability_plot(runs: list[WorldRun], path: Path) -> Path:
    """Reliability diagram of the pooled bins (confidence band -> share right), titled with the worlds."""
    import numpy as np

    from rackscan.cmd_bench_calibration import _diagram

    conf = np.array([c for r in runs for c, _ in r.outcomes])
    ok = np.array([o for r in runs for _, o in r.outcomes])
    ks = sorted(r.world for r in runs)
    what = f"{runs[0].split} worlds {ks[0]}-{ks[-1]}" if runs else ""
    _diagram(path, conf, ok, None, what=what)
    return path


def worlds_table(runs: list[WorldRun]):
    import pandas as pd

    return pd.DataFrame([{"world": r.world, "split": r.split, "bins": r.bins, "observed": r.observed,
                          "count_acc": r.count_accuracy, "sku_acc": r.sku_accuracy, "recount": r.recount,
                          "conf_wrong": r.confidently_wrong, "refused": bool(r.refused), "flight_s": round(r.flight_s),
                          "proc_s": round(r.processing_s), "summary": r.summary} for r in runs])



@dataclass(frozen=True)
class ConfidenceFit:
    path: Path
    report: str


def stored_bins(runs: list[WorldRun], out_root: Path):
    """The flown worlds' bins as fusion judged them (``bins.parquet``: evidence and truth) and each
    one's ``BinEvidence``: (table, evidence, right); the table is empty when none were stored."""
    import numpy as np
    import pandas as pd

    from slam_fusion.core.confidence import BinEvidence, evidence_fields

    names = evidence_fields()
    tables = [pd.read_parquet(Path(out_root) / f"world-{r.world}" / "bins.parquet") for r in runs
              if not r.refused and (Path(out_root) / f"world-{r.world}" / "bins.parquet").exists()]
    if not tables:
        return pd.DataFrame(), [], np.zeros(0, dtype=bool)
    df = pd.concat(tables, ignore_index=True).dropna(subset=["n_views"])
    names = [n for n in names if n in df.columns]  # bins stored before a field was added take its default
    ev = [BinEvidence(**{n: (int(row[n]) if n in ("n_views", "count", "pass_spread", "n_passes", "n_weak", "n_hidden")
                             else bool(row[n]) if n in ("gap", "no_read") else float(row[n])) for n in names})
          for _, row in df.iterrows()]
    return df, ev, df["right"].to_numpy(bool)


@dataclass(frozen=True)
class ModelScore:
    """A confidence model file scored on stored bins: calibration, the wrong bins it trusts, the
    bins it sends to recount and the right ones it keeps."""

    name: str
    path: Path | None  # the model file; None for probabilities no one file gives (held out world by world)
    target: str  # what it was judged on: "bin" (count and SKU right) or "count" (the count alone)
    wrong: int  # bins wrong on that target
    ece: float
    brier: float
    wrong_confident: int
    wrong_counted: int  # wrong bins at MIN_CONFIDENCE or more: counted, not sent to recount
    recount: int
    right_kept: int


def right_on(df, right, target: str):
    """Whether each stored bin was right as a model of ``target`` is judged: "bin" (count and SKU, the
    stored ``right``) or "count" (the count alone)."""
    if target == "count" and len(df):
        return df["count"].to_numpy(int) == df["true_count"].to_numpy(int)
    return right


def score_models(runs: list[WorldRun], out_root: Path, models: dict[str, Path]) -> tuple[int, list[ModelScore]]:
    """Each model file applied to the same stored bins of ``runs`` (no fusion again; the rules' cap
    applies as in fusion), each judged on its own target (a count model on the count alone): (bins,
    scores)."""
    import numpy as np

    from slam_fusion.core.confidence import ConfidenceModel

    df, ev, y = stored_bins(runs, out_root)
    out = []
    for name, path in models.items():
        m = ConfidenceModel.load(path)
        out.append(model_score(name, Path(path), np.array([m.probability(e) for e in ev], dtype=float),
                               right_on(df, y, m.target), target=m.target))
    return len(y), out


def model_score(name: str, path: Path | None, p, right, *, target: str = "bin") -> ModelScore:
    """Bins' probabilities ``p`` scored against their outcomes ``right`` (``ModelScore``)."""
    import numpy as np

    from slam_fusion.core.calibration import reliability

    p, y = np.asarray(p, dtype=float), np.asarray(right, dtype=bool)
    ece, brier = reliability(p, y) if len(p) else (float("nan"), float("nan"))
    return ModelScore(name=name, path=path, target=target, wrong=int((~y).sum()), ece=ece, brier=brier,
                      wrong_confident=int(((p >= CONFIDENT) & ~y).sum()),
                      wrong_counted=int(((p >= MIN_CONFIDENCE) & ~y).sum()), recount=int((p < MIN_CONFIDENCE).sum()),
                      right_kept=int(((p >= MIN_CONFIDENCE) & y).sum()))


def recalibrate_confidence_model(fam, runs: list[WorldRun], out_root: Path, *, dest: Path | None = None) -> ConfidenceFit:
    """Rescale the shipped model's log-odds (``slam_fusion.core.confidence.recalibrate``) on the flown
    worlds' stored bins; report it before and after, and held out world by world (rescaled on the
    other worlds), then write it to ``dest`` (a candidate to score) or, without one, ship it."""
    import numpy as np

    from slam_fusion.core.confidence import MODEL_PATH, ConfidenceModel, held_out, recalibrate
    from slam_fusion.errors import FusionError

    if not MODEL_PATH.exists():
        raise FusionError(f"{MODEL_PATH}: no shipped model to recalibrate; fit one with --fit-confidence")
    shipped = ConfidenceModel.load(MODEL_PATH)
    df, ev, right = stored_bins(runs, out_root)
    worlds = df["world"].to_numpy() if len(df) else np.zeros(0)
    if df.empty or right.all() or not right.any() or len(set(worlds)) < 2:
        raise FusionError(f"{out_root}: {len(df)} bins of {len(set(worlds))} worlds, {int((~right).sum()) if len(df) else 0} "
                          "wrong; recalibrating needs right and wrong bins of two worlds or more: fly more worlds (--worlds)")
    on = f"{fam.name} {runs[0].split} worlds {runs[0].world}-{runs[-1].world} ({len(df)} bins, {int((~right).sum())} wrong)"
    model = recalibrate(shipped, ev, right, on=on)
    held = held_out(ev, right, worlds, fit=lambda e, r: recalibrate(shipped, e, r))
    path = model.dump(dest or MODEL_PATH)
    scores = [model_score("shipped", MODEL_PATH, [shipped.probability(e) for e in ev], right),
              model_score("recalibrated, held out world by world", None, held, right),
              model_score("recalibrated on all (in sample)", path, [model.probability(e) for e in ev], right)]
    report = "\n".join([f"recalibrated: {model.fitted_on}"] + [
        f"{sc.name}: ECE {sc.ece:.3f}, Brier {sc.brier:.4f}, wrong at >= {CONFIDENT} {sc.wrong_confident}, "
        f"wrong at >= {MIN_CONFIDENCE} (counted) {sc.wrong_counted}, under {MIN_CONFIDENCE} {sc.recount}" for sc in scores])
    return ConfidenceFit(path, report)


def fit_confidence_model(fam, runs: list[WorldRun], out_root: Path, *, dest: Path | None = None,
                         target: str = "bin") -> ConfidenceFit:
    """Fit ``slam_fusion.core.confidence``'s model on the flown worlds' bins (their ``bins.parquet``);
    report how well it does world by world held out (fit on the others), then write it fitted on all
    to ``dest`` (a candidate to score) or, without one, ship it. ``target``: "bin" (count and SKU
    right: the bin's confidence, ``confidence_model.json``) or "count" (the count alone right:
    ``count_model.json``)."""
    from slam_fusion.core.calibration import reliability
    from slam_fusion.core.confidence import COUNT_MODEL_PATH, MODEL_PATH, TARGETS, choose_l2, fit_confidence

    if target not in TARGETS:
        raise ValueError(f"fit_confidence_model: target {target!r}; expected 'bin' or 'count'")
    df, ev, right = stored_bins(runs, out_root)
    right = right_on(df, right, target)
    fitted_worlds = sorted(set(df["world"])) if len(df) else []
    if df.empty or right.all() or not right.any():
        from slam_fusion.errors import FusionError

        raise FusionError(f"{out_root}: {len(df)} bins, {int((~right).sum()) if len(df) else 0} wrong; a fit needs "
                          "right and wrong bins: fly more worlds (--worlds)")
    worlds = df["world"].to_numpy()
    best, tried = choose_l2(ev, right, worlds)  # the penalty, chosen on worlds left out
    l2, held = best.l2, best.held
    model = fit_confidence(ev, right, l2=l2, fitted_on=f"{fam.name} {runs[0].split} worlds {runs[0].world}-{runs[-1].world}: "
                                                         f"{len(df)} bins, {int((~right).sum())} wrong; L2 penalty {l2:g}",
                           target=target)
    path = model.dump(dest or (COUNT_MODEL_PATH if target == "count" else MODEL_PATH))
    e_h, b_h = best.ece, best.brier
    e_r, b_r = reliability(df["raw_score"].to_numpy(float), right)
    wrong_hi = best.wrong_confident
    report = (f"{'count confidence' if target == 'count' else 'confidence'} model on {len(df)} bins of {len(fitted_worlds)} worlds ({int((~right).sum())} wrong), L2 penalty {l2:g}: "
              f"held out world by world ECE {e_h:.3f}, Brier {b_h:.4f} (hand-made score: ECE {e_r:.3f}, Brier {b_r:.4f}); "
              f"wrong at >= {CONFIDENT}: {wrong_hi}; bins under {MIN_CONFIDENCE}: {int((held < MIN_CONFIDENCE).sum())}\n"
              "penalties tried, held out world by world: " + "; ".join(
                  f"{s.l2:g}: ECE {s.ece:.3f}, Brier {s.brier:.4f}, wrong at >= {CONFIDENT} {s.wrong_confident}" for s in tried))
    return ConfidenceFit(path, report)
