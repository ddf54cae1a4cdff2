"""Factories for slam_fusion tests: a site face, a camera looking at it, trajectories."""

from __future__ import annotations

import numpy as np

from slam_fusion.core.trajectory import Trajectory, matrix_to_quat
from tests.warehouse.factories import site_dict
from warehouse.camera import CameraModel
from warehouse.site import site_from_dict


def make_site():
    return site_from_dict(site_dict())


def make_camera(dist=(0.0, 0.0, 0.0, 0.0, 0.0)) -> CameraModel:
    K = np.array([[1400.0, 0, 960], [0, 1400.0, 540], [0, 0, 1]])
    return CameraModel(K=K, dist=np.array(dist, dtype=float))


def camera_facing(face, u_m: float, v_m: float, standoff_m: float) -> np.ndarray:
    """T_site_camera standing off the face at (u, v), optical axis into the face."""
    R_face = face.T_site_face[:3, :3]
    z_cam = -R_face[:, 2]  # look against the face normal
    x_cam = R_face[:, 0]
    y_cam = np.cross(z_cam, x_cam)
    T = np.eye(4)
    T[:3, :3] = np.stack([x_cam, y_cam, z_cam], axis=1)
    T[:3, 3] = face.face_to_site(np.array([[u_m, v_m, standoff_m]]))[0]
    return T


def linear_trajectory(n: int = 50, dt_ns: int = 100_000_000, yaw_rate: float = 0.1) -> Trajectory:
    t = np.arange(n, dtype=np.int64) * dt_ns
    pos = np.stack([t / 1e9, 0.5 * t / 1e9, np.full(n, -2.0)], axis=1)
    q = []
    for tt in t:
        a = yaw_rate * tt / 1e9
        R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        q.append(matrix_to_quat(R))
    return Trajectory(t_ns=t, positions_site_m=pos, quat_wxyz=np.array(q))
