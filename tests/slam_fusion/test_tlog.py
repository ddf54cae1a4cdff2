"""Trajectory from a real telemetry.tlog written through BundleWriter."""

import os

import numpy as np
import pytest
import yaml

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink2  # noqa: E402

from flight.bundle import Bundle, BundleWriter, FlightMeta  # noqa: E402
from slam_fusion.core.trajectory import associate, matrix_to_quat, quat_to_matrix  # noqa: E402
from slam_fusion.errors import FusionError  # noqa: E402
from slam_fusion.tools.tlog import trajectory_from_bundle  # noqa: E402
from tests.slam_fusion.factories import make_site  # noqa: E402
from tests.warehouse.factories import site_dict  # noqa: E402
from warehouse.camera import R_ned_body_from_euler  # noqa: E402


class _Sink:
    def write(self, b):
        pass


def _write(path, truth, with_position=True, odometry=False, poses_csv=False):
    site = make_site()
    mav = mavlink2.MAVLink(_Sink(), srcSystem=1, srcComponent=1)
    t0 = 1_700_000_000_000_000_000
    with BundleWriter(path, FlightMeta(flight_id="f1", site_name="s"),
                      site_yaml_text=yaml.safe_dump(site_dict())) as w:
        for k, (p_site, yaw) in enumerate(truth):
            ms = k * 100
            t_ns = t0 + k * 100_000_000
            lat, lon, alt = site.origin.site_to_geodetic(np.asarray(p_site))
            msgs = [mav.attitude_encode(ms, 0.0, 0.0, yaw, 0, 0, 0)]
            if with_position:
                msgs.append(mav.global_position_int_encode(
                    ms, int(round(float(lat) * 1e7)), int(round(float(lon) * 1e7)),
                    int(round(float(alt) * 1000)), 0, 0, 0, 0, 0))
            R_ned_body = R_ned_body_from_euler(0.0, 0.0, yaw)
            if odometry:
                ned = site.origin.ned_to_site_rotation().T @ np.asarray(p_site, dtype=float)
                msgs.append(mav.odometry_encode(ms * 1000, 1, 12, float(ned[0]), float(ned[1]), float(ned[2]),
                                                [float(x) for x in matrix_to_quat(R_ned_body)], 0, 0, 0, 0, 0, 0,
                                                [float("nan")] * 21, [float("nan")] * 21))
            if poses_csv:
                R_site_body = site.origin.ned_to_site_rotation() @ R_ned_body
                w.write_pose(t_ns, p_site, matrix_to_quat(R_site_body))
            for m in msgs:
                m.pack(mav)
                w.write_mavlink(m, t_ns)
    return path, site


def test_positions_and_attitude_come_back_in_the_site_frame(tmp_path):
    truth = [((1.0 + 0.1 * k, 2.0, 1.5), 0.2 + 0.01 * k) for k in range(20)]
    path, site = _write(tmp_path / "b", truth)
    traj = trajectory_from_bundle(Bundle(path))
    assert len(traj) == 20
    assert np.allclose(traj.positions_site_m, [p for p, _ in truth], atol=0.02)  # 1e-7 deg + mm alt
    R_site_ned = site.origin.ned_to_site_rotation()
    for q, (_, yaw) in zip(traj.quat_wxyz, truth):
        assert np.allclose(quat_to_matrix(q), R_site_ned @ R_ned_body_from_euler(0, 0, yaw), atol=1e-6)
    T = associate(traj.t_ns[:3] + 50_000_000, traj, max_gap_ns=200_000_000)
    assert np.allclose(T[0, :3, 3], [1.05, 2.0, 1.5], atol=0.02)


def test_missing_position_stream_is_named(tmp_path):
    path, _ = _write(tmp_path / "b", [((0, 0, 1), 0.0)] * 3, with_position=False)
    with pytest.raises(FusionError, match="telemetry.tlog: no GLOBAL_POSITION_INT"):
        trajectory_from_bundle(Bundle(path))


@pytest.mark.parametrize("source, kw", [
    ("tlog", dict()),
    ("odometry", dict(with_position=False, odometry=True)),
    ("csv", dict(poses_csv=True)),
    ("auto", dict(poses_csv=True)),  # poses.csv wins when present
    ("auto", dict(with_position=False, odometry=True)),  # indoors: no global position, ODOMETRY used
])
def test_every_pose_source_gives_the_same_trajectory(tmp_path, source, kw):
    truth = [((1.0 + 0.1 * k, 2.0 + 0.05 * k, 1.5), 0.2 + 0.01 * k) for k in range(10)]
    path, site = _write(tmp_path / "b", truth, **kw)
    traj = trajectory_from_bundle(Bundle(path), source)
    assert len(traj) == 10
    assert np.allclose(traj.positions_site_m, [p for p, _ in truth], atol=0.02)
    R_site_ned = site.origin.ned_to_site_rotation()
    for q, (_, yaw) in zip(traj.quat_wxyz, truth):
        assert np.allclose(quat_to_matrix(q), R_site_ned @ R_ned_body_from_euler(0, 0, yaw), atol=1e-5)


def test_unknown_pose_source_and_missing_csv_are_named(tmp_path):
    path, _ = _write(tmp_path / "b", [((0, 0, 1), 0.0)] * 3)
    with pytest.raises(FusionError, match="--poses: unknown source 'gps'"):
        trajectory_from_bundle(Bundle(path), "gps")
    with pytest.raises(FusionError, match="poses.csv: missing"):
        trajectory_from_bundle(Bundle(path), "csv")
    with pytest.raises(FusionError, match="no ODOMETRY"):
        trajectory_from_bundle(Bundle(path), "odometry")
