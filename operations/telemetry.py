"""A flight's figures from its own telemetry: how long it was armed and in the air, the energy and
charge it drew, the lowest voltage and highest current, the pack's resting voltage before and
after, its voltage sag and resistance, and the autopilot's id.

Sources: a MAVLink telemetry log (``telemetry.tlog`` of a bundle, or any ground station's .tlog):
BATTERY_STATUS (battery 0) when the vehicle sends it, else SYS_STATUS; HEARTBEAT for arming,
EXTENDED_SYS_STATE (or the relative altitude) for being in the air, AUTOPILOT_VERSION for the id.
Or an ArduPilot DataFlash log (.bin): BAT (or the older CURR), ARM / EV for arming.

Time is the vehicle's own clock (``time_boot_ms`` / ``TimeUS``): a simulated flight run faster
than real time drains its battery by that clock, and so does a real one. Sample gaps longer than
``MAX_GAP_S`` (a lost link) are not integrated.

The pack's resistance is fitted (V = V0 + slope t - R I) over the last seconds before arming and
the first seconds in the air; the capacity estimate divides the charge drawn by the drop in
state of charge read from the resting voltage with a linear cell curve (3.5 V empty, 4.2 V full,
as the simulated pack). A real LiPo's curve is flatter in the middle, so the estimate is a trend to
watch over cycles, not a measurement of one flight.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from operations.errors import OperationsError

MAX_GAP_S = 5.0
CELL_EMPTY_V, CELL_FULL_V = 3.5, 4.2
IDLE_WINDOW_S = 10.0  # before arming
LOAD_WINDOW_S = 20.0  # first seconds in the air
IN_AIR_STATES = (2, 3, 4)  # MAV_LANDED_STATE in air, taking off, landing
AIRBORNE_REL_ALT_M = 0.5  # without EXTENDED_SYS_STATE (ArduCopter SITL on stream requests)


@dataclass
class Samples:
    """Battery samples on the vehicle clock (s), arming and airborne intervals, ids."""

    t_s: list[float] = field(default_factory=list)
    volts: list[float] = field(default_factory=list)
    amps: list[float | None] = field(default_factory=list)
    consumed_mah: list[float | None] = field(default_factory=list)
    armed: list[tuple[float, bool]] = field(default_factory=list)  # (t, armed) at each change
    airborne: list[tuple[float, bool]] = field(default_factory=list)
    autopilot_id: str = ""
    started_utc: str = ""
    end_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class FlightFigures:
    source: str  # tlog | dataflash
    started_utc: str
    armed_s: float
    airborne_s: float
    energy_wh: float | None
    consumed_mah: float | None
    min_voltage_v: float | None
    peak_current_a: float | None
    resting_v_start: float | None
    resting_v_end: float | None
    sag_v: float | None
    resistance_mohm: float | None
    autopilot_id: str
    n_samples: int

    def cycles(self, capacity_mah: float) -> float:
        """Equivalent full cycles: the charge drawn over the pack's rated capacity."""
        return 0.0 if not self.consumed_mah or capacity_mah <= 0 else self.consumed_mah / capacity_mah

    def capacity_estimate_mah(self, cells: int) -> float | None:
        """The charge drawn over the state of charge it took (resting voltages, linear cell curve);
        None when the drop is too small to tell (under 5%)."""
        if not (self.consumed_mah and self.resting_v_start and self.resting_v_end and cells > 0):
            return None
        drop = soc(self.resting_v_start / cells) - soc(self.resting_v_end / cells)
        return self.consumed_mah / drop if drop >= 0.05 else None


def soc(cell_v: float) -> float:
    return min(1.0, max(0.0, (cell_v - CELL_EMPTY_V) / (CELL_FULL_V - CELL_EMPTY_V)))


def _intervals(changes: list[tuple[float, bool]], end_s: float) -> list[tuple[float, float]]:
    out, since = [], None
    for t, on in changes:
        if on and since is None:
            since = t
        elif not on and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, end_s))
    return out


