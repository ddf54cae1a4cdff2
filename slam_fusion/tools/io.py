"""Read detections.parquet, write observations.parquet / coverage.parquet / evidence crops."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slam_fusion.errors import FusionError

def _catalogue(path: str | Path, *, required: bool):
    """catalogue.csv as text columns, None when absent and not required."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        if required:
            raise FusionError(f"{path}: missing; expected a catalogue CSV with columns sku,gtin")
        return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises several parser errors
        raise FusionError(f"{path}: not a readable CSV ({type(e).__name__}); expected columns sku,gtin") from None
    miss = [c for c in ("sku", "gtin") if c not in df.columns]
    if miss:
        raise FusionError(f"{path}: missing column(s) {', '.join(miss)}; expected columns sku,gtin")
    return df


def read_catalogue(path: str | Path, *, required: bool = False) -> dict[str, str]:
    """catalogue.csv (columns sku, gtin; both read as text) -> {gtin: sku}; {} when absent and not required."""
    return read_catalogue_maps(path, required=required)[0]


def read_sections(path: str | Path, *, required: bool = False) -> dict[str, float]:
    """catalogue.csv's optional ``size`` column (a tire size code, ``warehouse.tires``) -> {sku: the
    tire's section width in metres}; SKUs without a size are left out; {} when there is no column."""
    return read_catalogue_maps(path, required=required)[1]


def read_catalogue_maps(path: str | Path, *, required: bool = False
                        ) -> tuple[dict[str, str], dict[str, float], dict[str, float]]:
    """catalogue.csv read once -> ({gtin: sku}, {sku: section width in metres}, {sku: outer diameter
    in metres}) (``read_catalogue``, ``read_sections``); all {} when it is absent and not required. A
    bad size names its row."""
    from warehouse.errors import SiteError
    from warehouse.tires import parse_size

    df = _catalogue(path, required=required)
    if df is None:
        return {}, {}, {}
    g2s = {g.strip(): s.strip() for g, s in zip(df["gtin"], df["sku"]) if g.strip()}
    sections, diameters = {}, {}
    for row, (sku, size) in enumerate(zip(df["sku"], df["size"]) if "size" in df.columns else (), start=2):
        if not size.strip():
            continue
        try:
            tire = parse_size(size)
        except SiteError as exc:
            raise FusionError(f"{path}: row {row}: size: {exc}") from None
        sections[sku.strip()] = tire.width_mm / 1000.0
        diameters[sku.strip()] = tire.outer_diameter_mm / 1000.0
    return g2s, sections, diameters


@dataclass(frozen=True, kw_only=True)
class FusionOptions:
    """How a flight is fused; the defaults are the fusion's, in this one place. ``rackscan fuse``
    and ``rackscan process`` build it from their options; its fields are the fuse stage's fingerprint."""

    max_gap_s: float = 0.2  # largest frame-to-pose gap
    clock_offset_s: float | None = None  # camera minus telemetry clock; None: estimated from the labels
    min_overlap: float = 0.35  # box overlap on the face for two sightings to be one tire
    min_support: float = 0.5  # share of the frames that had a tire in view that must see it
    smooth_s: float = 1.0  # telemetry position smoothing window (0: off)
    drift_correction: bool = True  # correct positions from the location labels
    register_passes: bool = True  # line a face's passes up on the tires they saw in common
    poses: str = "auto"  # auto, tlog, odometry or csv
    catalogue: str | None = None  # catalogue.csv mapping GTINs to SKUs (default: BUNDLE/catalogue.csv)
    confidence_model: str | None = None  # the bin confidence model's JSON (default: the shipped confidence_model.json)
    count_model: str | None = None  # the count confidence model's JSON (default: the shipped count_model.json)

    def __post_init__(self) -> None:
        if self.poses not in ("auto", "tlog", "odometry", "csv"):
            raise FusionError(f"--poses {self.poses!r}; expected auto, tlog, odometry or csv")
        for name in ("max_gap_s", "smooth_s"):
            if getattr(self, name) < 0:
                raise FusionError(f"--{name.replace('_', '-')}: {getattr(self, name)}; expected a number >= 0")
        for name in ("min_overlap", "min_support"):
            if not 0 <= getattr(self, name) <= 1:
                raise FusionError(f"--{name.replace('_', '-')}: {getattr(self, name)}; expected a share between 0 and 1")


