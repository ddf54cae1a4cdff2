"""The simulated vehicle's parameters: ArduCopter's real defaults, and the parameter protocol.

Every default below was read in ArduCopter V4.7.0-dev's source (the file is named beside each
group). A vehicle that starts from them does what a stock ArduCopter does: on a lost link or a low
battery it flies on (FS_GCS_ENABLE 0, BATT_FS_LOW_ACT 0), the fence is off (FENCE_ENABLE 0), and
RTL climbs to 15 m. A runner that forgets to set one of them sees that happen in a test.

The protocol is ArduPilot's (GCS_Param.cpp): PARAM_SET and PARAM_REQUEST_READ are answered with
PARAM_VALUE, or with PARAM_ERROR MAV_PARAM_ERROR_DOES_NOT_EXIST for a name the vehicle does not
have; PARAM_REQUEST_LIST sends them all. Integer parameters keep whole values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle

ARDUCOPTER_DEFAULTS: dict[str, float] = {
    # ArduCopter/Parameters.cpp, config.h, defines.h
    "FS_GCS_ENABLE": 0,  # FS_GCS_DISABLED
    "FS_GCS_TIMEOUT": 5,
    "FS_OPTIONS": 16,  # GCS_CONTINUE_IF_PILOT_CONTROL
    "FS_EKF_ACTION": 1,  # FS_EKF_ACTION_LAND
    "FS_EKF_THRESH": 0.8,
    "WP_YAW_BEHAVIOR": 2,  # look at the next waypoint except in RTL
    # ArduCopter/mode_rtl.cpp (RTL_ALT in centimetres became RTL_ALT_M in metres, Jan 2026)
    "RTL_ALT_M": 15,
    "RTL_ALT_FINAL_M": 0,
    "RTL_CLIMB_MIN_M": 0,
    "RTL_SPEED_MS": 0,
    "RTL_LOIT_TIME": 5000,  # ms, ArduCopter/Parameters.cpp (RTL_LOITER_TIME)
    # libraries/AP_BattMonitor/AP_BattMonitor_Params.cpp, AP_BattMonitor.cpp
    "BATT_MONITOR": 0,  # no monitor: SITL's copter.parm sets 4 (SITL_DEFAULTS)
    "BATT_CAPACITY": 3300,
    "BATT_LOW_TIMER": 10,
    "BATT_FS_VOLTSRC": 0,  # raw voltage
    "BATT_LOW_VOLT": 10.5,  # DEFAULT_LOW_BATTERY_VOLTAGE for Copter
    "BATT_LOW_MAH": 0,
    "BATT_CRT_VOLT": 0,
    "BATT_CRT_MAH": 0,
    "BATT_FS_LOW_ACT": 0,  # warn only
    "BATT_FS_CRT_ACT": 0,  # warn only
    "BATT_ARM_VOLT": 0,
    "BATT_ARM_MAH": 0,
    # libraries/AC_Fence/AC_Fence.cpp
    "FENCE_ENABLE": 0,
    "FENCE_TYPE": 7,  # max altitude, circle, polygon
    "FENCE_ACTION": 1,  # RTL or LAND
    "FENCE_ALT_MAX": 100,
    "FENCE_RADIUS": 300,
    "FENCE_MARGIN": 2,
}
# Tools/autotest/default_params/copter.parm: what SITL changes; libraries/SITL/SITL.cpp: its SIM_ parameters
SITL_DEFAULTS: dict[str, float] = {
    "BATT_MONITOR": 4,  # analog voltage and current
    "FENCE_RADIUS": 150,
    "SIM_BATT_VOLTAGE": 12.6,
    "SIM_BATT_CAP_AH": 0,
    "SIM_GPS1_ENABLE": 1,
}
FLOAT_PARAMS = {"FS_EKF_THRESH", "FS_GCS_TIMEOUT", "RTL_ALT_M", "RTL_ALT_FINAL_M", "RTL_CLIMB_MIN_M", "RTL_SPEED_MS",
                "BATT_LOW_VOLT", "BATT_CRT_VOLT", "BATT_ARM_VOLT", "FENCE_ALT_MAX", "FENCE_RADIUS", "FENCE_MARGIN",
                "SIM_BATT_VOLTAGE", "SIM_BATT_CAP_AH"}
BATT_GROUP = "BATT_"  # hidden while BATT_MONITOR is 0 (AP_PARAM_FLAG_ENABLE), as on ArduCopter


class Params:
    """Parameter store and protocol. ``on_set[name]`` callbacks let other parts react (SIM_ faults)."""

    def __init__(self, v: "SimVehicle", start: dict[str, float]) -> None:
        self.v = v
        self.values: dict[str, float] = {**ARDUCOPTER_DEFAULTS, **SITL_DEFAULTS}
        for k, val in start.items():
            if k not in self.values:
                raise KeyError(f"SimConfig.params: {k!r} is not a parameter of the simulated vehicle")
            self.values[k] = float(val)
        self.on_set: dict[str, Callable[[float], None]] = {}

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def known(self, name: str) -> bool:
        if name not in self.values:
            return False
        return not (name.startswith(BATT_GROUP) and name != "BATT_MONITOR" and not self.values["BATT_MONITOR"])

    def set(self, name: str, value: float) -> None:
        self.values[name] = float(value) if name in FLOAT_PARAMS else float(int(value))
        cb = self.on_set.get(name)
        if cb is not None:
            cb(self.values[name])

    def _value_msg(self, name: str):
        names = sorted(n for n in self.values if self.known(n))
        ptype = mavlink.MAV_PARAM_TYPE_REAL32 if name in FLOAT_PARAMS else mavlink.MAV_PARAM_TYPE_INT32
        return self.v.conn.mav.param_value_encode(name.encode("ascii"), self.values[name], ptype, len(names),
                                                  names.index(name))

    def mavlink_packet(self, msg) -> None:
        kind = msg.get_type()
        if kind == "PARAM_REQUEST_LIST":
            for name in sorted(n for n in self.values if self.known(n)):
                self.v.send(self._value_msg(name))
            return
        if kind not in ("PARAM_SET", "PARAM_REQUEST_READ"):
            return
        pid = msg.param_id.decode("ascii", "replace") if isinstance(msg.param_id, bytes) else str(msg.param_id)
        pid = pid.rstrip("\x00")
        if not self.known(pid):
            self.v.send(self.v.conn.mav.param_error_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                           pid.encode("ascii", "replace")[:16], -1,
                                                           mavlink.MAV_PARAM_ERROR_DOES_NOT_EXIST))
            return
        if kind == "PARAM_SET":
            self.set(pid, float(msg.param_value))
        self.v.send(self._value_msg(pid))
