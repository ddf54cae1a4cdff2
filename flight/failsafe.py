"""Failsafe profiles: which ArduCopter parameters a flight needs, and what the runner does on each
signal the vehicle gives.

A profile (YAML, ``flight/profiles/warehouse.yaml`` by default) names parameters to set, parameters
to check without setting (``require``), battery thresholds per cell and as a share of the pack's
capacity, the RTL and fence altitudes relative to the mission, and the runner's policy per signal.
``param_targets`` turns it, the mission and two facts read from the vehicle (its resting voltage
and BATT_CAPACITY) into the exact values to set; the runner sets each and confirms it by
PARAM_VALUE (``flight.runner.MissionRunner.configure_failsafes``).

Parameter names move between ArduCopter versions: RTL_ALT (centimetres) became RTL_ALT_M
(metres) in 4.7 (``mode_rtl.cpp`` converts the old one). ``RENAMED`` lists the older name and its
scale, used when the vehicle does not know the newer one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flight.errors import FlightError

DEFAULT_PROFILE = Path(__file__).resolve().parent / "profiles" / "warehouse.yaml"
# newer name -> (older name, older value per newer unit)
RENAMED: dict[str, tuple[str, float]] = {"RTL_ALT_M": ("RTL_ALT", 100.0)}
MAX_V_PER_CELL = 4.35  # a full LiHV cell; ceil(V / this) is the cell count of a pack above ~3.7 V per cell


class Signal(str, Enum):
    """Something the vehicle says that may end the mission."""

    BATTERY_LOW = "battery_low"
    BATTERY_CRITICAL = "battery_critical"
    SENSOR_UNHEALTHY = "sensor_unhealthy"
    EKF_UNHEALTHY = "ekf_unhealthy"
    FENCE_BREACH = "fence_breach"
    FIX_LOST = "fix_lost"
    UNCOMMANDED_MODE = "uncommanded_mode"
    LINK_LOST = "link_lost"


class Action(str, Enum):
    """What the runner does about a signal, mildest first (it only ever escalates)."""

    REPORT = "REPORT"  # record it; command nothing
    HOLD = "HOLD"  # BRAKE where it is; RTL when the cause outlasts the hold
    RTL = "RTL"
    LAND = "LAND"

    @property
    def rank(self) -> int:
        return list(Action).index(self)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatteryRules(_Strict):
    cells: int | Literal["auto"] = "auto"
    low_v_per_cell: float = Field(3.5, gt=2.5, lt=4.4)
    critical_v_per_cell: float = Field(3.3, gt=2.5, lt=4.4)
    low_remaining_frac: float = Field(0.30, ge=0.0, lt=1.0)
    critical_remaining_frac: float = Field(0.15, ge=0.0, lt=1.0)

    @field_validator("cells")
    @classmethod
    def _cells(cls, v):
        if v != "auto" and not 1 <= v <= 14:
            raise ValueError("must be 'auto' or a cell count 1..14")
        return v


class AltRule(_Strict):
    alt_above_mission_m: float | None = Field(0.0, ge=0.0, le=20.0)  # None: leave the vehicle's value


class ParamRule(_Strict):
    set: float | None = None
    min: float | None = None
    max: float | None = None
    why: str = ""


class Policy(_Strict):
    battery_low: Action = Action.RTL
    battery_critical: Action = Action.LAND
    sensor_unhealthy: Action = Action.LAND
    ekf_unhealthy: Action = Action.LAND
    fence_breach: Action = Action.RTL
    fix_lost: Action = Action.HOLD
    uncommanded_mode: Action = Action.REPORT

    def action(self, signal: Signal) -> Action:
        return getattr(self, signal.value, Action.REPORT)


class FailsafeProfile(_Strict):
    name: str
    battery: BatteryRules = BatteryRules()
    rtl: AltRule = AltRule()
    fence: AltRule = AltRule(alt_above_mission_m=0.5)
    params: dict[str, ParamRule] = {}
    require: dict[str, ParamRule] = {}
    policy: Policy = Policy()

    @field_validator("params", "require")
    @classmethod
    def _names(cls, v: dict[str, ParamRule]):
        for name, rule in v.items():
            if not (name.isascii() and name.replace("_", "").isalnum() and name.upper() == name and len(name) <= 16):
                raise ValueError(f"{name!r} is not an ArduPilot parameter name (A-Z, 0-9, _, at most 16 characters)")
        return v


def load_failsafe_profile(path: str | Path | None = None) -> FailsafeProfile:
    """The profile in ``path`` (the shipped warehouse profile when None); one-line errors."""
    from warehouse.validation import load_yaml_model

    p = Path(path) if path is not None else DEFAULT_PROFILE
    prof = load_yaml_model(p, FailsafeProfile, what="failsafe profile", error=FlightError)
    for name, rule in prof.params.items():
        if rule.set is None:
            raise FlightError(f"{p}: params.{name}.set: missing; expected the value to set (checks go under require:)")
    for name, rule in prof.require.items():
        if rule.set is not None or (rule.min is None and rule.max is None):
            raise FlightError(f"{p}: require.{name}: expected min: and/or max: (a value to set goes under params:)")
    if prof.battery.critical_v_per_cell >= prof.battery.low_v_per_cell:
        raise FlightError(f"{p}: battery.critical_v_per_cell: {prof.battery.critical_v_per_cell} is not below "
                          f"low_v_per_cell {prof.battery.low_v_per_cell}; expected critical < low")
    if prof.battery.critical_remaining_frac > prof.battery.low_remaining_frac:
        raise FlightError(f"{p}: battery.critical_remaining_frac: above low_remaining_frac; expected critical <= low")
    return prof


@dataclass(frozen=True, kw_only=True)
class ParamTarget:
    """One parameter to set (``value``) or to check (``min_value``/``max_value``), and why."""

    name: str
    value: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    why: str = ""

    def ok(self, got: float) -> bool:
        if self.value is not None:
            return _same_f32(got, self.value)
        return (self.min_value is None or got >= self.min_value) and (self.max_value is None or got <= self.max_value)

    def wanted(self) -> str:
        if self.value is not None:
            return f"{self.value:g}"
        lo = f">= {self.min_value:g}" if self.min_value is not None else ""
        hi = f"<= {self.max_value:g}" if self.max_value is not None else ""
        return " and ".join(x for x in (lo, hi) if x)


def _same_f32(a: float, b: float) -> bool:
    """Equal as the float32 a PARAM_VALUE carries."""
    import struct

    fa, fb = struct.unpack("<ff", struct.pack("<ff", float(a), float(b)))
    return abs(fa - fb) <= 1e-6 * max(1.0, abs(fb))


def cells_from_voltage(volts: float) -> int:
    """A pack's cell count from its voltage at rest (LiPo/LiHV above ~3.7 V per cell: right up to 7S)."""
    if volts <= 0:
        raise FlightError(f"battery voltage {volts:.2f} V: cannot tell the cell count; set battery.cells in the "
                          "failsafe profile")
    return max(1, math.ceil(volts / MAX_V_PER_CELL - 1e-9))