def confidence_models(opts: FusionOptions) -> tuple[Path, Path]:
    """The bin and count confidence models' files ``opts`` fuses with: those it names, else the shipped ones."""
    from slam_fusion.core.confidence import COUNT_MODEL_PATH, MODEL_PATH

    return (Path(opts.confidence_model or MODEL_PATH), Path(opts.count_model or COUNT_MODEL_PATH))


def load_confidence_models(opts: FusionOptions):
    """(bin model, count model) as ``fuse_detections`` takes them: "shipped" where ``opts`` names none,
    else the files it names, each checked for its target; a one-line ``FusionError`` naming the file
    and what was expected otherwise."""
    from slam_fusion.core.confidence import load_model

    out = []
    for path, target, flag in ((opts.confidence_model, "bin", "--confidence-model"), (opts.count_model, "count", "--count-model")):
        if path is None:
            out.append("shipped")
            continue
        if not Path(path).is_file():
            raise FusionError(f"{flag} {path}: no such file; expected a {target} confidence model's JSON "
                              f"(`rackscan bench worlds ... --fit-{'count-' if target == 'count' else ''}confidence "
                              "--confidence-out` writes one)")
        out.append(load_model(Path(path), target, name=f"{flag} {path}"))
    return tuple(out)


def fusion_inputs(bundle, opts: FusionOptions = FusionOptions()) -> list[Path]:
    """Every file ``fuse_bundle`` reads (for the stage's fingerprint): per bundle of the flight its
    detections, telemetry, frame times, metadata (camera, extrinsic), site, external poses and
    catalogue; the catalogue given instead; the confidence and count confidence models it fuses
    with (``confidence_models``: the shipped ones unless ``opts`` names others)."""
    files = []
    for b in (bundle.bundles if hasattr(bundle, "bundles") else [bundle]):
        root = Path(b.path)
        files += [root / "detections.parquet", b.tlog_path, root / "frames.csv", root / "flight.json", root / "site.yaml",
                  root / "poses.csv"]
        if opts.catalogue is None:
            files.append(root / "catalogue.csv")
    if opts.catalogue is not None:
        files.append(Path(opts.catalogue))
    return files + list(confidence_models(opts))


def fuse_bundle(bundle, opts: FusionOptions = FusionOptions(), *, detections: str | Path | None = None, drift_solver=None):
    """A bundle's telemetry and detections -> FusionResult (``write_outputs`` stores it).

    ``bundle`` may be a ``flight.continuation.FlightSet`` (an interrupted flight and its
    continuations): each bundle's detections (frame_idx shifted by its offset) and trajectory
    (from its own tlog: each vehicle boot has its own clock) are joined into one flight, so a
    bin seen on passes flown in two bundles is fused from all its views. What it reads is
    ``fusion_inputs``."""
    from slam_fusion.tools.tlog import trajectory_from_bundle

    parts = list(zip(bundle.bundles, bundle.offsets)) if hasattr(bundle, "bundles") else [(bundle, 0)]
    if detections is not None and len(parts) > 1:
        raise FusionError(f"--detections {detections}: one file cannot hold a flight of {len(parts)} bundles; "
                          "each bundle's detections.parquet is read")
    from dataclasses import replace

    from perception.errors import PerceptionError
    from perception.io import read_detections

    dets, trajs = [], []
    for b, off in parts:
        path = Path(detections or Path(b.path) / "detections.parquet")
        if not path.exists():
            raise FusionError(f"{path}: missing; run `rackscan detect` first or pass --detections PATH")
        try:
            dets += [replace(d, frame_idx=d.frame_idx + off) if off else d for d in read_detections(path)]
        except PerceptionError as exc:
            raise FusionError(str(exc)) from None
        trajs.append(trajectory_from_bundle(b, opts.poses))
    ft = {int(fr.frame_idx): int(fr.t_ns) for fr in bundle.frames}
    if not ft:
        raise FusionError(f"{Path(bundle.path) / 'frames.csv'}: no frames; nothing to fuse")
    return _fuse(bundle, _joined(trajs), ft, dets, opts, drift_solver)


