"""Body trajectory in the site frame from a bundle's telemetry.tlog.

Positions from GLOBAL_POSITION_INT (lat/lon/alt through the site's RTK origin); attitude from
ATTITUDE (roll/pitch/yaw in NED), matched to the position by the autopilot's time_boot_ms and
stamped with the log time of the position message.
"""

from __future__ import annotations

import numpy as np

from slam_fusion.core.trajectory import Trajectory, matrix_to_quat
from slam_fusion.errors import FusionError
from warehouse.camera import R_ned_body_from_euler
from warehouse.geodetic import GeoOrigin


def trajectory_from_messages(
    messages: list[tuple[int, object]], origin: GeoOrigin, *, source: str = "telemetry.tlog"
) -> Trajectory:
    """(t_ns, pymavlink message) pairs -> Trajectory of T_site_body."""
    att_ms, att_rpy = [], []
    pos_t, pos_ms, pos_lla = [], [], []
    for t_ns, m in messages:
        kind = m.get_type()
        if kind == "ATTITUDE":
            att_ms.append(int(m.time_boot_ms))
            att_rpy.append((float(m.roll), float(m.pitch), float(m.yaw)))
        elif kind == "GLOBAL_POSITION_INT":
            pos_t.append(int(t_ns))
            pos_ms.append(int(m.time_boot_ms))
            pos_lla.append((m.lat / 1e7, m.lon / 1e7, m.alt / 1000.0))
    if not pos_t:
        raise FusionError(f"{source}: no GLOBAL_POSITION_INT messages; expected the vehicle's position stream")
    if not att_ms:
        raise FusionError(f"{source}: no ATTITUDE messages; expected the vehicle's attitude stream")
    lla = np.array(pos_lla)
    p_site = origin.geodetic_to_site(lla[:, 0], lla[:, 1], lla[:, 2])
    R_site_ned = origin.ned_to_site_rotation()
    att_ms_a = np.array(att_ms)
    order = np.argsort(att_ms_a, kind="stable")
    att_ms_a = att_ms_a[order]
    rpy = np.array(att_rpy)[order]
    t_out, p_out, q_out = [], [], []
    last_t = None
    for t_ns, ms, p in zip(pos_t, pos_ms, p_site):
        j = int(np.clip(np.searchsorted(att_ms_a, ms), 0, len(att_ms_a) - 1))
        if j > 0 and abs(att_ms_a[j - 1] - ms) < abs(att_ms_a[j] - ms):
            j -= 1
        if last_t is not None and t_ns <= last_t:
            continue  # duplicate or out-of-order log stamp
        R = R_site_ned @ R_ned_body_from_euler(*rpy[j])
        t_out.append(t_ns)
        p_out.append(p)
        q_out.append(matrix_to_quat(R))
        last_t = t_ns
    return Trajectory(t_ns=np.array(t_out, dtype=np.int64), positions_site_m=np.array(p_out),
                      quat_wxyz=np.array(q_out))


def trajectory_from_bundle(bundle) -> Trajectory:
    """Read the bundle's telemetry.tlog into the site frame of its site.yaml."""
    msgs = list(bundle.iter_mavlink(["ATTITUDE", "GLOBAL_POSITION_INT"]))
    return trajectory_from_messages(msgs, bundle.site().origin, source=str(bundle.tlog_path))