def _inside(t: float, spans: list[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in spans)


def figures(s: Samples, source: str) -> FlightFigures:
    """The figures of a flight from its samples."""
    armed = _intervals(s.armed, s.end_s)
    air = _intervals(s.airborne, s.end_s) if s.airborne else armed
    armed_s = sum(b - a for a, b in armed)
    air_s = sum(b - a for a, b in air)
    n = len(s.t_s)
    energy_j, charge_c = 0.0, 0.0
    have_amps = any(a is not None for a in s.amps)
    for i in range(1, n):
        gap = s.t_s[i] - s.t_s[i - 1]
        if 0 < gap <= MAX_GAP_S and s.amps[i - 1] is not None:
            energy_j += s.volts[i - 1] * s.amps[i - 1] * gap
            charge_c += s.amps[i - 1] * gap
    counted = [c for c in s.consumed_mah if c is not None]
    consumed = (counted[-1] - counted[0]) if len(counted) >= 2 else (charge_c / 3.6 if have_amps else None)
    in_flight = [i for i in range(n) if _inside(s.t_s[i], armed)]
    vmin = min((s.volts[i] for i in in_flight), default=None)
    imax = max((s.amps[i] for i in in_flight if s.amps[i] is not None), default=None)
    first_arm = armed[0][0] if armed else None
    last_disarm = armed[-1][1] if armed and armed[-1][1] < s.end_s else None
    idle = [i for i in range(n) if first_arm is not None and first_arm - IDLE_WINDOW_S <= s.t_s[i] < first_arm]
    after = [i for i in range(n) if last_disarm is not None and s.t_s[i] > last_disarm]
    v_start = median(s.volts[i] for i in idle) if idle else None
    v_end = median(s.volts[i] for i in after) if after else None
    res = None
    if idle and air and have_amps:
        # V = V0 + slope * t - R * I over the idle seconds and the first seconds in the air: the time
        # term takes up the resting voltage falling as charge is drawn, which a plain
        # (V idle - V load) / (I load - I idle) counts as resistance (+2 mOhm on a 3.3 Ah 3S pack)
        span = [i for i in range(n) if s.amps[i] is not None
                and first_arm - IDLE_WINDOW_S <= s.t_s[i] <= air[0][0] + LOAD_WINDOW_S]
        amps = [s.amps[i] for i in span]
        if len(span) >= 5 and max(amps) - min(amps) >= 1.0:
            import numpy as np

            t0 = s.t_s[span[0]]
            a = np.array([[1.0, s.t_s[i] - t0, -s.amps[i]] for i in span])
            coef = np.linalg.lstsq(a, np.array([s.volts[i] for i in span]), rcond=None)[0]
            res = 1000.0 * float(coef[2])
    return FlightFigures(source=source, started_utc=s.started_utc, armed_s=armed_s, airborne_s=air_s,
                         energy_wh=energy_j / 3600.0 if have_amps else None, consumed_mah=consumed,
                         min_voltage_v=vmin, peak_current_a=imax, resting_v_start=v_start, resting_v_end=v_end,
                         sag_v=(v_start - vmin) if v_start is not None and vmin is not None else None,
                         resistance_mohm=res, autopilot_id=s.autopilot_id, n_samples=n)


def _utc(t_unix_s: float) -> str:
    return dt.datetime.fromtimestamp(t_unix_s, dt.timezone.utc).isoformat(timespec="seconds")


def tlog_samples(path: str | Path) -> Samples:
    """Samples of the vehicle (the first system sending a non-GCS HEARTBEAT) in a MAVLink tlog."""
    os.environ.setdefault("MAVLINK20", "1")
    from pymavlink import mavutil

    path = Path(path)
    if not path.is_file():
        raise OperationsError(f"{path}: no such telemetry log; expected a MAVLink .tlog (a bundle's telemetry.tlog)")
    try:
        conn = mavutil.mavlink_connection(str(path), dialect="ardupilotmega", robust_parsing=True)
    except Exception as exc:  # noqa: BLE001 - pymavlink raises many kinds for a bad file
        raise OperationsError(f"{path}: cannot read ({exc}); expected a MAVLink .tlog") from None
    s = Samples()
    vehicle, boot_s, has_battery_status, has_ess = None, None, False, False
    kinds = ["HEARTBEAT", "SYS_STATUS", "BATTERY_STATUS", "ATTITUDE", "GLOBAL_POSITION_INT", "SYSTEM_TIME",
             "EXTENDED_SYS_STATE", "AUTOPILOT_VERSION"]
    try:
        while True:
            m = conn.recv_match(type=kinds)
            if m is None:
                break
            kind = m.get_type()
            if kind == "HEARTBEAT" and vehicle is None and m.type != 6:  # not MAV_TYPE_GCS
                vehicle = m.get_srcSystem()
            if vehicle is None or m.get_srcSystem() != vehicle:
                continue
            if not s.started_utc and getattr(m, "_timestamp", 0):
                s.started_utc = _utc(m._timestamp)
            if hasattr(m, "time_boot_ms"):
                boot_s = max(boot_s or 0.0, m.time_boot_ms / 1000.0)
            if boot_s is None:
                continue
            s.end_s = boot_s
            if kind == "HEARTBEAT":
                on = bool(m.base_mode & 128)
                if not s.armed or s.armed[-1][1] != on:
                    s.armed.append((boot_s, on))
            elif kind == "EXTENDED_SYS_STATE":
                has_ess = True
                on = m.landed_state in IN_AIR_STATES
                if not s.airborne or s.airborne[-1][1] != on:
                    s.airborne.append((boot_s, on))
            elif kind == "GLOBAL_POSITION_INT" and not has_ess:
                on = m.relative_alt / 1000.0 > AIRBORNE_REL_ALT_M and bool(s.armed and s.armed[-1][1])
                if not s.airborne or s.airborne[-1][1] != on:
                    s.airborne.append((boot_s, on))
            elif kind == "BATTERY_STATUS" and m.id == 0:
                if not has_battery_status:  # the better source: start over with it
                    has_battery_status = True
                    s.t_s, s.volts, s.amps, s.consumed_mah = [], [], [], []
                cells = [c for c in m.voltages if c != 65535]
                if cells:
                    s.t_s.append(boot_s)
                    s.volts.append(sum(cells) / 1000.0)
                    s.amps.append(m.current_battery / 100.0 if m.current_battery >= 0 else None)
                    s.consumed_mah.append(float(m.current_consumed) if m.current_consumed >= 0 else None)
            elif kind == "SYS_STATUS" and not has_battery_status and m.voltage_battery not in (0, 65535):
                s.t_s.append(boot_s)
                s.volts.append(m.voltage_battery / 1000.0)
                s.amps.append(m.current_battery / 100.0 if m.current_battery >= 0 else None)
                s.consumed_mah.append(None)
            elif kind == "AUTOPILOT_VERSION" and not s.autopilot_id:
                s.autopilot_id = f"uid {m.uid:016x}" if m.uid else ""
    except Exception as exc:  # noqa: BLE001 - a log cut mid-packet: keep what was read
        if not s.t_s:
            raise OperationsError(f"{path}: unreadable ({type(exc).__name__}: {exc}); expected a MAVLink .tlog") from None
    if vehicle is None:
        raise OperationsError(f"{path}: no vehicle HEARTBEAT; expected a vehicle's telemetry log")
    if not s.autopilot_id:
        s.autopilot_id = f"sysid {vehicle}"
    if not s.t_s:
        raise OperationsError(f"{path}: no battery readings (BATTERY_STATUS or SYS_STATUS voltage); the flight log "
                              "needs the vehicle's battery telemetry")
    return s


_BOARD_ID = ("uid", "UID")


def dataflash_samples(path: str | Path) -> Samples:
    """Samples from an ArduPilot DataFlash log: BAT (instance 0) or CURR; ARM or EV 10/11 for arming."""
    from pymavlink import mavutil

    path = Path(path)
    if not path.is_file():
        raise OperationsError(f"{path}: no such DataFlash log; expected an ArduPilot .bin")
    try:
        conn = mavutil.mavlink_connection(str(path))
    except Exception as exc:  # noqa: BLE001
        raise OperationsError(f"{path}: cannot read ({exc}); expected an ArduPilot DataFlash .bin") from None
    s = Samples()
    try:
        while True:
            m = conn.recv_match(type=["BAT", "CURR", "ARM", "EV", "MSG"])
            if m is None:
                break
            kind = m.get_type()
            t = getattr(m, "TimeUS", None)
            if t is None:
                continue
            t_s = t / 1e6
            s.end_s = max(s.end_s, t_s)
            if not s.started_utc and getattr(m, "_timestamp", 0) > 1e9:
                s.started_utc = _utc(m._timestamp)
            if kind in ("BAT", "CURR") and getattr(m, "Inst", 0) == 0:
                s.t_s.append(t_s)
                s.volts.append(float(m.Volt))
                s.amps.append(float(m.Curr) if m.Curr >= 0 else None)
                s.consumed_mah.append(float(m.CurrTot) if hasattr(m, "CurrTot") else None)
            elif kind == "ARM":
                on = bool(m.ArmState)
                if not s.armed or s.armed[-1][1] != on:
                    s.armed.append((t_s, on))
            elif kind == "EV" and m.Id in (10, 11):  # ARMED, DISARMED
                on = m.Id == 10
                if not s.armed or s.armed[-1][1] != on:
                    s.armed.append((t_s, on))
            elif kind == "MSG" and not s.autopilot_id and any(k in m.Message for k in _BOARD_ID):
                s.autopilot_id = m.Message.strip()[:64]
    except Exception as exc:  # noqa: BLE001 - a log cut mid-message: keep what was read
        if not s.t_s:
            raise OperationsError(f"{path}: unreadable ({type(exc).__name__}: {exc}); expected a DataFlash .bin") from None
    if not s.t_s:
        raise OperationsError(f"{path}: no battery messages (BAT or CURR); the flight log needs the battery's log")
    return s


def flight_figures(log: str | Path) -> FlightFigures:
    """Figures of the flight in ``log``: a bundle directory, a .tlog, or a DataFlash .bin."""
    p = Path(log)
    if p.is_dir():
        p = p / "telemetry.tlog"
    if p.suffix.lower() in (".bin", ".log"):
        return figures(dataflash_samples(p), "dataflash")
    return figures(tlog_samples(p), "tlog")


def finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


__all__ = ["FlightFigures", "Samples", "figures", "flight_figures", "tlog_samples", "dataflash_samples", "soc"]