def _fuse(bundle, traj, frame_t_ns: dict[int, int], dets: list, opts: FusionOptions, drift_solver=None, *,
          only_faces: set[str] | None = None):
    """``fuse_detections`` with the bundle's site, camera and catalogue and ``opts``'s settings."""
    from slam_fusion.pipeline import fuse_detections

    cat = opts.catalogue
    g2s, sections, diameters = read_catalogue_maps(cat or Path(bundle.path) / "catalogue.csv", required=cat is not None)
    bin_model, count_model = load_confidence_models(opts)
    return fuse_detections(site=bundle.site(), cam=bundle.camera_spec().model(), T_body_camera=frame_extrinsics(bundle),
                           traj=traj, frame_t_ns=frame_t_ns, detections=dets,
                           max_gap_ns=int(opts.max_gap_s * 1e9), clock_offset_s=opts.clock_offset_s,
                           min_overlap=opts.min_overlap, min_support=opts.min_support, smooth_s=opts.smooth_s,
                           drift_correction=opts.drift_correction, gtin_to_sku=g2s, section_of=sections,
                           diameter_of=diameters, register_passes=opts.register_passes,
                           only_faces=only_faces, confidence_model=bin_model, count_model=count_model,
                           **({"drift_solver": drift_solver} if drift_solver else {}))


def fuse_frames_so_far(bundle, detections: list, opts: FusionOptions = FusionOptions(), *,
                       only_faces: set[str] | None = None):
    """Fuse the frames of ``detections`` only (one bundle, as ``fuse_bundle`` does): a flight still
    being recorded, whose later frames are not processed yet, counts the views it has
    (``rackscan fly --live``); the telemetry is read as far as it has been written. ``only_faces``:
    count only these faces' bins (clock and drift still solved on every frame so far)."""
    from slam_fusion.tools.tlog import trajectory_from_bundle

    if not detections:
        raise FusionError(f"{Path(bundle.path)}: no frames processed yet; nothing to fuse")
    ft = {int(d.frame_idx): int(d.t_ns) for d in detections}
    return _fuse(bundle, trajectory_from_bundle(bundle, opts.poses), ft, detections, opts, only_faces=only_faces)


def _joined(trajs):
    """Trajectories of successive flights as one, in time order (each keeps its own samples)."""
    if len(trajs) == 1:
        return trajs[0]
    from slam_fusion.core.trajectory import Trajectory

    t = np.concatenate([tr.t_ns for tr in trajs])
    order = np.argsort(t, kind="stable")
    keep = np.concatenate([[True], np.diff(t[order]) > 0])
    idx = order[keep]
    return Trajectory(t_ns=t[idx], positions_site_m=np.concatenate([tr.positions_site_m for tr in trajs])[idx],
                      quat_wxyz=np.concatenate([tr.quat_wxyz for tr in trajs])[idx])


def frame_extrinsics(bundle):
    """The bundle's T_body_camera, or frame_idx -> its camera's where the vehicle carries several."""
    per_frame = getattr(bundle, "frame_T_body_camera", None)
    return per_frame() if per_frame is not None else bundle.T_body_camera


def _bin_crop(img, result, face, cam, T_body_camera, bin_, t_ns: int, margin_frac: float = 0.15):
    """The bin's front rectangle cut out of a frame (with a margin), outlined; None if off-frame."""
    import cv2

    if result.trajectory is None:
        return None
    T_sc = result.trajectory.poses_at(np.array([t_ns + int(round(result.clock_offset_s * 1e9))]))[0] @ T_body_camera
    corners = face.face_to_site(np.array([[bin_.u0_m, bin_.v0_m, 0], [bin_.u1_m, bin_.v0_m, 0],
                                          [bin_.u1_m, bin_.v1_m, 0], [bin_.u0_m, bin_.v1_m, 0]]))
    R, c = T_sc[:3, :3], T_sc[:3, 3]
    uv, front = cam.project((corners - c) @ R)
    if not front.all():
        return None
    h, w = img.shape[:2]
    x0, y0 = uv.min(0)
    x1, y1 = uv.max(0)
    mx, my = (x1 - x0) * margin_frac, (y1 - y0) * margin_frac
    X0, Y0 = int(max(0, x0 - mx)), int(max(0, y0 - my))
    X1, Y1 = int(min(w, x1 + mx)), int(min(h, y1 + my))
    if X1 - X0 < 16 or Y1 - Y0 < 16:
        return None
    out = img[Y0:Y1, X0:X1].copy()
    cv2.polylines(out, [(uv - [X0, Y0]).astype(np.int32)], True, (0, 255, 255), 3)
    return out


