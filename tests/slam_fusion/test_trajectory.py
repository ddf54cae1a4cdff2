import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slam_fusion.core.trajectory import associate, matrix_to_quat, quat_to_matrix, slerp
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
