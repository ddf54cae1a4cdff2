"""Drift correction along the labels' lines, and the clock offset profiled on its objective."""

import numpy as np
import pytest

from slam_fusion.core.clock import estimate_offset_s
from slam_fusion.core.drift import correct_drift
from slam_fusion.core.trajectory import Trajectory


def _serpentine(drift_m_per_min: float, *, passes: int = 4, length_m: float = 10.0, speed_m_s: float = 1.0,
                turn_s: float = 3.0, seed: int = 0):
    """A camera flying passes along a face at y = 0 (back and forth, 0.6 m apart in height) past
    labels on the face every metre, 1.5 m away. Returns the true path as a function of time,
    the drifting telemetry, the label positions and the sighting schedule (time, label index)."""
    rng = np.random.default_rng(seed)
    pass_s = length_m / speed_m_s
    period = pass_s + turn_s

    def true_pos(t_s):
        t_s = np.asarray(t_s, dtype=np.float64)
        j = np.clip((t_s // period).astype(int), 0, passes - 1)
        tau = np.clip(t_s - j * period, 0, pass_s)
        x = np.where(j % 2 == 0, speed_m_s * tau, length_m - speed_m_s * tau)
        z = 0.5 + 0.6 * j + 0.6 * np.clip(t_s - j * period - pass_s, 0, turn_s) / turn_s
        return np.stack([x, np.full_like(x, 1.5), z], axis=1)

    t_s = np.arange(0, passes * period, 0.1)
    drift = np.outer(t_s / 60.0, [0.8, 0.0, 0.6]) * drift_m_per_min
    tel = Trajectory(t_ns=(t_s * 1e9).astype(np.int64), positions_site_m=true_pos(t_s) + drift,
                     quat_wxyz=np.tile([1.0, 0, 0, 0], (len(t_s), 1)))
    labels = np.array([[x, 0.0, 0.5 + 0.6 * j] for j in range(passes) for x in np.arange(0.5, length_m, 1.0)])
    sights = []
    for t in np.arange(0, passes * period, 0.2):
        p = true_pos([t])[0]
        for k, lab in enumerate(labels):
            if abs(lab[0] - p[0]) < 0.6 and abs(lab[2] - p[2]) < 0.35:
                sights.append((t + rng.normal(0, 0.002), k))
    return true_pos, tel, labels, np.array(sights)


def _solve(true_pos, tel, labels, sights, offset_s: float, clock_s: float = 0.0):
    """Sightings taken at camera time t (true time t + clock_s) looked up in the telemetry at t + offset_s."""
    t_cam, k = sights[:, 0], sights[:, 1].astype(int)
    t_true = t_cam + clock_s
    rays = labels[k] - true_pos(t_true)
    t_ns = ((t_cam + offset_s) * 1e9).astype(np.int64)
    cam_p, _ = tel.interpolate(t_ns)
    return correct_drift(tel, t_ns, (cam_p, rays), labels[k])


def test_drift_is_corrected_along_the_labels_lines():
    true_pos, tel, labels, sights = _serpentine(0.6)
    dc = _solve(true_pos, tel, labels, sights, 0.0)
    err_before = np.linalg.norm(tel.positions_site_m - true_pos(tel.t_ns / 1e9), axis=1)
    err_after = np.linalg.norm(dc.trajectory.positions_site_m - true_pos(tel.t_ns / 1e9), axis=1)
    assert np.median(err_after) < np.median(err_before) / 5
    assert np.median(dc.residual_after_m) < np.median(dc.residual_before_m) / 5


@pytest.mark.parametrize("clock_s", [0.25, -0.15])
def test_the_clock_offset_is_where_the_drift_solve_costs_least(clock_s):
    true_pos, tel, labels, sights = _serpentine(0.6)
    found = estimate_offset_s(lambda o: _solve(true_pos, tel, labels, sights, o, clock_s).objective,
                              centre_s=0.0, span_s=0.5, step_s=0.05)
    assert abs(found - clock_s) < 0.01
    # with the clock ignored the correction bends to absorb most of the error (the labels fit
    # within centimetres), and pays for the bending in its objective
    wrong = _solve(true_pos, tel, labels, sights, 0.0, clock_s)
    right = _solve(true_pos, tel, labels, sights, clock_s, clock_s)
    assert np.median(wrong.residual_after_m) < np.median(wrong.residual_before_m) / 10
    assert wrong.objective > 3 * right.objective
