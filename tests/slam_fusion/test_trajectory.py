import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slam_fusion.core.trajectory import Trajectory, associate, matrix_to_quat, quat_to_matrix, slerp
from slam_fusion.errors import FusionError
from tests.slam_fusion.factories import linear_trajectory

unit = st.floats(-1, 1, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.tuples(unit, unit, unit, unit).filter(lambda q: np.linalg.norm(q) > 0.1))
def test_quat_matrix_round_trip(q):
    q = np.array(q) / np.linalg.norm(q)
    q = -q if q[0] < 0 else q
    R = quat_to_matrix(q)
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.allclose(matrix_to_quat(R), q, atol=1e-7) or np.allclose(matrix_to_quat(R), -q, atol=1e-7)


@settings(max_examples=50, deadline=None)
@given(st.floats(-3, 3), st.floats(0, 1))
def test_slerp_endpoints_and_constant_rate(angle, a):
    q0 = np.array([1.0, 0, 0, 0])
    q1 = np.array([np.cos(angle / 2), 0, 0, np.sin(angle / 2)])
    assert np.allclose(slerp(q0, q1, [0.0])[0], q0)
    assert np.allclose(np.abs(slerp(q0, q1, [1.0])[0]), np.abs(q1), atol=1e-9)
    qa = slerp(q0, q1, [a])[0]
    assert np.isclose(abs(qa[3]), abs(np.sin(a * angle / 2)), atol=1e-9)


def test_interpolation_hits_the_poses_and_midpoints():
    traj = linear_trajectory()
    T = traj.poses_at(traj.t_ns)
    assert np.allclose(T[:, :3, 3], traj.positions_site_m)
    mid = traj.poses_at(np.array([50_000_000]))[0]
    assert np.allclose(mid[:3, 3], [0.05, 0.025, -2.0])
    yaw = np.arctan2(mid[1, 0], mid[0, 0])
    assert np.isclose(yaw, 0.1 * 0.05)


@pytest.mark.parametrize(
    "t_s, fragment",
    [(5.84, "frame 0 at t=5.840 s is 0.94 s from the nearest pose (max 0.20 s)"),
     (-0.3, "frame 0 at t=-0.300 s is 0.30 s from the nearest pose (max 0.20 s)")],
)
def test_association_gap_names_the_frame(t_s, fragment):
    traj = linear_trajectory(n=50)
    with pytest.raises(FusionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        associate(np.array([int(t_s * 1e9)]), traj, max_gap_ns=200_000_000)


def test_association_accepts_frames_inside_the_trajectory():
    traj = linear_trajectory()
    T = associate(np.array([0, 123_000_000, 4_900_000_000]), traj, max_gap_ns=200_000_000)
    assert T.shape == (3, 4, 4)


def _sampled(positions_of, n: int = 200, seed: int = 0) -> Trajectory:
    """A trajectory sampled at jittered 10 Hz (telemetry does not arrive on a grid)."""
    rng = np.random.default_rng(seed)
    t_s = np.cumsum(rng.uniform(0.07, 0.13, n))
    return Trajectory(t_ns=(t_s * 1e9).astype(np.int64), positions_site_m=positions_of(t_s),
                      quat_wxyz=np.tile([1.0, 0, 0, 0], (n, 1)))


@settings(max_examples=30, deadline=None)
@given(st.tuples(unit, unit, unit), st.tuples(unit, unit, unit), st.tuples(unit, unit, unit))
def test_smoothing_keeps_constant_acceleration(p0, v, a):
    p0, v, a = (np.array(x) for x in (p0, v, a))
    tr = _sampled(lambda t: p0 + np.outer(t, v) + 0.5 * np.outer(t * t, 2 * a))
    assert np.allclose(tr.smoothed(1.0).positions_site_m, tr.positions_site_m, atol=1e-9)


def test_a_linear_fit_lags_where_the_vehicle_turns_up_and_degree_2_does_not():
    # a pass along x at 1.5 m/s, then a climb: vertical acceleration 4 m/s^2 for 0.6 s from t = 10 s
    def path(t):
        z = np.where(t < 10, 0.0, 2.0 * np.minimum(t - 10, 0.6) ** 2 + 2.4 * np.maximum(t - 10.6, 0))
        return np.stack([1.5 * t, 0 * t, z], axis=1)

    tr = _sampled(path)
    i = int(np.argmin(np.abs(tr.t_ns / 1e9 - 10.3)))  # mid-turn
    lag_lin = abs(tr.smoothed(1.0, degree=1).positions_site_m[i, 2] - tr.positions_site_m[i, 2])
    lag_quad = abs(tr.smoothed(1.0).positions_site_m[i, 2] - tr.positions_site_m[i, 2])
    assert lag_lin > 0.05  # about a * sigma^2 / 2 = 4 * 0.25^2 / 2 = 12.5 cm
    assert lag_quad < lag_lin / 4


def test_smoothing_shrinks_white_noise():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.02, (400, 3))
    tr = _sampled(lambda t: np.outer(t, [1.0, 0.0, 0.0]) + noise, n=400)
    truth = np.outer(tr.t_ns / 1e9, [1.0, 0.0, 0.0])
    err_raw = np.std(tr.positions_site_m - truth)
    err = np.std(tr.smoothed(1.0).positions_site_m[20:-20] - truth[20:-20])
    assert err < 0.6 * err_raw


def test_smoothing_keeps_samples_with_too_few_neighbours():
    tr = Trajectory(t_ns=np.array([0, 2, 4, 6], np.int64) * 10**9, positions_site_m=np.eye(4, 3),
                    quat_wxyz=np.tile([1.0, 0, 0, 0], (4, 1)))
    assert np.array_equal(tr.smoothed(1.0).positions_site_m, tr.positions_site_m)
