"""Point-mass kinematics for the simulated vehicle (pure functions, site ENU metres).

The first piece of the simulated ArduCopter (`flight/sim/`): one step of a
point mass that flies toward a target with a maximum horizontal speed and acceleration, climb and
descent rates, and a yaw rate. No MAVLink here; the vehicle loop calls `step` on its own clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

# ArduCopter custom_mode numbers (DESIGN.md "Flight behaviour").
COPTER_MODES = {"STABILIZE": 0, "ALT_HOLD": 2, "AUTO": 3, "GUIDED": 4, "LOITER": 5, "RTL": 6, "LAND": 9, "BRAKE": 17,
                "SMART_RTL": 21}


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_speed_m_s: float = 5.0
    max_accel_m_s2: float = 2.5
    climb_m_s: float = 2.5
    descent_m_s: float = 1.5
    yaw_rate_deg_s: float = 90.0


@dataclass(frozen=True, kw_only=True)
class State:
    east_m: float = 0.0
    north_m: float = 0.0
    up_m: float = 0.0
    v_east_m_s: float = 0.0
    v_north_m_s: float = 0.0
    v_up_m_s: float = 0.0
    yaw_deg: float = 0.0  # compass heading, 0 = north, clockwise


def _wrap_deg(a_deg: float) -> float:
    return (a_deg + 180.0) % 360.0 - 180.0


def step(state: State, *, target_enu_m: tuple[float, float, float], yaw_target_deg: float | None,
         speed_m_s: float, limits: Limits, dt_s: float) -> State:
    """Advance `state` by `dt_s` toward `target_enu_m`; never exceeds the limits, never overshoots."""
    if dt_s <= 0:
        return state
    vmax = max(0.0, min(speed_m_s, limits.max_speed_m_s))
    de, dn = target_enu_m[0] - state.east_m, target_enu_m[1] - state.north_m
    dist = math.hypot(de, dn)
    # Desired speed: limited so the vehicle can still stop at the target (v^2 = 2 a d).
    v_des = min(vmax, math.sqrt(2.0 * limits.max_accel_m_s2 * dist), dist / dt_s)
    ue, un = (de / dist, dn / dist) if dist > 1e-9 else (0.0, 0.0)
    dve, dvn = ue * v_des - state.v_east_m_s, un * v_des - state.v_north_m_s
    dv = math.hypot(dve, dvn)
    dv_max = limits.max_accel_m_s2 * dt_s
    if dv > dv_max:
        dve, dvn = dve * dv_max / dv, dvn * dv_max / dv
    ve, vn = state.v_east_m_s + dve, state.v_north_m_s + dvn
    e, n = state.east_m + ve * dt_s, state.north_m + vn * dt_s
    # Vertical: rate-limited, no overshoot.
    du = target_enu_m[2] - state.up_m
    rate = limits.climb_m_s if du > 0 else limits.descent_m_s
    vu = math.copysign(min(abs(du) / dt_s, rate), du) if du else 0.0
    u = state.up_m + vu * dt_s
    yaw = state.yaw_deg
    if yaw_target_deg is not None:
        dy = _wrap_deg(yaw_target_deg - yaw)
        max_dy = limits.yaw_rate_deg_s * dt_s
        yaw = (yaw + max(-max_dy, min(max_dy, dy))) % 360.0
    return replace(state, east_m=e, north_m=n, up_m=u, v_east_m_s=ve, v_north_m_s=vn,
                   v_up_m_s=vu, yaw_deg=yaw)
