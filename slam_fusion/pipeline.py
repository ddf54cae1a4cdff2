"""From poses, frame times and per-frame detection rows to one observation per bin (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from slam_fusion.core.drift import correct_drift
from slam_fusion.core.clock import estimate_offset_s, label_reprojection_cost
from slam_fusion.core.fuse import BinObservation, Sighting, fuse_bin
from slam_fusion.core.projection import project_to_faces
from slam_fusion.core.trajectory import Trajectory, associate
from warehouse.camera import CameraModel, invert_transform, transform_points


@dataclass(frozen=True, kw_only=True)
class FusionResult:
    observations: tuple[BinObservation, ...]
    coverage: dict[str, int]  # bin_id -> frames that saw it
    clock_offset_s: float
    label_residuals_px: dict[str, float] = field(default_factory=dict)
    drift_residual_before_m: float = 0.0  # median label-line offset before correction
    drift_residual_after_m: float = 0.0


def _project_sites(cam, T_site_cams, p_site):
    """(F,4,4) poses, (N,3) points -> (F,N,2) pixels and (F,N) visible mask."""
    out_uv, out_ok = [], []
    for T in T_site_cams:
        p_cam = transform_points(invert_transform(T), p_site)
        uv, front = cam.project(p_cam)
        ok = front & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width_px) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height_px)
        out_uv.append(uv)
        out_ok.append(ok & (p_cam[:, 2] < 12.0))
    return np.array(out_uv), np.array(out_ok)


def fuse_detections(
    *,
    site,
    cam: CameraModel,
    T_body_camera: np.ndarray,
    traj: Trajectory,
    frame_t_ns: dict[int, int],
    rows: list[dict],
    max_gap_ns: int = 200_000_000,
    clock_offset_s: float | None = None,
    cluster_radius_m: float = 0.15,
    gtin_to_sku: dict[str, str] | None = None,
    drift_correction: bool = True,
) -> FusionResult:
    """rows: detections.parquet rows (frame_idx, row_kind, x1..y2, text, gtin)."""
    frames = sorted(frame_t_ns)
    t = np.array([frame_t_ns[f] for f in frames], dtype=np.int64)
    faces = [f for f in (site.face(b.face_id) for b in site.bins)]
    faces = list({f.face_id: f for f in faces}.values())
    labels = {b.bin_id: site.face(b.face_id).face_to_site(np.array([[*b.label.center_uv_m, 0.0]]))[0]
              for b in site.bins}
    lab_rows = [r for r in rows if r.get("row_kind") == "code" and r.get("text") in labels]
    fidx = {f: i for i, f in enumerate(frames)}

    def centre(r):
        return np.array([(r["x1"] + r["x2"]) / 2, (r["y1"] + r["y2"]) / 2])

    lab_t = np.array([frame_t_ns[r["frame_idx"]] for r in lab_rows], dtype=np.int64)
    lab_uv = np.array([centre(r) for r in lab_rows]).reshape(-1, 2)
    lab_p = np.array([labels[r["text"]] for r in lab_rows]).reshape(-1, 3)

    def project_at(t_ns, p_site):
        T_sb = traj.poses_at(t_ns)
        out = np.empty((len(p_site), 2))
        for i in range(len(p_site)):
            T_sc = T_sb[i] @ T_body_camera
            uv, front = cam.project(transform_points(invert_transform(T_sc), p_site[i:i + 1]))
            out[i] = uv[0] if front[0] else np.inf
        return out

    if clock_offset_s is None:
        clock_offset_s = (estimate_offset_s(lambda o: label_reprojection_cost(o, lab_t, lab_uv, lab_p, project_at))
                          if len(lab_rows) >= 3 else 0.0)
    off_ns = int(round(clock_offset_s * 1e9))
    before_m = after_m = 0.0
    if drift_correction and len(lab_rows) >= 3:
        T_lab = traj.poses_at(lab_t + off_ns) @ T_body_camera
        rays = np.einsum("nij,nj->ni", T_lab[:, :3, :3], cam.pixel_rays(lab_uv))
        dc = correct_drift(traj, lab_t + off_ns, (T_lab[:, :3, 3], rays), lab_p)
        traj = dc.trajectory
        before_m, after_m = float(np.median(dc.residual_before_m)), float(np.median(dc.residual_after_m))
    T_sb = associate(t + off_ns, traj, max_gap_ns)
    T_sc = T_sb @ T_body_camera
    residuals: dict[str, list[float]] = {}
    if len(lab_rows):
        uv = project_at(lab_t + off_ns, lab_p)
        for r, e in zip(lab_rows, np.linalg.norm(uv - lab_uv, axis=1)):
            residuals.setdefault(r["text"], []).append(float(e))
    # which frames saw each bin (bin centre in view)
    bins = list(site.bins)
    centres = np.array([site.face(b.face_id).face_to_site(np.array([[*b.center_uv_m, 0.0]]))[0] for b in bins])
    _, vis = _project_sites(cam, T_sc, centres)
    seeing = {b.bin_id: {frames[i] for i in np.nonzero(vis[:, j])[0]} for j, b in enumerate(bins)}
    # tire sightings
    sightings: dict[str, list[Sighting]] = {}
    by_frame: dict[int, list[dict]] = {}
    for r in rows:
        by_frame.setdefault(r["frame_idx"], []).append(r)
    for f, rs in by_frame.items():
        if f not in fidx:
            continue
        boxes = [r for r in rs if r.get("row_kind") == "box"]
        codes = [r for r in rs if r.get("row_kind") == "code" and r.get("gtin")]
        if not boxes:
            continue
        hits = project_to_faces(cam, T_sc[fidx[f]], np.array([centre(r) for r in boxes]), faces)
        for r, h in zip(boxes, hits):
            if h is None or h.bin_id is None:
                continue
            inside = [k for k in codes if r["x1"] <= centre(k)[0] <= r["x2"] and r["y1"] <= centre(k)[1] <= r["y2"]]
            inside.sort(key=lambda k: (float(np.linalg.norm(centre(k) - centre(r))), str(k["gtin"])))
            c = [k["gtin"] for k in inside]  # the product label nearest the box centre
            sightings.setdefault(h.bin_id, []).append(Sighting(
                frame_idx=int(f), bin_id=h.bin_id, u_m=h.u_m, v_m=h.v_m,
                score=float(r.get("confidence", 1.0)), gtin=str(c[0]) if c else ""))
            seeing[h.bin_id].add(int(f))
    obs = tuple(
        fuse_bin(b.bin_id, sightings.get(b.bin_id, []), seeing[b.bin_id],
                 cluster_radius_m=cluster_radius_m, gtin_to_sku=gtin_to_sku)
        for b in bins if seeing[b.bin_id]
    )
    return FusionResult(observations=obs, coverage={b.bin_id: len(seeing[b.bin_id]) for b in bins},
                        clock_offset_s=float(clock_offset_s),
                        label_residuals_px={k: float(np.median(v)) for k, v in residuals.items()},
                        drift_residual_before_m=before_m, drift_residual_after_m=after_m)
