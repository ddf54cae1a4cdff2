"""What a flight log yields, whatever wrote it: positions, attitude and camera triggers on one
clock (unix ns, UTC), and where each came from.

Positions are ``geodetic`` (lat_deg, lon_deg, alt_m above mean sea level, as GPS/RTK and the
autopilot's EKF report them) or ``local_ned`` (north_m, east_m, down_m about the EKF origin, which
indoors is set to the site origin: ODOMETRY, VISION_POSITION_ESTIMATE, PX4's local position).
Attitude is ``quat_wxyz`` rotating body FRD into NED.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

POS_FRAMES = ("geodetic", "local_ned")


@dataclass(frozen=True, kw_only=True)
class LogSource:
    """One log file as read: what it is, how its clock was put on UTC, what was wrong with it."""

    path: str
    sha256: str
    kind: str  # tlog | dataflash | ulog
    n_bytes: int
    time_source: str  # how the log's times were put on UTC
    system_id: int | None = None
    systems: dict = field(default_factory=dict)  # sysid -> packets (tlog)
    messages: int = 0
    max_fix_type: int | None = None  # 3 = 3D, 5 = RTK float, 6 = RTK fixed
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Telemetry:
    source: LogSource
    pos_t_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pos: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    pos_frame: str = "geodetic"
    pos_what: str = ""  # the message the positions came from
    att_t_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    att_quat_wxyz: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    att_what: str = ""
    trig_t_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    trig_what: str = ""

    def __post_init__(self) -> None:
        if self.pos_frame not in POS_FRAMES:
            raise ValueError(f"pos_frame {self.pos_frame!r}; expected one of {POS_FRAMES}")


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def quat_from_euler(roll_rad, pitch_rad, yaw_rad) -> np.ndarray:
    """(N,) aerospace Z-Y-X Euler angles (MAVLink ATTITUDE, DataFlash ATT) -> (N,4) w,x,y,z
    rotating body FRD into NED (``warehouse.camera.R_ned_body_from_euler`` as a quaternion)."""
    from scipy.spatial.transform import Rotation

    r = Rotation.from_euler("ZYX", np.stack([np.asarray(yaw_rad, float), np.asarray(pitch_rad, float),
                                             np.asarray(roll_rad, float)], axis=-1).reshape(-1, 3))
    q = r.as_quat()  # x, y, z, w
    return np.concatenate([q[:, 3:], q[:, :3]], axis=1)


def euler_from_quat(quat_wxyz: np.ndarray) -> np.ndarray:
    """(N,4) w,x,y,z -> (N,3) roll, pitch, yaw in radians."""
    from scipy.spatial.transform import Rotation

    q = np.asarray(quat_wxyz, float).reshape(-1, 4)
    ypr = Rotation.from_quat(np.concatenate([q[:, 1:], q[:, :1]], axis=1)).as_euler("ZYX")
    return ypr[:, ::-1]


def sorted_unique(t_ns: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Samples in time order with repeated times dropped (the first kept)."""
    t = np.asarray(t_ns, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.zeros(0, bool)
    return (t[keep], *[np.asarray(v)[order][keep] for v in values])
