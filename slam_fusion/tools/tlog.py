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


def trajectory_from_odometry(messages: list[tuple[int, object]], origin: GeoOrigin, *,
                             source: str = "telemetry.tlog") -> Trajectory:
    """MAVLink ODOMETRY (an external SLAM / VIO through the autopilot): position in local NED
    about the site origin and attitude quaternion (w, x, y, z; body FRD -> NED)."""
    R_site_ned = origin.ned_to_site_rotation()
    t_out, p_out, q_out = [], [], []
    for t_ns, m in messages:
        if m.get_type() != "ODOMETRY" or (t_out and t_ns <= t_out[-1]):
            continue
        q = np.array(m.q, dtype=np.float64)
        if not np.all(np.isfinite(q)) or np.linalg.norm(q) < 1e-6:
            continue
        from slam_fusion.core.trajectory import quat_to_matrix

        t_out.append(int(t_ns))
        p_out.append(R_site_ned @ np.array([m.x, m.y, m.z], dtype=np.float64))
        q_out.append(matrix_to_quat(R_site_ned @ quat_to_matrix(q)))
    if not t_out:
        raise FusionError(f"{source}: no ODOMETRY messages with a valid attitude; expected MAVLink ODOMETRY")
    return Trajectory(t_ns=np.array(t_out, dtype=np.int64), positions_site_m=np.array(p_out), quat_wxyz=np.array(q_out))


def trajectory_from_poses_csv(df, *, source: str = "poses.csv") -> Trajectory:
    """An external SLAM's poses.csv (t_ns, x_m, y_m, z_m, qw, qx, qy, qz: T_site_body)."""
    df = df.sort_values("t_ns").drop_duplicates("t_ns")
    if df.empty:
        raise FusionError(f"{source}: no poses; expected rows t_ns,x_m,y_m,z_m,qw,qx,qy,qz")
    vals = df[["x_m", "y_m", "z_m", "qw", "qx", "qy", "qz"]].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(vals)):
        bad = int(np.argmax(~np.all(np.isfinite(vals), axis=1)))
        raise FusionError(f"{source}: row {bad + 2}: non-numeric pose; expected numbers in every column")
    return Trajectory(t_ns=df["t_ns"].to_numpy(dtype=np.int64), positions_site_m=vals[:, :3], quat_wxyz=vals[:, 3:])


POSE_SOURCES = ("auto", "tlog", "odometry", "csv")


def trajectory_from_bundle(bundle, source: str = "auto") -> Trajectory:
    """The bundle's body trajectory in its site frame, from ``source``: ``tlog`` (GLOBAL_POSITION_INT
    + ATTITUDE through the site's RTK origin), ``odometry`` (MAVLink ODOMETRY in the tlog), ``csv``
    (an external SLAM's poses.csv), or ``auto``: poses.csv when the bundle has one, else the tlog's
    global position, else its ODOMETRY."""
    if source not in POSE_SOURCES:
        raise FusionError(f"--poses: unknown source {source!r}; expected one of {', '.join(POSE_SOURCES)}")
    origin = bundle.site().origin
    if source == "csv" or (source == "auto" and (bundle.path / "poses.csv").exists()):
        df = bundle.read_poses_csv()
        if df is None:
            raise FusionError(f"{bundle.path / 'poses.csv'}: missing; expected an external SLAM's poses")
        return trajectory_from_poses_csv(df, source=str(bundle.path / "poses.csv"))
    if source == "odometry":
        return trajectory_from_odometry(list(bundle.iter_mavlink(["ODOMETRY"])), origin, source=str(bundle.tlog_path))
    msgs = list(bundle.iter_mavlink(["ATTITUDE", "GLOBAL_POSITION_INT", "ODOMETRY"]))
    if source == "auto" and not any(m.get_type() == "GLOBAL_POSITION_INT" for _, m in msgs):
        if any(m.get_type() == "ODOMETRY" for _, m in msgs):
            return trajectory_from_odometry(msgs, origin, source=str(bundle.tlog_path))
    return trajectory_from_messages([x for x in msgs if x[1].get_type() != "ODOMETRY"], origin,
                                    source=str(bundle.tlog_path))
