"""Trajectory from a real telemetry.tlog written through BundleWriter."""

import os

import numpy as np
import pytest
import yaml

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink2  # noqa: E402

from flight.bundle import Bundle, BundleWriter, FlightMeta  # noqa: E402
from slam_fusion.core.trajectory import associate, quat_to_matrix  # noqa: E402
from slam_fusion.errors import FusionError  # noqa: E402
from slam_fusion.tools.tlog import trajectory_from_bundle  # noqa: E402
from tests.slam_fusion.factories import make_site  # noqa: E402
from tests.warehouse.factories import site_dict  # noqa: E402
from warehouse.camera import R_ned_body_from_euler  # noqa: E402


class _Sink:
    def write(self, b):
        pass


def _write(path, truth, with_position=True):
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