def _write_evidence_frame(bundle, i: int, dst: Path) -> None:
    """The frame as it was recorded: a JPEG's bytes copied, not decoded and encoded again."""
    import shutil

    import cv2

    src = Path(bundle.path) / bundle.frames[i].file
    if src.suffix.lower() in (".jpg", ".jpeg"):
        shutil.copyfile(src, dst)
    else:
        cv2.imwrite(str(dst), bundle.read_frame(i))


def write_outputs(bundle, result, flight_id: str) -> dict[str, Path]:
    """observations.parquet, coverage.parquet, evidence/<bin>.jpg (the best frame) and
    evidence/<bin>_crop.jpg (the bin cut out of it, outlined) in the bundle."""
    import cv2
    import pandas as pd

    root = Path(bundle.path)
    (root / "evidence").mkdir(exist_ok=True)
    site = bundle.site()
    cam, T_bc = bundle.camera_spec().model(), frame_extrinsics(bundle)
    index_of = {fr.frame_idx: i for i, fr in enumerate(bundle.frames)}

    def evidence(o) -> tuple[str, str]:
        ev_path = crop_path = ""
        if o.evidence_frame >= 0:
            try:
                i = index_of[o.evidence_frame]
                img = bundle.read_frame(i)
                ev_path = f"evidence/{o.bin_id}.jpg"
                _write_evidence_frame(bundle, i, root / ev_path)
                bin_ = site.bin(o.bin_id)
                T_body_camera = T_bc[o.evidence_frame] if isinstance(T_bc, dict) else T_bc
                crop = _bin_crop(img, result, site.face(bin_.face_id), cam, T_body_camera, bin_, bundle.frames[i].t_ns)
                if crop is not None:
                    crop_path = f"evidence/{o.bin_id}_crop.jpg"
                    cv2.imwrite(str(root / crop_path), crop)
            except Exception:  # a corrupt frame leaves the observation without evidence
                ev_path = ev_path if (root / ev_path).exists() else ""
        return ev_path, crop_path

    # JPEG decoding and encoding release the GIL: the bins' evidence is cut on every core
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="evidence") as pool:
        paths = list(pool.map(evidence, result.observations))
    rows = []
    for o, (ev_path, crop_path) in zip(result.observations, paths):
        rows.append(dict(flight_id=flight_id, bin_id=o.bin_id, sku=o.sku, gtin=o.gtin, count=int(o.count),
                         confidence=float(o.confidence), n_views=int(o.n_views),
                         evidence_frame=int(o.evidence_frame), evidence_path=ev_path, evidence_crop_path=crop_path,
                         reason=o.reason,
                         count_confidence=float(o.confidence if o.count_confidence is None else o.count_confidence),
                         n_serials=int(o.n_serials), count_lo=int(o.count_lo), count_hi=o.count_hi,
                         size_fits=";".join(o.size_fits)))
    obs = pd.DataFrame(rows, columns=["flight_id", "bin_id", "sku", "gtin", "count", "confidence", "n_views",
                                      "evidence_frame", "evidence_path", "evidence_crop_path", "reason",
                                      "count_confidence", "n_serials", "count_lo", "count_hi", "size_fits"])
    obs["count_hi"] = obs["count_hi"].astype("Int64")  # NULL: no upper bound
    obs.to_parquet(root / "observations.parquet", index=False)
    cov = pd.DataFrame([dict(bin_id=b.bin_id, scanned=result.coverage.get(b.bin_id, 0) > 0,
                             n_frames=int(result.coverage.get(b.bin_id, 0))) for b in site.bins])
    cov.to_parquet(root / "coverage.parquet", index=False)
    from dataclasses import asdict

    from slam_fusion.core.confidence import evidence_fields

    ev = pd.DataFrame([{"bin_id": o.bin_id, "raw_score": o.raw_score, **asdict(o.evidence)} for o in result.observations
                       if o.evidence is not None], columns=["bin_id", "raw_score", *evidence_fields()])
    ev.to_parquet(root / "bin_evidence.parquet", index=False)  # what each confidence was judged on
    saved = save_result(root / FUSION_DIR, result)
    return {"observations": root / "observations.parquet", "coverage": root / "coverage.parquet",
            "bin_evidence": root / "bin_evidence.parquet", **saved}


