"""The simulated pack and ArduCopter's battery monitor (AP_BattMonitor) over it.

The pack: a LiPo whose resting voltage runs from 4.2 V a cell full to 3.5 V empty, with an
internal resistance that sags it under load. SIM_BATT_VOLTAGE, set over MAVLink as on SITL (or by
``Faults.battery_voltage_at_s``), pins the voltage there, without sag, as SITL does with
SIM_BATT_CAP_AH 0.

The monitor counts mAh from boot (it does not know how full the pack was), reports the remaining
share of BATT_CAPACITY, and raises its failsafe as AP_BattMonitor_Backend does: critical or low
voltage (raw, or sag-compensated with BATT_FS_VOLTSRC 1) once it has lasted BATT_LOW_TIMER
seconds; critical or low capacity (BATT_CAPACITY - used < BATT_CRT_MAH / BATT_LOW_MAH) at once.
Only while armed, and only ever upwards (none < low < critical), as ``check_failsafes``.

The sag-compensated voltage is ArduPilot's own estimate (``update_resistance_estimate``): the
pack's resistance learnt from voltage against current, capped by (highest voltage seen - now) /
(current now - current then). A sudden drop at a steady current (a failing cell, or SITL's
SIM_BATT_VOLTAGE) is taken for sag: the estimate stays near the old voltage and the failsafe never
comes (measured on ArduCopter SITL), which is why the warehouse profile keeps the raw voltage.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle


class BattFailsafe(IntEnum):
    NONE = 0
    LOW = 2
    CRITICAL = 3


class Battery:
    def __init__(self, v: "SimVehicle") -> None:
        self.v = v
        self.pack_used_mah = 0.0  # what the pack has given
        self.consumed_mah = 0.0  # what the monitor counted since boot
        self.pinned_v: float | None = None  # SIM_BATT_VOLTAGE set: the resting voltage held there
        self.failsafe = BattFailsafe.NONE
        self.resting_estimate_v = 0.0  # AP_BattMonitor's voltage_resting_estimate
        self._res = _ResistanceEstimate()
        self._low_since: float | None = None
        self._crit_since: float | None = None
        v.params.on_set["SIM_BATT_VOLTAGE"] = self._pin

    def _pin(self, volts: float) -> None:
        self.pinned_v = volts

    def current_a(self) -> float:
        v = self.v
        if not v.armed:
            return 0.5
        if v.landed:
            return 3.0
        s = v.nav.state
        return v.cfg.hover_current_a + 1.5 * (s.v_east_m_s ** 2 + s.v_north_m_s ** 2) ** 0.5 + 4.0 * max(0.0, s.v_up_m_s)

    def resting_v(self) -> float:
        if self.pinned_v is not None:
            return self.pinned_v
        cfg = self.v.cfg
        soc = max(0.0, 1.0 - self.pack_used_mah / cfg.battery_capacity_mah)
        return cfg.battery_cells * (3.5 + 0.7 * soc)

    def voltage(self) -> float:
        if self.pinned_v is not None:
            return self.pinned_v  # SITL with SIM_BATT_CAP_AH 0: the set voltage, no sag (SIM_Battery.cpp)
        return self.resting_v() - self.v.cfg.battery_resistance_ohm * self.current_a()

    def remaining_pct(self) -> float:
        cap = self.v.params["BATT_CAPACITY"]
        if cap <= 0:
            return -1.0
        return max(0.0, min(100.0, 100.0 * (1.0 - self.consumed_mah / cap)))

    def tick(self, dt: float) -> None:
        amps = self.current_a()
        mah = amps * dt / 3.6
        self.pack_used_mah += mah
        self.consumed_mah += mah
        volts = self.voltage()
        self.resting_estimate_v = max(volts, self._res.update(volts, amps, dt))

    def levels(self) -> tuple[bool, bool, bool, bool]:
        """(low voltage, low capacity, critical voltage, critical capacity), as check_failsafe_types."""
        p = self.v.params
        volts = self.resting_estimate_v if p["BATT_FS_VOLTSRC"] == 1 else self.voltage()
        left = p["BATT_CAPACITY"] - self.consumed_mah
        return (0 < p["BATT_LOW_VOLT"] and volts < p["BATT_LOW_VOLT"],
                0 < p["BATT_LOW_MAH"] and left < p["BATT_LOW_MAH"],
                0 < p["BATT_CRT_VOLT"] and volts < p["BATT_CRT_VOLT"],
                0 < p["BATT_CRT_MAH"] and left < p["BATT_CRT_MAH"])

    def update_failsafe(self) -> BattFailsafe | None:
        """The new, higher failsafe level when one is reached now (armed only), else None."""
        if not self.v.params["BATT_MONITOR"]:
            return None
        low_v, low_c, crit_v, crit_c = self.levels()
        t, timer = self.v.t, self.v.params["BATT_LOW_TIMER"]
        self._crit_since = (self._crit_since if self._crit_since is not None else t) if crit_v else None
        self._low_since = (self._low_since if self._low_since is not None else t) if low_v else None
        level = BattFailsafe.NONE
        if (crit_v and timer > 0 and t - self._crit_since > timer) or crit_c:
            level = BattFailsafe.CRITICAL
        elif (low_v and timer > 0 and t - self._low_since > timer) or low_c:
            level = BattFailsafe.LOW
        if not self.v.armed or level <= self.failsafe:
            return None
        self.failsafe = level
        return level

    def prearm_failure(self) -> str | None:
        """AP_BattMonitor_Backend::arming_checks, as 'PreArm: Battery 1 ...'."""
        if not self.v.params["BATT_MONITOR"]:
            return None
        p = self.v.params
        low_v, low_c, crit_v, crit_c = self.levels()
        for bad, what in ((0 < p["BATT_ARM_VOLT"] and self.voltage() < p["BATT_ARM_VOLT"], "below minimum arming voltage"),
                          (0 < p["BATT_ARM_MAH"] and p["BATT_CAPACITY"] - self.consumed_mah < p["BATT_ARM_MAH"],
                           "below minimum arming capacity"),
                          (low_v, "low voltage failsafe"), (low_c, "low capacity failsafe"),
                          (crit_v, "critical voltage failsafe"), (crit_c, "critical capacity failsafe"),
                          (0 < p["BATT_CRT_VOLT"] and 0 < p["BATT_LOW_VOLT"] <= p["BATT_CRT_VOLT"],
                           "voltage failsafe critical >= low")):
            if bad:
                return f"PreArm: Battery 1 {what}"
        return None


class _ResistanceEstimate:
    """AP_BattMonitor_Backend::update_resistance_estimate (time constants 0.5 s and 0.1, as
    AP_BATT_MONITOR_RES_EST_TC_1 / _2); returns the resting voltage estimate."""

    def __init__(self) -> None:
        self.resistance = 0.0
        self.v_filt = self.i_filt = 0.0
        self.v_ref = self.i_ref = 0.0
        self.i_max = 0.0
        self.estimate = 0.0

    def update(self, volts: float, amps: float, dt: float) -> float:
        if amps <= 0:
            return self.estimate
        self.i_max = max(self.i_max, amps)
        di = amps - self.i_filt
        if di == 0:
            return self.estimate
        if volts > self.v_ref:
            self.v_ref, self.i_ref = volts, amps
        filt_alpha = min(max(dt / (dt + 0.5), 0.0), 0.5)
        res_alpha = min(1.0, 0.1 * abs(di / self.i_max))
        r = -(volts - self.v_filt) / di
        if r > 0:
            self.resistance = self.resistance * (1 - res_alpha) + r * res_alpha
        if self.v_ref > volts and amps > self.i_ref:
            self.resistance = min(self.resistance, (self.v_ref - volts) / (amps - self.i_ref))
        self.v_filt = self.v_filt * (1 - filt_alpha) + volts * filt_alpha
        self.i_filt = self.i_filt * (1 - filt_alpha) + amps * filt_alpha
        self.estimate = volts + amps * self.resistance
        return self.estimate
