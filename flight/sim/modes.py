"""Copter modes, arming and the commands a ground station sends (COMMAND_LONG / COMMAND_INT, SET_MODE).

As ArduCopter: position modes need a position estimate ("Mode change to X failed: requires
position"); AUTO needs a mission, and a takeoff first when armed on the ground; arming only in
STABILIZE / GUIDED / LOITER and only when the pre-arm checks pass (EKF, battery, fence), each
refusal explained by a "PreArm:" or "Arm:" STATUSTEXT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mission import NAV_COMMANDS
from flight.results import CommandResult
from flight.sim.config import LANDED_TAKEOFF
from flight.sim_kinematics import COPTER_MODES

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle

MODE_NAMES = {v: k for k, v in COPTER_MODES.items()}
POSITION_MODES = {"GUIDED", "LOITER", "AUTO", "RTL", "BRAKE"}
ARMABLE_MODES = {"STABILIZE", "GUIDED", "LOITER"}
FLOWN_MODES = {"STABILIZE", "ALT_HOLD", "AUTO", "GUIDED", "LOITER", "RTL", "LAND", "BRAKE"}  # SMART_RTL is not simulated
FORCE_MAGIC = 21196


class Modes:
    def __init__(self, v: "SimVehicle") -> None:
        self.v = v

    def set_mode(self, name: str, *, reason: str = "") -> bool:
        v = self.v
        if name not in FLOWN_MODES:
            return False
        if name in POSITION_MODES and not v.estimator.ok():
            v.text(f"Mode change to {name} failed: requires position", mavlink.MAV_SEVERITY_WARNING)
            return False
        if name == "AUTO":
            nav = [it for it in v.mission.items[0][1:] if it.command in NAV_COMMANDS]
            if not nav:
                v.text("Mode change to AUTO failed: no mission", mavlink.MAV_SEVERITY_WARNING)
                return False
            if v.armed and v.landed and nav[0].command != mavlink.MAV_CMD_NAV_TAKEOFF:
                v.text("Auto: Missing Takeoff Cmd", mavlink.MAV_SEVERITY_WARNING)
                return False
        v.mode = name
        ph = v.nav
        if name in ("LOITER", "BRAKE", "GUIDED", "STABILIZE", "ALT_HOLD"):
            ph.hold_here()
        elif name == "RTL":
            ph.start_rtl()
        elif name == "LAND":
            ph.start_land()
        elif name == "AUTO":
            v.mission.start_auto()
        if reason:
            v.text(reason, mavlink.MAV_SEVERITY_CRITICAL)
        return True

    def rtl_or_land(self, reason: str = "") -> None:
        """ArduCopter's set_mode_RTL_or_land_with_pause."""
        if not self.set_mode("RTL", reason=reason):
            self.set_mode("LAND", reason=reason)

    def prearm_failure(self) -> str | None:
        v = self.v
        if not v.estimator.ok():
            return "PreArm: Need Position Estimate" if v.estimator.fix >= 3 or v.cfg.indoor else "PreArm: GPS 1: Bad fix"
        batt = v.battery.prearm_failure()
        if batt:
            return batt
        if v.failsafes.fence_enabled() and v.failsafes.fence_breaches():
            return "PreArm: Fence: vehicle outside fence"
        return None

    def arm(self, force: bool) -> CommandResult:
        v, R = self.v, mavlink
        if v.armed:
            return CommandResult.ACCEPTED
        if v.mode not in ARMABLE_MODES:
            v.text("Arm: Mode not armable", R.MAV_SEVERITY_CRITICAL)
            return CommandResult.FAILED
        if v.cfg.faults.refuse_arm_reason:
            v.text(f"Arm: {v.cfg.faults.refuse_arm_reason}", R.MAV_SEVERITY_CRITICAL)
            return CommandResult.FAILED
        failure = None if force else self.prearm_failure()
        if failure:
            v.text(failure, R.MAV_SEVERITY_CRITICAL)
            return CommandResult.FAILED
        v.armed = True
        v.arm_or_land_t = v.t
        if v.first_armed_t is None:
            v.first_armed_t = v.t
        v.home_enu = (v.nav.state.east_m, v.nav.state.north_m, 0.0)
        v.failsafes.reset()
        v.text("Arming motors")
        v.telemetry.send_one("HOME_POSITION")
        return CommandResult.ACCEPTED

    def disarm(self, why: str) -> None:
        v = self.v
        if v.armed:
            v.armed = False
            v.text(f"Disarming motors ({why})")
        v.nav.nav = None

    def mavlink_packet(self, msg) -> None:
        kind = msg.get_type()
        if kind in ("COMMAND_LONG", "COMMAND_INT"):
            self._command(msg)
        elif kind == "SET_MODE":
            name = MODE_NAMES.get(msg.custom_mode)
            ok = name is not None and self.set_mode(name)
            self.v.ack(mavlink.MAVLINK_MSG_ID_SET_MODE, CommandResult.ACCEPTED if ok else CommandResult.FAILED)

    def _command(self, msg) -> None:
        v, R = self.v, mavlink
        c = msg.command
        p = [msg.param1, msg.param2, msg.param3, msg.param4, msg.param5 if hasattr(msg, "param5") else msg.x,
             msg.param6 if hasattr(msg, "param6") else msg.y, msg.param7 if hasattr(msg, "param7") else msg.z]
        if c == R.MAV_CMD_COMPONENT_ARM_DISARM:
            force = int(round(p[1])) == FORCE_MAGIC
            if p[0] >= 0.5:
                v.ack(c, self.arm(force))
            elif not v.landed and not force:
                v.text("Disarm: vehicle is flying", R.MAV_SEVERITY_WARNING)
                v.ack(c, CommandResult.FAILED)
            else:
                self.disarm("GCS")
                v.ack(c, CommandResult.ACCEPTED)
        elif c == R.MAV_CMD_DO_SET_MODE:
            name = MODE_NAMES.get(int(p[1]))
            v.ack(c, CommandResult.ACCEPTED if name and self.set_mode(name) else CommandResult.FAILED)
        elif c == R.MAV_CMD_NAV_TAKEOFF:
            if v.mode != "GUIDED" or not v.armed or not v.landed:
                v.ack(c, CommandResult.FAILED)
            else:
                s = v.nav.state
                v.nav.target = (s.east_m, s.north_m, max(0.5, p[6]))
                v.landed, v.landed_state = False, LANDED_TAKEOFF
                v.ack(c, CommandResult.ACCEPTED)
        elif c == R.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            v.ack(c, CommandResult.ACCEPTED if self.set_mode("RTL") else CommandResult.FAILED)
        elif c == R.MAV_CMD_NAV_LAND:
            v.ack(c, CommandResult.ACCEPTED if self.set_mode("LAND") else CommandResult.FAILED)
        elif c == R.MAV_CMD_SET_MESSAGE_INTERVAL:
            v.ack(c, CommandResult.ACCEPTED if v.telemetry.set_interval(int(p[0]), p[1]) else CommandResult.DENIED)
        elif c in (R.MAV_CMD_REQUEST_MESSAGE, R.MAV_CMD_GET_HOME_POSITION, R.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES):
            name = {R.MAV_CMD_GET_HOME_POSITION: "HOME_POSITION",
                    R.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: "AUTOPILOT_VERSION"}.get(c) or v.telemetry.name_of(int(p[0]))
            if name is None:
                v.ack(c, CommandResult.DENIED)
                return
            v.ack(c, CommandResult.ACCEPTED)
            v.telemetry.send_one(name)
        elif c == R.MAV_CMD_DO_SET_MISSION_CURRENT:
            v.mission.set_current(int(p[0]))
            v.ack(c, CommandResult.ACCEPTED)
        elif c == R.MAV_CMD_DO_CHANGE_SPEED:
            if p[1] > 0:
                v.nav.speed_m_s = float(p[1])
            v.ack(c, CommandResult.ACCEPTED)
        elif c == R.MAV_CMD_CONDITION_YAW:  # ArduCopter: a fixed heading, in the modes that steer it (AUTO, GUIDED)
            if not v.armed or v.mode not in ("AUTO", "GUIDED"):
                v.ack(c, CommandResult.FAILED)
                return
            ph = v.nav
            ph.yaw_target = (ph.state.yaw_deg + p[0] * (1 if p[2] >= 0 else -1)) % 360.0 if p[3] else p[0] % 360.0
            ph.yaw_fixed = True
            v.ack(c, CommandResult.ACCEPTED)
        else:
            v.ack(c, CommandResult.UNSUPPORTED)