# -- the fusion result, saved once and reloaded by every later view (replay, reconciliation) -------
FUSION_DIR = "fusion"
TRACK_COLUMNS = ["bin_id", "face_id", "u0_m", "u1_m", "v0_m", "v1_m", "n_frames", "n_expected", "score", "counted"]


def save_result(out: Path, result) -> dict[str, Path]:
    """``trajectory.parquet`` (the smoothed, drift-corrected body trajectory fusion counted with),
    ``tracks.parquet`` (every tire track and whether it was counted), ``result.json`` (clock
    offset, residuals, warnings, the shifts between passes): with observations.parquet, the whole
    ``FusionResult``."""
    import json
    from dataclasses import asdict

    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    if result.trajectory is not None:
        tr = result.trajectory
        pd.DataFrame({"t_ns": tr.t_ns, **{k: tr.positions_site_m[:, i] for i, k in enumerate(("x_m", "y_m", "z_m"))},
                      **{k: tr.quat_wxyz[:, i] for i, k in enumerate(("qw", "qx", "qy", "qz"))}}
                     ).to_parquet(out / "trajectory.parquet", index=False)
        paths["trajectory"] = out / "trajectory.parquet"
    pd.DataFrame([{"bin_id": b, "face_id": t.face_id, "u0_m": t.u0_m, "u1_m": t.u1_m, "v0_m": t.v0_m, "v1_m": t.v1_m,
                   "n_frames": len(t.frames), "n_expected": t.n_expected, "score": t.score, "counted": bool(c)}
                  for b, t, c in result.tracks], columns=TRACK_COLUMNS).to_parquet(out / "tracks.parquet", index=False)
    (out / "result.json").write_text(json.dumps({
        "clock_offset_s": result.clock_offset_s, "label_residuals_px": result.label_residuals_px,
        "drift_residual_before_m": result.drift_residual_before_m, "drift_residual_after_m": result.drift_residual_after_m,
        "coverage": result.coverage, "warnings": list(result.warnings),
        "pass_shifts": [asdict(s) for s in result.pass_shifts]}, indent=1) + "\n")
    return {**paths, "tracks": out / "tracks.parquet", "result": out / "result.json"}


