"""Drift correction from location labels (landmarks at known places).

Each label sighting gives the ray from the camera through the label; with the attitude trusted
(it does not drift like position does), the camera must lie on the line through the known label
along that ray. The offset of the telemetry position from that line is one correction
measurement (perpendicular to the ray, i.e. in the rack-face plane, which is what bin assignment
needs). The correction over time is a piecewise-linear curve solved in one sparse least-squares
problem with a smoothness prior (``correct_drift``): a pose graph in translation, where the
landmark edges are the label lines and the odometry edges are the smoothness terms between knots.
Open3D's pose-graph optimisation given the same graph (``slam_fusion.tools.posegraph_open3d``)
lands on the same trajectory, slower, without the clock term or the misread-label reweighting:
``rackscan bench drift`` measures both.
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
    # the least-squares objective at the solution, in sigma^2: Huber label terms plus the
    # smoothness prior (what bending the correction cost)
    objective: float = 0.0


def label_line_offsets(cam_site_m: np.ndarray, rays_site: np.ndarray, label_site_m: np.ndarray) -> np.ndarray:
    """(N,3) correction moving each camera onto the line through its label along its ray."""
    d = label_site_m - cam_site_m
    r = rays_site / np.linalg.norm(rays_site, axis=1, keepdims=True)
    return d - r * np.sum(d * r, axis=1, keepdims=True)


def _interp_matrix(t_s: np.ndarray, knots_s: np.ndarray):
    """Sparse (N, K) linear-interpolation weights of times t_s on the knot grid."""
    from scipy.sparse import csr_matrix

    k = np.clip(np.searchsorted(knots_s, t_s, side="right") - 1, 0, len(knots_s) - 2)
    a = ((t_s - knots_s[k]) / (knots_s[k + 1] - knots_s[k])).clip(0.0, 1.0)
    rows = np.repeat(np.arange(len(t_s)), 2)
    cols = np.stack([k, k + 1], axis=1).reshape(-1)
    vals = np.stack([1 - a, a], axis=1).reshape(-1)
    return csr_matrix((vals, (rows, cols)), shape=(len(t_s), len(knots_s)))


def knot_grid(traj: Trajectory, sight_t_ns: np.ndarray, knot_s: float) -> np.ndarray:
    """Knot times (s) every ``knot_s`` over the trajectory and the sightings, at least three."""
    t_s = np.asarray(sight_t_ns, dtype=np.float64) / 1e9
    T_s = np.asarray(traj.t_ns, dtype=np.float64) / 1e9
    t0, t1 = min(T_s[0], t_s.min()), max(T_s[-1], t_s.max())
    knots = np.arange(t0, t1 + knot_s, knot_s)
    return knots if len(knots) >= 3 else np.linspace(t0, t0 + 2 * knot_s, 3)


def corrected(traj: Trajectory, knots: np.ndarray, corrections_m: np.ndarray) -> Trajectory:
    """The trajectory moved by the (K,3) knot corrections, interpolated linearly in time."""
    corr = _interp_matrix(np.asarray(traj.t_ns, dtype=np.float64) / 1e9, knots) @ corrections_m
    return Trajectory(t_ns=traj.t_ns, positions_site_m=traj.positions_site_m + corr, quat_wxyz=traj.quat_wxyz)


def correct_drift(
    traj: Trajectory,
    sight_t_ns: np.ndarray,
    cam_offsets: tuple[np.ndarray, np.ndarray],
    label_site_m: np.ndarray,
    *,
    knot_s: float = 1.0,
    meas_sigma_m: float = 0.01,
    smooth_sigma_m: float = 0.005,
    robust_iterations: int = 4,
    smooth_order: int = 1,
) -> DriftCorrection:
    """cam_offsets: (N,3) camera positions and (N,3) site rays at sight_t_ns.

    The position correction is a piecewise-linear function of time (a knot every ``knot_s``),
    solved as one sparse least-squares problem: each label sighting asks that the corrected camera
    lie on its label's line (only the components across the ray are observed), and the change
    between neighbouring knots stays small (``smooth_sigma_m`` per knot; drift changes slowly, and
    a stretch without labels is bridged linearly). ``smooth_order`` 2 penalises second differences
    instead; on the dev drift flights first differences placed the camera closer to the truth
    (median 13.6 vs 14.8 mm; ``rackscan bench drift``). Sightings far off (a misread label) are down-weighted by
    iterative reweighting (Huber). Returns the corrected trajectory, per-sighting residuals and
    the objective reached.

    A camera clock error also moves every label sighting (by v * d, flipping sign with the flight
    direction), and this correction can bend to absorb it: the residuals alone do not tell the two
    apart, the objective does (``slam_fusion.pipeline`` profiles it over the clock offset).
    """
    from scipy.sparse import bmat, diags, identity, kron
    from scipy.sparse.linalg import lsqr

    cam_p, rays = cam_offsets
    c = label_line_offsets(cam_p, rays, label_site_m)
    before = np.linalg.norm(c, axis=1)
    if len(c) == 0:
        return DriftCorrection(trajectory=traj, residual_before_m=before, residual_after_m=before)
    t_s = np.asarray(sight_t_ns, dtype=np.float64) / 1e9
    knots = knot_grid(traj, sight_t_ns, knot_s)
    K = len(knots)
    A_t = _interp_matrix(t_s, knots)  # (N, K)
    r = rays / np.linalg.norm(rays, axis=1, keepdims=True)
    # measurement rows: P_i @ c(t_i) = off_i, with P_i = I - r r^T (3 rows per sighting)
    blocks = []
    for a in range(3):
        row = []
        for b in range(3):
            p_ab = (1.0 if a == b else 0.0) - r[:, a] * r[:, b]
            row.append(diags(p_ab) @ A_t)
        blocks.append(row)
    M = bmat(blocks).tocsr()  # (3N, 3K), unknowns ordered [x knots, y knots, z knots]
    y = np.concatenate([c[:, 0], c[:, 1], c[:, 2]])
    if smooth_order == 1:
        D2 = diags([-np.ones(K - 1), np.ones(K - 1)], [0, 1], shape=(K - 1, K))
    else:
        D2 = diags([np.ones(K - 2), -2 * np.ones(K - 2), np.ones(K - 2)], [0, 1, 2], shape=(K - 2, K))
    S = (kron(identity(3), D2) / smooth_sigma_m).tocsr()
    w = np.ones(len(c))
    k_huber = 3 * meas_sigma_m
    for _ in range(max(1, robust_iterations)):
        W = diags(np.tile(np.sqrt(w), 3) / meas_sigma_m)
        A = bmat([[W @ M], [S]]).tocsr()
        rhs = np.concatenate([W @ y, np.zeros(S.shape[0])])
        sol = lsqr(A, rhs, atol=1e-10, btol=1e-10, iter_lim=20000)[0]
        resid = np.linalg.norm((M @ sol - y).reshape(3, -1).T, axis=1)
        w = np.where(resid <= k_huber, 1.0, k_huber / np.maximum(resid, 1e-12))
    huber = np.where(resid <= k_huber, resid**2, 2 * k_huber * resid - k_huber**2) / meas_sigma_m**2
    objective = float(np.sum(huber) + np.sum((S @ sol) ** 2))
    ck = sol.reshape(3, K).T  # (K, 3)
    new = corrected(traj, knots, ck)
    after = np.linalg.norm(label_line_offsets(cam_p + A_t @ ck, rays, label_site_m), axis=1)
    return DriftCorrection(trajectory=new, residual_before_m=before, residual_after_m=after, objective=objective)
