"""The same drift correction as ``slam_fusion.core.drift.correct_drift``, solved with Open3D's pose
graph (``open3d.pipelines.registration.global_optimization``), for ``rackscan bench drift``.

Open3D's pose graph only has pose-to-pose edges, so the problem is written in its terms:

- one node per knot (every ``knot_s``), its pose the position correction at that time (rotation
  held by a stiff rotation block: attitude does not drift), plus an anchor node fixed at identity;
- odometry edges between consecutive knots asking the correction to stay the same (information
  ``1 / smooth_sigma_m**2`` per axis, the drift rate prior);
- one landmark edge per knot from the anchor: the label sightings near that knot (each weighted by
  its interpolation weight) give a correction measured across each ray only; their information
  ``sum(w P_i) / meas_sigma_m**2`` is rank deficient along the rays, as the measurement is. These
  edges are marked uncertain, so Open3D's line process can prune knots whose labels disagree.

It needs ``open3d`` (not a dependency of rackscan: ``pip install open3d``).
"""

from __future__ import annotations

import numpy as np

from slam_fusion.core.drift import DriftCorrection, _interp_matrix, corrected, knot_grid, label_line_offsets
from slam_fusion.core.trajectory import Trajectory
from slam_fusion.errors import FusionError

_ROT_INFO = 1e8  # information of the rotation block: corrections are translations only


def _info(trans_info: np.ndarray) -> np.ndarray:
    """6x6 Open3D information (rotation first, then translation)."""
    out = np.zeros((6, 6))
    out[:3, :3] = np.eye(3) * _ROT_INFO
    out[3:, 3:] = trans_info
    return out


def correct_drift_open3d(
    traj: Trajectory,
    sight_t_ns: np.ndarray,
    cam_offsets: tuple[np.ndarray, np.ndarray],
    label_site_m: np.ndarray,
    *,
    knot_s: float = 1.0,
    meas_sigma_m: float = 0.01,
    smooth_sigma_m: float = 0.005,
    max_iterations: int = 100,
) -> DriftCorrection:
    """Drop-in for ``correct_drift`` (same arguments and result, but no objective: the clock
    offset is profiled on ``correct_drift``)."""
    try:
        import open3d as o3d
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise FusionError("open3d is not installed; `pip install open3d` to compare its pose graph") from e
    reg = o3d.pipelines.registration
    cam_p, rays = cam_offsets
    c = label_line_offsets(cam_p, rays, label_site_m)
    before = np.linalg.norm(c, axis=1)
    if len(c) == 0:
        return DriftCorrection(trajectory=traj, residual_before_m=before, residual_after_m=before)
    t_s = np.asarray(sight_t_ns, dtype=np.float64) / 1e9
    knots = knot_grid(traj, sight_t_ns, knot_s)
    K = len(knots)
    r = rays / np.linalg.norm(rays, axis=1, keepdims=True)
    P = np.eye(3)[None] - r[:, :, None] * r[:, None, :]  # (N,3,3) projector across each ray
    g = reg.PoseGraph()
    g.nodes.append(reg.PoseGraphNode(np.eye(4)))  # anchor
    for _ in range(K):
        g.nodes.append(reg.PoseGraphNode(np.eye(4)))
    A_csr = _interp_matrix(t_s, knots).tocsc()
    for k in range(K):
        col = A_csr.getcol(k)
        idx, w = col.indices, col.data
        if len(idx) == 0:
            continue
        info = np.einsum("n,nij->ij", w, P[idx]) / meas_sigma_m**2
        rhs = np.einsum("n,nij,nj->i", w, P[idx], c[idx]) / meas_sigma_m**2
        c_k = np.linalg.lstsq(info + 1e-9 * np.eye(3), rhs, rcond=None)[0]
        T = np.eye(4)
        T[:3, 3] = c_k
        # edge (knot -> anchor): T_anchor^-1 T_knot = T, i.e. the knot's correction is c_k
        g.edges.append(reg.PoseGraphEdge(k + 1, 0, T, _info(info), uncertain=True))
    odo = _info(np.eye(3) / smooth_sigma_m**2)
    for k in range(K - 1):
        g.edges.append(reg.PoseGraphEdge(k + 1, k + 2, np.eye(4), odo, uncertain=False))
    option = reg.GlobalOptimizationOption(max_correspondence_distance=3 * meas_sigma_m, edge_prune_threshold=0.25,
                                          preference_loop_closure=1.0, reference_node=0)
    crit = reg.GlobalOptimizationConvergenceCriteria()
    crit.max_iteration = max_iterations
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    reg.global_optimization(g, reg.GlobalOptimizationLevenbergMarquardt(), crit, option)
    ck = np.array([g.nodes[k + 1].pose[:3, 3] for k in range(K)])
    corr_s = A_csr @ ck
    new = corrected(traj, knots, ck)
    after = np.linalg.norm(label_line_offsets(cam_p + corr_s, rays, label_site_m), axis=1)
    return DriftCorrection(trajectory=new, residual_before_m=before, residual_after_m=after)
