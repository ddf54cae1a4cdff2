"""Drift correction from location labels (landmarks at known places).

Each label sighting gives the ray from the camera through the label; with the attitude trusted
(it does not drift like position does), the camera must lie on the line through the known label
along that ray. The offset of the telemetry position from that line is one correction
measurement (perpendicular to the ray, i.e. in the rack-face plane, which is what bin assignment
needs). Corrections are smoothed over time with a Gaussian kernel (drift is slow) and added to
every pose. This is a linear least-squares smoother, not an open3d pose graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slam_fusion.core.trajectory import Trajectory


@dataclass(frozen=True, kw_only=True)
class DriftCorrection:
    trajectory: Trajectory
    residual_before_m: np.ndarray  # per sighting, offset of the camera from its label line
    residual_after_m: np.ndarray


def label_line_offsets(cam_site_m: np.ndarray, rays_site: np.ndarray, label_site_m: np.ndarray) -> np.ndarray:
    """(N,3) correction moving each camera onto the line through its label along its ray."""
    d = label_site_m - cam_site_m
    r = rays_site / np.linalg.norm(rays_site, axis=1, keepdims=True)
    return d - r * np.sum(d * r, axis=1, keepdims=True)


def correct_drift(
    traj: Trajectory,
    sight_t_ns: np.ndarray,
    cam_offsets: tuple[np.ndarray, np.ndarray],
    label_site_m: np.ndarray,
    *,
    sigma_s: float = 8.0,
) -> DriftCorrection:
    """cam_offsets: function-free inputs (N,3) camera positions and (N,3) site rays at sight_t_ns.

    Returns the corrected trajectory and per-sighting residuals before and after.
    """
    cam_p, rays = cam_offsets
    c = label_line_offsets(cam_p, rays, label_site_m)
    t_s = np.asarray(sight_t_ns, dtype=np.float64) / 1e9
    before = np.linalg.norm(c, axis=1)
    if len(c) == 0:
        return DriftCorrection(trajectory=traj, residual_before_m=before, residual_after_m=before)
    # robust: drop sightings far off the median (a misread label)
    med = np.median(before)
    keep = before <= max(3 * med, 0.5)
    T_s = np.asarray(traj.t_ns, dtype=np.float64) / 1e9
    w = np.exp(-0.5 * ((T_s[:, None] - t_s[None, keep]) / sigma_s) ** 2)
    ws = w.sum(axis=1, keepdims=True)
    corr = np.where(ws > 1e-9, (w @ c[keep]) / np.maximum(ws, 1e-12), 0.0)
    new = Trajectory(t_ns=traj.t_ns, positions_site_m=traj.positions_site_m + corr, quat_wxyz=traj.quat_wxyz)
    # residual after: apply the same correction at the sighting times
    ws_s = np.exp(-0.5 * ((t_s[:, None] - t_s[None, keep]) / sigma_s) ** 2)
    corr_s = (ws_s @ c[keep]) / ws_s.sum(axis=1, keepdims=True)
    after = np.linalg.norm(label_line_offsets(cam_p + corr_s, rays, label_site_m), axis=1)
    return DriftCorrection(trajectory=new, residual_before_m=before, residual_after_m=after)