def load_result(bundle_dir: str | Path):
    """The ``FusionResult`` a fuse run saved in the bundle (observations, trajectory, tracks, offsets);
    FusionError when the bundle was not fused."""
    import json

    import pandas as pd

    from slam_fusion.core.fuse import BinObservation, TireTrack
    from slam_fusion.core.passes import PassShift
    from slam_fusion.core.trajectory import Trajectory
    from slam_fusion.pipeline import FusionResult

    root = Path(bundle_dir)
    d = root / FUSION_DIR
    if not (d / "result.json").exists() or not (root / "observations.parquet").exists():
        raise FusionError(f"{d / 'result.json'}: missing; run `rackscan fuse {root}` (or process) first")
    meta = json.loads((d / "result.json").read_text())
    obs = pd.read_parquet(root / "observations.parquet")
    has_cc = "count_confidence" in obs.columns  # absent in bundles fused before 2026-12-05
    has_serials = "n_serials" in obs.columns  # absent in bundles fused before 2026-12-06
    has_range = "count_lo" in obs.columns  # absent in bundles fused before count ranges (2026-12-06): any count allowed
    has_fits = "size_fits" in obs.columns  # absent in bundles fused before 2026-12-07: no size known to fit
    observations = tuple(BinObservation(bin_id=r.bin_id, sku=r.sku or "", gtin=r.gtin or "", count=int(r.count),
                                        confidence=float(r.confidence), n_views=int(r.n_views),
                                        evidence_frame=int(r.evidence_frame), reason=r.reason or "",
                                        count_confidence=float(r.count_confidence) if has_cc else None,
                                        n_serials=int(r.n_serials) if has_serials else 0,
                                        count_lo=int(r.count_lo) if has_range else 0,
                                        count_hi=int(r.count_hi) if has_range and not pd.isna(r.count_hi) else None,
                                        size_fits=tuple(filter(None, (r.size_fits or "").split(";"))) if has_fits else ())
                         for r in obs.itertuples())
    traj = None
    if (d / "trajectory.parquet").exists():
        t = pd.read_parquet(d / "trajectory.parquet")
        traj = Trajectory(t_ns=t["t_ns"].to_numpy(np.int64), positions_site_m=t[["x_m", "y_m", "z_m"]].to_numpy(float),
                          quat_wxyz=t[["qw", "qx", "qy", "qz"]].to_numpy(float))
    tracks = tuple((r.bin_id, TireTrack(face_id=r.face_id, u0_m=r.u0_m, u1_m=r.u1_m, v0_m=r.v0_m, v1_m=r.v1_m,
                                        frames=tuple(range(int(r.n_frames))), gtins=(), score=float(r.score),
                                        n_expected=int(r.n_expected)), bool(r.counted))
                   for r in pd.read_parquet(d / "tracks.parquet").itertuples())
    return FusionResult(observations=observations, coverage={k: int(v) for k, v in meta["coverage"].items()},
                        clock_offset_s=float(meta["clock_offset_s"]), label_residuals_px=meta["label_residuals_px"],
                        drift_residual_before_m=meta["drift_residual_before_m"],
                        drift_residual_after_m=meta["drift_residual_after_m"], trajectory=traj, tracks=tracks,
                        warnings=tuple(meta["warnings"]),
                        # absent in results saved before 2026-12-06
                        pass_shifts=tuple(PassShift(**s) for s in meta.get("pass_shifts", [])))


def fused(bundle, *, detections: str | Path | None = None):
    """The bundle's ``FusionResult``: the one fusion saved when it is newer than every file fusion
    reads (``fusion_inputs``), so replays do not fuse again; else fusion run now (and not saved)."""
    root = Path(bundle.path)
    saved = root / FUSION_DIR / "result.json"
    if detections is None and saved.exists():
        t = saved.stat().st_mtime_ns
        if all(not f.exists() or f.stat().st_mtime_ns <= t for f in fusion_inputs(bundle)):
            return load_result(root)
    return fuse_bundle(bundle, detections=detections)


@dataclass(frozen=True, kw_only=True)
class FlightInfo:
    """What the results store keeps about a flight (reconciliation receives it; nobody re-reads flight.json)."""

    flight_key: str
    bundle_path: str
    started_utc: str
    n_frames: int
    flight_time_s: float | None  # span of the trajectory fusion counted with (None: not fused)


def flight_info(bundle) -> FlightInfo:
    """A bundle's (a path, a Bundle or a FlightSet) FlightInfo; the flight time from its saved fused trajectory."""
    import pandas as pd

    if isinstance(bundle, (str, Path)):
        from flight.bundle import Bundle

        bundle = Bundle(bundle)
    root = Path(bundle.path)
    tp = root / FUSION_DIR / "trajectory.parquet"
    span = None
    if tp.exists():
        t = pd.read_parquet(tp, columns=["t_ns"])["t_ns"]
        span = float((t.max() - t.min()) / 1e9) if len(t) else None
    return FlightInfo(flight_key=bundle.meta.flight_id or root.name, bundle_path=str(root.resolve()),
                      started_utc=bundle.meta.started_utc or "", n_frames=len(bundle.frames), flight_time_s=span)