def mission_top_m(plan) -> float:
    """The highest altitude (relative to home) a MavlinkPlan's mission flies: its transit altitude."""
    from flight.mission import FRAME_GLOBAL, FRAME_GLOBAL_INT, LOCATION_COMMANDS, NAV_COMMANDS, NAV_LAND

    home_amsl_m = float(plan.mission[0].z) if plan.mission else 0.0
    alts = [float(it.z) - (home_amsl_m if it.frame in (FRAME_GLOBAL, FRAME_GLOBAL_INT) else 0.0)
            for it in plan.mission[1:] if it.command in NAV_COMMANDS and it.command in LOCATION_COMMANDS
            and it.command != NAV_LAND]
    if not alts:
        raise FlightError("the mission has no waypoint; nothing to set an RTL altitude from")
    return max(alts)


def param_targets(profile: FailsafeProfile, plan, *, battery_v: float, capacity_mah: float | None) -> list[ParamTarget]:
    """The parameters this flight needs: the checks first (a failed one explains the rest), the
    profile's fixed values, the battery thresholds for this pack, the RTL and fence altitudes for
    this mission (pure function)."""
    out = [ParamTarget(name=n, min_value=r.min, max_value=r.max, why=r.why) for n, r in profile.require.items()]
    out += [ParamTarget(name=n, value=float(r.set), why=r.why) for n, r in profile.params.items()]
    b = profile.battery
    cells = cells_from_voltage(battery_v) if b.cells == "auto" else int(b.cells)
    out += [ParamTarget(name="BATT_LOW_VOLT", value=round(cells * b.low_v_per_cell, 2),
                        why=f"{cells} cells x {b.low_v_per_cell} V"),
            ParamTarget(name="BATT_CRT_VOLT", value=round(cells * b.critical_v_per_cell, 2),
                        why=f"{cells} cells x {b.critical_v_per_cell} V")]
    if capacity_mah:
        out += [ParamTarget(name="BATT_LOW_MAH", value=float(round(capacity_mah * b.low_remaining_frac)),
                            why=f"{b.low_remaining_frac:.0%} of BATT_CAPACITY {capacity_mah:g} mAh"),
                ParamTarget(name="BATT_CRT_MAH", value=float(round(capacity_mah * b.critical_remaining_frac)),
                            why=f"{b.critical_remaining_frac:.0%} of BATT_CAPACITY {capacity_mah:g} mAh")]
    top = mission_top_m(plan)
    if profile.rtl.alt_above_mission_m is not None:
        out.append(ParamTarget(name="RTL_ALT_M", value=round(top + profile.rtl.alt_above_mission_m, 2),
                               why=f"the mission's transit altitude {top:g} m (+{profile.rtl.alt_above_mission_m:g})"))
    if profile.fence.alt_above_mission_m is not None:
        out.append(ParamTarget(name="FENCE_ALT_MAX", value=round(top + profile.fence.alt_above_mission_m, 2),
                               why=f"{profile.fence.alt_above_mission_m:g} m over the transit altitude {top:g} m"))
    return out


