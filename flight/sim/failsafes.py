"""The simulated vehicle's failsafes, each as ArduCopter decides it from its parameters, and the
faults injected at set times.

- Battery (AP_BattMonitor.cpp check_failsafes, Copter events.cpp handle_battery_failsafe):
  "Battery 1 is low 10.00V used 123 mAh", then "Battery Failsafe" and BATT_FS_LOW_ACT /
  BATT_FS_CRT_ACT (0 warn only, the default). An action only replaces a stronger one's mode when
  it ranks as high in Copter's list (terminate, land, RTL, SmartRTL-or-land, SmartRTL, none).
- GCS (events.cpp failsafe_gcs_check): only when FS_GCS_ENABLE is not 0 and a GCS has been heard;
  FS_GCS_TIMEOUT seconds without its heartbeat -> "GCS Failsafe" and the action, unless FS_OPTIONS
  exempts the mode (bit 2: continue in AUTO; bit 16: continue in pilot-controlled modes).
- EKF (ekf_check.cpp): a second of bad variance (over FS_EKF_THRESH, or no position) ->
  "EKF variance", then FS_EKF_ACTION: 1 LAND where the mode needs a position, 2 ALT_HOLD,
  3 LAND always, 0 report only ("EKF Failsafe").
- Fence (Copter fence.cpp, AC_Fence.cpp): only with FENCE_ENABLE 1, for the FENCE_TYPE bits
  (1 max altitude, 2 circle of FENCE_RADIUS around home, 4 the uploaded polygons):
  "Polygon fence breached" and FENCE_ACTION (0 report, 1 RTL or LAND, 2 LAND, 4 BRAKE or LAND).
Actions without their mode in the simulation fall back as ArduCopter's own fallbacks do
(SmartRTL -> RTL, DO_LAND_START -> RTL).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.sim.battery import BattFailsafe

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle

# Copter FailsafeAction (BATT_FS_*_ACT values) -> priority (lower acts over higher), events.cpp
NONE, LAND, RTL, SMARTRTL, SMARTRTL_LAND, TERMINATE, AUTO_DO_LAND_START, BRAKE_LAND = range(8)
PRIORITY = {TERMINATE: 0, LAND: 1, RTL: 2, SMARTRTL_LAND: 3, SMARTRTL: 4, NONE: 5}
GCS_ACTION = {1: RTL, 2: RTL, 3: SMARTRTL, 4: SMARTRTL_LAND, 5: LAND, 6: AUTO_DO_LAND_START, 7: BRAKE_LAND}
FENCE_ALT_MAX, FENCE_CIRCLE, FENCE_POLYGON = 1, 2, 4
FENCE_NAMES = {FENCE_ALT_MAX: "Max Alt", FENCE_CIRCLE: "Circle", FENCE_POLYGON: "Polygon"}
AUTOPILOT_MODES = {"AUTO", "GUIDED", "RTL", "LAND", "BRAKE"}
FS_OPT_GCS_CONTINUE_IF_AUTO, FS_OPT_CONTINUE_IF_LANDING, FS_OPT_GCS_CONTINUE_IF_PILOT = 2, 8, 16


def fence_names(bits: int) -> str:
    """AC_Fence::get_fence_names: 'Polygon fence', 'Max Alt and Polygon fences'."""
    names = [n for b, n in sorted(FENCE_NAMES.items()) if bits & b]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{text} fence" + ("s" if len(names) > 1 else "")


class Failsafes:
    def __init__(self, v: "SimVehicle") -> None:
        self.v = v
        self.last_gcs_hb: tuple[float, float] | None = None  # (sim, wall)
        self.reset()

    def reset(self) -> None:
        self.gcs = self.ekf = False
        self.ekf_bad_since: float | None = None
        self.fence_breached = 0
        self.batt_priority = 99
        self.v.battery.failsafe = BattFailsafe.NONE

    def mavlink_packet(self, msg) -> None:
        if msg.get_type() == "HEARTBEAT" and msg.type == mavlink.MAV_TYPE_GCS and msg.get_srcSystem() == 255:
            self.last_gcs_hb = (self.v.t, time.monotonic())  # MAV_GCS_SYSID 255

    # -- actions -------------------------------------------------------------------------------
    def _do(self, action: int) -> None:
        """Copter::do_failsafe_action."""
        m = self.v.modes
        if action == NONE:
            return
        if action in (LAND, SMARTRTL_LAND):
            m.set_mode("LAND")
        elif action in (RTL, SMARTRTL, AUTO_DO_LAND_START):
            m.rtl_or_land()
        elif action == BRAKE_LAND:
            if not m.set_mode("BRAKE"):
                m.set_mode("LAND")
        elif action == TERMINATE:
            m.disarm("failsafe terminate")

    def _flying(self) -> bool:
        return self.v.armed and not self.v.landed

    # -- checks, run every tick ----------------------------------------------------------------
    def tick(self) -> None:
        v = self.v
        self._battery()
        if not v.armed:
            return
        self._gcs()
        self._ekf()
        self._fence()

    def _battery(self) -> None:
        v = self.v
        level = v.battery.update_failsafe()
        if level is None:
            return
        p = v.params
        kind, action = ("critical", int(p["BATT_FS_CRT_ACT"])) if level == BattFailsafe.CRITICAL else \
            ("low", int(p["BATT_FS_LOW_ACT"]))
        v.text(f"Battery 1 is {kind} {v.battery.voltage():.2f}V used {v.battery.consumed_mah:.0f} mAh",
               mavlink.MAV_SEVERITY_WARNING)
        prio = PRIORITY.get(action, 6)
        if prio > self.batt_priority:
            return
        self.batt_priority = prio
        if not self._flying():
            v.modes.disarm("battery failsafe")
            v.text("Battery Failsafe - Disarming", mavlink.MAV_SEVERITY_WARNING)
            return
        if v.nav.nav and v.nav.nav.get("phase") == "descend" and int(p["FS_OPTIONS"]) & FS_OPT_CONTINUE_IF_LANDING \
                and action != NONE:
            v.text("Battery Failsafe - Continuing Landing", mavlink.MAV_SEVERITY_WARNING)
            action = LAND
        else:
            v.text("Battery Failsafe", mavlink.MAV_SEVERITY_WARNING)
        self._do(action)

    def _gcs(self) -> None:
        v, p = self.v, self.v.params
        if not p["FS_GCS_ENABLE"] or self.last_gcs_hb is None:
            return
        t_sim, t_wall = self.last_gcs_hb
        timeout = p["FS_GCS_TIMEOUT"]
        late = v.t - t_sim > timeout and time.monotonic() - t_wall > v.cfg.min_wall_timeout_s
        if self.gcs and not late:
            self.gcs = False
            v.text("GCS Failsafe Cleared", mavlink.MAV_SEVERITY_WARNING)
            return
        if self.gcs or not late:
            return
        self.gcs = True
        action = GCS_ACTION.get(int(p["FS_GCS_ENABLE"]), RTL)
        opts = int(p["FS_OPTIONS"])
        landing = v.mode == "LAND" or (v.nav.nav or {}).get("phase") == "descend"
        if not self._flying():
            v.modes.disarm("GCS failsafe")
            v.text("GCS Failsafe - Disarming", mavlink.MAV_SEVERITY_WARNING)
            return
        if landing and opts & FS_OPT_CONTINUE_IF_LANDING:
            v.text("GCS Failsafe - Continuing Landing", mavlink.MAV_SEVERITY_WARNING)
            action = LAND
        elif v.mode == "AUTO" and opts & FS_OPT_GCS_CONTINUE_IF_AUTO:
            v.text("GCS Failsafe - Continuing Auto Mode", mavlink.MAV_SEVERITY_WARNING)
            return
        elif opts & FS_OPT_GCS_CONTINUE_IF_PILOT and v.mode not in AUTOPILOT_MODES:
            v.text("GCS Failsafe - Continuing Pilot Control", mavlink.MAV_SEVERITY_WARNING)
            return
        else:
            v.text("GCS Failsafe", mavlink.MAV_SEVERITY_WARNING)
        if v.mode == "LAND" and action == LAND:
            return
        self._do(action)

    def _ekf(self) -> None:
        v, p = self.v, self.v.params
        thresh = p["FS_EKF_THRESH"]
        if thresh <= 0 or v.t < v.cfg.ekf_ready_s:
            self.ekf_bad_since = None
            return
        est = v.estimator
        bad = not est.ok() or est.position_variance() >= thresh
        if not bad:
            self.ekf_bad_since = None
            if self.ekf:
                self.ekf = False
                v.text("EKF Failsafe Cleared", mavlink.MAV_SEVERITY_CRITICAL)
            return
        self.ekf_bad_since = self.ekf_bad_since if self.ekf_bad_since is not None else v.t
        if self.ekf or v.t - self.ekf_bad_since < 1.0:
            return
        self.ekf = True
        v.text("EKF variance", mavlink.MAV_SEVERITY_CRITICAL)
        action = int(p["FS_EKF_ACTION"])
        needs_position = v.mode in ("AUTO", "GUIDED", "LOITER", "RTL", "BRAKE")
        if action == 0 or v.mode == "LAND" or (not needs_position and action != 3):
            v.text("EKF Failsafe", mavlink.MAV_SEVERITY_CRITICAL)
            return
        if action == 2:
            v.modes.set_mode("ALT_HOLD")
        else:
            v.modes.set_mode("LAND")
        v.text(f"EKF Failsafe: changed to {v.mode} Mode", mavlink.MAV_SEVERITY_CRITICAL)

    def fence_enabled(self) -> bool:
        return bool(self.v.params["FENCE_ENABLE"])

    def fence_breaches(self) -> int:
        """Bits of the enabled fences the vehicle is outside now."""
        v, p = self.v, self.v.params
        types = int(p["FENCE_TYPE"])
        e, n, u = v.nav.pos
        out = 0
        if types & FENCE_ALT_MAX and u > p["FENCE_ALT_MAX"]:
            out |= FENCE_ALT_MAX
        if types & FENCE_CIRCLE and math.hypot(e - v.home_enu[0], n - v.home_enu[1]) > p["FENCE_RADIUS"]:
            out |= FENCE_CIRCLE
        if types & FENCE_POLYGON and v.mission.items[1] and _outside_polygons((e, n), v.mission.items[1], v.item_enu):
            out |= FENCE_POLYGON
        return out

    def _fence(self) -> None:
        v, p = self.v, self.v.params
        if not self.fence_enabled():
            return
        now = self.fence_breaches()
        new = now & ~self.fence_breached
        if not now and self.fence_breached:
            v.text("Fence breach cleared", mavlink.MAV_SEVERITY_NOTICE)
        self.fence_breached = now
        if not new:
            return
        v.text(f"{fence_names(new)} breached", mavlink.MAV_SEVERITY_NOTICE)
        action = int(p["FENCE_ACTION"])
        if action == 0:
            return
        if not self._flying():
            v.modes.disarm("fence breach")
        elif action == 2:
            v.modes.set_mode("LAND")
        elif action == 4:
            if not v.modes.set_mode("BRAKE"):
                v.modes.set_mode("LAND")
        elif v.mode not in ("RTL", "LAND"):
            v.modes.rtl_or_land()


def _outside_polygons(p, items, item_enu) -> bool:
    """Outside an inclusion polygon or circle, or inside an exclusion one (the uploaded fence)."""
    R = mavlink
    i = 0
    while i < len(items):
        it = items[i]
        cmd = it.command
        if cmd in (R.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, R.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION):
            n = max(1, int(it.param1))
            inside = _point_in_polygon(p, [item_enu(x)[:2] for x in items[i:i + n]])
            if (cmd == R.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION) != inside:
                return True
            i += n
        else:
            c = item_enu(it)
            inside = math.hypot(p[0] - c[0], p[1] - c[1]) <= it.param1
            if (cmd == R.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION) != inside:
                return True
            i += 1
    return False


def _point_in_polygon(p, poly) -> bool:
    x, y = p
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / ((yj - yi) or 1e-12) + xi:
            inside = not inside
        j = i
    return inside