def write_ply(path: str | Path, site, result, *, tire_depth_m: float = 0.2) -> Path:
    """The rack faces (grey, bins outlined by their colour: green counted as ERP-ready, amber when
    the observation asks for a recount) and every fused tire as a box behind its face (black when
    counted, red when seen but not counted): an ASCII PLY mesh that Open3D, MeshLab and Blender open."""
    verts: list[tuple[float, float, float, int, int, int]] = []
    tris: list[tuple[int, int, int]] = []

    def quad(p4, rgb):
        k = len(verts)
        verts.extend((*map(float, p), *rgb) for p in p4)
        tris.extend([(k, k + 1, k + 2), (k, k + 2, k + 3)])

    def box(face, u0, u1, v0, v1, n0, n1, rgb):
        c = [face.face_to_site(np.array([[u, v, n]]))[0] for n in (n0, n1) for v in (v0, v1) for u in (u0, u1)]
        for a, b, cc, d in ((0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)):
            quad([c[a], c[b], c[cc], c[d]], rgb)

    obs = {o.bin_id: o for o in result.observations}
    for face in site.faces:
        for b in face.bins:
            o = obs.get(b.bin_id)
            rgb = (160, 160, 160) if o is None else ((60, 170, 60) if o.confidence >= 0.8 else (230, 160, 30))
            box(face, b.u0_m + 0.01, b.u1_m - 0.01, b.v0_m + 0.01, b.v1_m - 0.01, -0.005, 0.0, rgb)
    for _, tr, counted in result.tracks:
        face = site.face(tr.face_id)
        box(face, tr.u0_m, tr.u1_m, tr.v0_m, tr.v1_m, -tire_depth_m, -0.01, (20, 20, 20) if counted else (200, 30, 30))
    path = Path(path)
    with open(path, "w", encoding="ascii") as f:
        f.write(f"ply\nformat ascii 1.0\ncomment rackscan fused rack faces and tires (site frame, metres)\n"
                f"element vertex {len(verts)}\nproperty float x\nproperty float y\nproperty float z\n"
                f"property uchar red\nproperty uchar green\nproperty uchar blue\n"
                f"element face {len(tris)}\nproperty list uchar int vertex_indices\nend_header\n")
        for x, y, z, r, g, b in verts:
            f.write(f"{x:.4f} {y:.4f} {z:.4f} {r} {g} {b}\n")
        for a, b, c in tris:
            f.write(f"3 {a} {b} {c}\n")
    return path


def residual_stats(res: dict[str, float]) -> tuple[float, float]:
    v = np.array(list(res.values())) if res else np.zeros(1)
    return float(np.median(v)), float(np.max(v))


def annotated_frame(bundle_dir: str | Path, index: int):
    """(RGB image, caption) of frame ``index`` of a bundle with its detections drawn
    (``perception.annotate``), or None when the bundle has no such frame or it does not decode."""
    import cv2

    from flight.bundle import Bundle
    from flight.errors import FlightError
    from perception.annotate import annotate
    from perception.errors import PerceptionError
    from perception.io import read_detections

    try:
        b = Bundle(bundle_dir)
        if not len(b.frames):
            return None
        i = min(max(0, index), len(b.frames) - 1)
        img = b.read_frame(i)
    except FlightError:
        return None
    rec = b.frames[i]
    caption = f"frame {rec.frame_idx}"
    try:
        det = next((d for d in read_detections(Path(bundle_dir) / "detections.parquet") if d.frame_idx == rec.frame_idx), None)
    except PerceptionError:
        det = None
    if det is not None:
        img = annotate(img, det, thickness=3)
        caption += f", {len(det)} detections, {len(det.codes)} codes read"
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB), caption


def pass_shift_line(shifts) -> str:
    """One line on how far the passes were found from one another (``FusionResult.pass_shifts``)."""
    if not shifts:
        return "passes registered on their tires: no two passes of a face saw enough tires in common"
    faces = {s.face_id for s in shifts}
    big = max(shifts, key=lambda s: abs(s.shift_m))
    return (f"passes registered on their tires: {len(shifts)} pairs on {len(faces)} face{'s' * (len(faces) > 1)}, "
            f"the largest {abs(big.shift_m) * 100:.1f} cm apart ({big.face_id}, passes {big.a} and {big.b}, "
            f"{big.votes} tires)")