@dataclass(frozen=True, kw_only=True)
class ParamRecord:
    """What the vehicle held before and holds now (``vehicle_name``: the name it knows, scaled by ``scale``)."""

    name: str
    vehicle_name: str
    before: float
    now: float
    wanted: str
    why: str
    scale: float = 1.0


@dataclass(frozen=True, kw_only=True)
class FailsafeRecord:
    profile: str
    battery_cells: int
    params: tuple[ParamRecord, ...]

    def to_json(self) -> dict:
        from dataclasses import asdict

        return {"profile": self.profile, "battery_cells": self.battery_cells,
                "params": [asdict(p) for p in self.params]}


@dataclass(frozen=True, kw_only=True)
class FailsafeEvent:
    """One line of the flight result: a signal, what was done about it and by whom."""

    signal: Signal
    action: Action
    by: Literal["vehicle", "runner"]
    detail: str
    t_s: float  # seconds since AUTO
    mission_seq: int  # the last mission item reached

    def to_json(self) -> dict:
        return {"signal": self.signal.value, "action": self.action.value, "by": self.by, "detail": self.detail,
                "t_s": round(self.t_s, 2), "mission_seq": self.mission_seq}


__all__ = ["Action", "Signal", "FailsafeProfile", "load_failsafe_profile", "param_targets", "ParamTarget",
           "ParamRecord", "FailsafeRecord", "FailsafeEvent", "RENAMED", "DEFAULT_PROFILE", "cells_from_voltage",
           "mission_top_m"]
