"""Read detections.parquet, write observations.parquet / coverage.parquet / evidence crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slam_fusion.errors import FusionError

NEED = ("frame_idx", "row_kind", "x1", "y1", "x2", "y2")


def read_detection_rows(path: str | Path) -> list[dict]:
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FusionError(f"{path}: missing; run `rackscan detect` first or pass --detections PATH")
    df = pd.read_parquet(path)
    miss = [c for c in NEED if c not in df.columns]
    if miss:
        raise FusionError(f"{path}: missing column(s) {', '.join(miss)}; expected the detections.parquet schema")
    for c in ("text", "gtin"):
        if c not in df.columns:
            df[c] = ""
    df["text"] = df["text"].fillna("").astype(str)
    df["gtin"] = df["gtin"].fillna("").astype(str)
    return df.to_dict("records")


def read_catalogue(path: str | Path, *, required: bool = False) -> dict[str, str]:
    """catalogue.csv (columns sku, gtin; both read as text) -> {gtin: sku}; {} when absent and not required."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        if required:
            raise FusionError(f"{path}: missing; expected a catalogue CSV with columns sku,gtin")
        return {}
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises several parser errors
        raise FusionError(f"{path}: not a readable CSV ({type(e).__name__}); expected columns sku,gtin") from None
    miss = [c for c in ("sku", "gtin") if c not in df.columns]
    if miss:
        raise FusionError(f"{path}: missing column(s) {', '.join(miss)}; expected columns sku,gtin")
    return {g.strip(): s.strip() for g, s in zip(df["gtin"], df["sku"]) if g.strip()}


def fuse_bundle(bundle, *, detections: str | Path | None = None, max_gap_s: float = 0.2,
                clock_offset_s: float | None = None, min_overlap: float = 0.35, min_support: float = 0.5,
                smooth_s: float = 1.0, drift_correction: bool = True, catalogue: str | Path | None = None,
                poses: str = "auto"):
    """A bundle's telemetry and detections -> FusionResult (``write_outputs`` stores it)."""
    from slam_fusion.pipeline import fuse_detections
    from slam_fusion.tools.tlog import trajectory_from_bundle

    rows = read_detection_rows(detections or Path(bundle.path) / "detections.parquet")
    ft = {int(fr.frame_idx): int(fr.t_ns) for fr in bundle.frames}
    if not ft:
        raise FusionError(f"{Path(bundle.path) / 'frames.csv'}: no frames; nothing to fuse")
    g2s = read_catalogue(catalogue or Path(bundle.path) / "catalogue.csv", required=catalogue is not None)
    return fuse_detections(site=bundle.site(), cam=bundle.camera_spec().model(), T_body_camera=bundle.T_body_camera,
                           traj=trajectory_from_bundle(bundle, poses), frame_t_ns=ft, rows=rows,
                           max_gap_ns=int(max_gap_s * 1e9), clock_offset_s=clock_offset_s, min_overlap=min_overlap,
                           min_support=min_support, smooth_s=smooth_s, drift_correction=drift_correction,
                           gtin_to_sku=g2s)


def write_outputs(bundle, result, flight_id: str) -> dict[str, Path]:
    """observations.parquet, coverage.parquet and evidence/<bin>.jpg crops in the bundle."""
    import cv2
    import pandas as pd

    root = Path(bundle.path)
    (root / "evidence").mkdir(exist_ok=True)
    site = bundle.site()
    index_of = {fr.frame_idx: i for i, fr in enumerate(bundle.frames)}
    rows = []
    for o in result.observations:
        ev_path = ""
        if o.evidence_frame >= 0:
            try:
                img = bundle.read_frame(index_of[o.evidence_frame])
                ev_path = f"evidence/{o.bin_id}.jpg"
                cv2.imwrite(str(root / ev_path), img)
            except Exception:  # a corrupt frame leaves the observation without evidence
                ev_path = ""
        rows.append(dict(flight_id=flight_id, bin_id=o.bin_id, sku=o.sku, gtin=o.gtin, count=int(o.count),
                         confidence=float(o.confidence), n_views=int(o.n_views),
                         evidence_frame=int(o.evidence_frame), evidence_path=ev_path, reason=o.reason))
    obs = pd.DataFrame(rows, columns=["flight_id", "bin_id", "sku", "gtin", "count", "confidence", "n_views",
                                      "evidence_frame", "evidence_path", "reason"])
    obs.to_parquet(root / "observations.parquet", index=False)
    cov = pd.DataFrame([dict(bin_id=b.bin_id, scanned=result.coverage.get(b.bin_id, 0) > 0,
                             n_frames=int(result.coverage.get(b.bin_id, 0))) for b in site.bins])
    cov.to_parquet(root / "coverage.parquet", index=False)
    return {"observations": root / "observations.parquet", "coverage": root / "coverage.parquet"}


def residual_stats(res: dict[str, float]) -> tuple[float, float]:
    v = np.array(list(res.values())) if res else np.zeros(1)
    return float(np.median(v)), float(np.max(v))
