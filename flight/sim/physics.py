"""Where the simulated vehicle is and where it is going: the navigation phase (takeoff, waypoint,
RTL, land) and one point-mass step toward its target (``flight.sim_kinematics``).

RTL as ArduCopter's mode_rtl.cpp: climb to max(RTL_ALT_M, the current altitude), capped under the
altitude fence (FENCE_ALT_MAX - FENCE_MARGIN) when that fence is on; fly to the nearest rally
point or home; loiter RTL_LOIT_TIME; descend and land.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from flight.sim.config import LANDED_IN_AIR, LANDED_LANDING, LANDED_ON_GROUND, LANDED_TAKEOFF
from flight.sim_kinematics import State, step

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle

FENCE_ALT_MAX_BIT = 1


class Physics:
    def __init__(self, v: "SimVehicle") -> None:
        self.v = v
        self.state = State()
        self.target = (0.0, 0.0, 0.0)
        self.yaw_target: float | None = None
        self.yaw_fixed = False  # a CONDITION_YAW heading is in force
        self.speed_m_s = v.cfg.wp_speed_m_s
        self.nav: dict | None = None  # the running navigation phase
        self._prev_v = (0.0, 0.0)
        self.acc = (0.0, 0.0)

    @property
    def pos(self) -> tuple[float, float, float]:
        return self.state.east_m, self.state.north_m, self.state.up_m

    def hold_here(self) -> None:
        self.nav = None
        self.target = self.pos
        self.yaw_target, self.yaw_fixed = None, False

    def start_land(self, *, seq: int | None = None, at: tuple[float, float] | None = None) -> None:
        e, n, u = self.pos
        if at is None:
            self.nav = {"kind": "land", "phase": "descend"}
            self.target = (e, n, 0.0)
        else:
            self.nav = {"kind": "land", "phase": "approach"}
            self.target = (at[0], at[1], u)
        if seq is not None:
            self.nav["seq"] = seq

    def start_rtl(self, *, seq: int | None = None) -> None:
        v, p = self.v, self.v.params
        e, n, u = self.pos
        candidates = [v.home_enu] + [(x, y, 0.0) for x, y, _ in v.mission.rally_enu()]
        dest = min(candidates, key=lambda c: math.hypot(c[0] - e, c[1] - n))
        alt = max(p["RTL_ALT_M"], u + p["RTL_CLIMB_MIN_M"], 0.3)
        if v.failsafes.fence_enabled() and int(p["FENCE_TYPE"]) & FENCE_ALT_MAX_BIT:
            alt = min(alt, p["FENCE_ALT_MAX"] - p["FENCE_MARGIN"])
        self.nav = {"kind": "rtl", "phase": "climb", "dest": dest, "alt": alt, "t": v.t}
        if seq is not None:
            self.nav["seq"] = seq
        self.target = (e, n, alt)

    def tick(self, dt: float) -> None:
        v = self.v
        flying = v.armed and not v.landed
        nav = self.nav
        if flying and nav is not None:
            self._phase(nav)
        if flying:
            self._move(dt)
        else:
            self.acc = (0.0, 0.0)
        # auto-disarm on the ground
        if v.armed and v.landed and v.landed_state == LANDED_ON_GROUND:
            if v.t - v.arm_or_land_t >= v.cfg.disarm_delay_s:
                v.modes.disarm("auto disarm")

    def _phase(self, nav: dict) -> None:
        v = self.v
        e, n, u = self.pos
        d_h = math.hypot(self.target[0] - e, self.target[1] - n)
        d_v = abs(self.target[2] - u)
        if nav["kind"] == "takeoff" and d_v < 0.1:
            v.landed_state = LANDED_IN_AIR
            if v.mode == "AUTO":
                v.mission.reached(nav["seq"])
        elif nav["kind"] == "wp" and d_h < v.cfg.wp_radius_m and d_v < 0.2:
            if nav["arrived"] is None:
                nav["arrived"] = v.t
            if v.t - nav["arrived"] >= nav["hold"]:
                v.mission.reached(nav["seq"])
        elif nav["kind"] == "rtl":
            if nav["phase"] == "climb" and d_v < 0.1:
                nav["phase"] = "return"
                self.target = (nav["dest"][0], nav["dest"][1], nav["alt"])
            elif nav["phase"] == "return" and d_h < v.cfg.wp_radius_m and d_v < 0.1:
                nav["phase"], nav["t"] = "loiter", v.t
            elif nav["phase"] == "loiter" and v.t - nav["t"] >= v.params["RTL_LOIT_TIME"] / 1000.0:
                nav["phase"] = "descend"
                self.target = (nav["dest"][0], nav["dest"][1], 0.0)
                v.landed_state = LANDED_LANDING
        elif nav["kind"] == "land" and nav["phase"] == "approach" and d_h < v.cfg.wp_radius_m:
            nav["phase"] = "descend"
            self.target = (self.target[0], self.target[1], 0.0)
            v.landed_state = LANDED_LANDING

    def _move(self, dt: float) -> None:
        v = self.v
        s = self.state
        nav = self.nav
        descending = nav is not None and nav.get("phase") == "descend"
        lim = v.cfg.limits
        if descending and s.up_m < 3.0:
            lim = replace(lim, descent_m_s=v.cfg.land_speed_m_s)
        yaw_t = self.yaw_target
        d = math.hypot(self.target[0] - s.east_m, self.target[1] - s.north_m)
        if yaw_t is None and d > 2.0 and v.mode in ("AUTO", "RTL") and v.params["WP_YAW_BEHAVIOR"] != 0:
            yaw_t = math.degrees(math.atan2(self.target[0] - s.east_m, self.target[1] - s.north_m)) % 360.0
        speed = self.speed_m_s if v.mode == "AUTO" else lim.max_speed_m_s
        self.state = step(s, target_enu_m=self.target, yaw_target_deg=yaw_t, speed_m_s=speed, limits=lim, dt_s=dt)
        self.acc = ((self.state.v_east_m_s - self._prev_v[0]) / dt, (self.state.v_north_m_s - self._prev_v[1]) / dt)
        self._prev_v = (self.state.v_east_m_s, self.state.v_north_m_s)
        if v.landed_state == LANDED_TAKEOFF and self.state.up_m >= self.target[2] - 0.1:
            v.landed_state = LANDED_IN_AIR
        if descending and self.state.up_m <= 0.01:
            self.state = replace(self.state, up_m=0.0, v_east_m_s=0.0, v_north_m_s=0.0, v_up_m_s=0.0)
            v.landed, v.landed_state = True, LANDED_ON_GROUND
            if nav is not None and "seq" in nav and v.mode == "AUTO":
                v.mission.landed_at_end(nav["seq"])
            v.text("Land complete")
            v.modes.disarm("landed")
