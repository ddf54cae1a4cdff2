"""Watching a flight: every signal the vehicle gives, the policy for it, and how the flight ended.

``SignalMonitor`` turns the runner's ``VehicleState`` into signals (``flight.failsafe.Signal``):
the vehicle's own failsafe messages (STATUSTEXT "Battery 1 is low ...", "... fence breached",
"EKF Failsafe", "GCS Failsafe"), the battery voltage per cell and the remaining capacity in
SYS_STATUS (the voltage under load only ever counts as low), its sensor health bits (gyro, accelerometer, compass, barometer, estimator, geofence),
EKF_STATUS_REPORT, FENCE_STATUS, the GPS fix, and mode changes nobody here commanded. A reading
must stay bad ``sensor_sustain_s`` (voltage: BATT_LOW_TIMER + 2 s, so the vehicle's own failsafe
acts first and the runner is its backup) before it counts.

``watch_flight`` applies the profile's policy to each signal (RTL, LAND, HOLD = brake then RTL,
REPORT), only ever escalating; when the vehicle has already switched (its failsafe acted) it
records that instead of commanding. Every signal becomes a line of the result
(``FailsafeEvent``); the first one that ends the mission sets the status and the resume point.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Callable

from flight.errors import FlightError
from flight.failsafe import Action, FailsafeEvent, Signal

if TYPE_CHECKING:  # the runner imports this module
    from flight.runner import MissionRunner, VehicleState

# MAV_SYS_STATUS_SENSOR bits
GYRO, ACCEL, MAG, BARO, GPS = 0x01, 0x02, 0x04, 0x08, 0x20
GEOFENCE, AHRS, BATTERY = 0x100000, 0x200000, 0x2000000
SENSOR_NAMES = {GYRO: "gyro", ACCEL: "accelerometer", MAG: "compass", BARO: "barometer"}
EKF_POS_HORIZ_REL, EKF_POS_HORIZ_ABS, EKF_CONST_POS_MODE = 0x08, 0x10, 0x80
LANDED_ON_GROUND = 1
RETURNING = {"RTL": Action.RTL, "SMART_RTL": Action.RTL, "LAND": Action.LAND}


class FlightStatus(str, Enum):
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # disarmed before the last item, no signal seen
    ABORTED = "aborted"  # the operator (Ctrl-C)
    LINK_LOST = "link_lost"  # lost and never back: the vehicle's own failsafe has it
    FAILSAFE = "failsafe"  # the vehicle left AUTO for RTL/LAND by itself, cause unknown
    TAKEN_OVER = "taken_over"  # the vehicle left AUTO for another mode nobody here chose
    RTL_BATTERY = "rtl_battery"
    LAND_BATTERY = "land_battery"
    RTL_RTK = "rtl_rtk"
    RTL_LINK = "rtl_link"
    LAND_LINK = "land_link"
    LAND_EKF = "land_ekf"
    RTL_EKF = "rtl_ekf"
    LAND_SENSOR = "land_sensor"
    RTL_SENSOR = "rtl_sensor"
    RTL_FENCE = "rtl_fence"
    LAND_FENCE = "land_fence"


_WORD = {Signal.BATTERY_LOW: "battery", Signal.BATTERY_CRITICAL: "battery", Signal.FIX_LOST: "rtk",
         Signal.LINK_LOST: "link", Signal.EKF_UNHEALTHY: "ekf", Signal.SENSOR_UNHEALTHY: "sensor",
         Signal.FENCE_BREACH: "fence"}


def status_for(signal: Signal, action: Action) -> FlightStatus:
    """The status of a mission ended by ``signal`` with ``action`` (RTL/LAND), e.g. rtl_battery."""
    if action in (Action.RTL, Action.LAND, Action.HOLD) and signal in _WORD:
        name = f"{'rtl' if action == Action.HOLD else action.value.lower()}_{_WORD[signal]}"
        try:
            return FlightStatus(name)
        except ValueError:
            pass
    return FlightStatus.FAILSAFE if action in (Action.RTL, Action.LAND) else FlightStatus.TAKEN_OVER


@dataclass(frozen=True, kw_only=True)
class FlightOutcome:
    status: FlightStatus
    last_reached_seq: int
    resume_seq: int | None  # first mission item not flown (None when done)
    events: tuple[str, ...]
    failsafes: tuple[FailsafeEvent, ...]
    disarmed_on_ground: bool
    mode: str


# the vehicle's own failsafe messages (ArduCopter: AP_BattMonitor.cpp, AC_Fence.cpp, ekf_check.cpp, events.cpp)
TEXT_SIGNALS: tuple[tuple[re.Pattern, Signal], ...] = (
    (re.compile(r"^Battery \d+ is critical"), Signal.BATTERY_CRITICAL),
    (re.compile(r"^Battery \d+ is low"), Signal.BATTERY_LOW),
    (re.compile(r"fence breached", re.I), Signal.FENCE_BREACH),
    (re.compile(r"^EKF (Failsafe|variance)"), Signal.EKF_UNHEALTHY),
    (re.compile(r"^GCS Failsafe(?! Cleared)"), Signal.LINK_LOST),
)


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """What counts as bad, from the failsafe profile and the parameters set on the vehicle."""

    low_v: float = 0.0  # pack volts (BATT_LOW_VOLT); 0: not watched
    low_pct: float = -1.0  # battery_remaining percent; < 0: not watched
    critical_pct: float = -1.0
    voltage_sustain_s: float = 7.0
    pct_sustain_s: float = 2.0  # the vehicle's BATT_LOW_MAH failsafe sees the same figure: let it act first
    sensor_sustain_s: float = 1.0
    ekf_thresh: float = 0.8
    required_fix: int = 0

    @classmethod
    def from_runner(cls, runner: "MissionRunner") -> "Thresholds":
        prof = runner.opt.failsafe
        rec = runner.failsafe_record
        vals = {p.name: p.now / p.scale for p in rec.params} if rec else {}
        b = prof.battery
        cells = rec.battery_cells if rec else 0
        return cls(low_v=cells * b.low_v_per_cell,
                   low_pct=100.0 * b.low_remaining_frac if rec else -1.0,
                   critical_pct=100.0 * b.critical_remaining_frac if rec else -1.0,
                   voltage_sustain_s=vals.get("BATT_LOW_TIMER", 5.0) + 2.0, pct_sustain_s=runner.opt.vehicle_grace_s,
                   sensor_sustain_s=runner.opt.sensor_sustain_s,
                   ekf_thresh=vals.get("FS_EKF_THRESH", 0.8) or 0.8, required_fix=runner.opt.required_fix)


@dataclass(frozen=True, kw_only=True)
class Detected:
    signal: Signal
    detail: str
    from_vehicle: bool  # the vehicle announced it (its own failsafe may act on it)


@dataclass
class SignalMonitor:
    """Signals in a stream of ``VehicleState`` snapshots; each condition is reported once while it
    lasts (again after it cleared). ``update`` is called about 5 times a second."""

    th: Thresholds
    text_seen: int = 0
    _bad_since: dict[str, float] = field(default_factory=dict)
    _active: set[str] = field(default_factory=set)

    def _sustained(self, key: str, bad: bool, now: float, hold_s: float) -> bool:
        """True once, when ``bad`` has held ``hold_s``; re-armed when it clears."""
        if not bad:
            self._bad_since.pop(key, None)
            self._active.discard(key)
            return False
        t0 = self._bad_since.setdefault(key, now)
        if key not in self._active and now - t0 >= hold_s:
            self._active.add(key)
            return True
        return False

    def update(self, s: "VehicleState", now: float, *, flying: bool) -> list[Detected]:
        out: list[Detected] = []
        for text in s.statustexts[self.text_seen:]:
            for pat, sig in TEXT_SIGNALS:
                if pat.search(text):
                    out.append(Detected(signal=sig, detail=f"vehicle: {text}", from_vehicle=True))
                    break
        self.text_seen = len(s.statustexts)
        if not flying:
            return out
        th = self.th
        v = s.voltage_v
        # SYS_STATUS gives the voltage under load, which sags below the resting voltage the vehicle's
        # failsafe compares (BATT_FS_VOLTSRC 1): under BATT_LOW_VOLT it is a low battery, never more
        # (critical comes from the vehicle's sag-compensated failsafe and from the capacity left)
        if th.low_v > 0 and self._sustained("v_low", 0 < v < th.low_v, now, th.voltage_sustain_s):
            out.append(Detected(signal=Signal.BATTERY_LOW, detail=f"battery {v:.2f} V under load, under {th.low_v:.2f} V",
                                from_vehicle=False))
        pct = s.battery_pct
        if th.critical_pct >= 0 and self._sustained("pct_crit", 0 <= pct < th.critical_pct, now, th.pct_sustain_s):
            out.append(Detected(signal=Signal.BATTERY_CRITICAL, detail=f"battery {pct:.0f}% left, under "
                                f"{th.critical_pct:.0f}%", from_vehicle=False))
        elif th.low_pct >= 0 and self._sustained("pct_low", 0 <= pct < th.low_pct, now, th.pct_sustain_s):
            out.append(Detected(signal=Signal.BATTERY_LOW, detail=f"battery {pct:.0f}% left, under {th.low_pct:.0f}%",
                                from_vehicle=False))
        watched = s.sensors_present & s.sensors_enabled
        bad = [name for bit, name in SENSOR_NAMES.items() if watched & bit and not s.sensors_health & bit]
        if self._sustained("sensors", bool(bad), now, th.sensor_sustain_s):
            out.append(Detected(signal=Signal.SENSOR_UNHEALTHY, detail=f"SYS_STATUS: {', '.join(bad)} unhealthy",
                                from_vehicle=False))
        ekf_bad = self._ekf_problem(s)
        if self._sustained("ekf", bool(ekf_bad), now, th.sensor_sustain_s + 1.0):  # ArduCopter: 1 s
            out.append(Detected(signal=Signal.EKF_UNHEALTHY, detail=ekf_bad, from_vehicle=False))
        fence = s.fence_breached or (watched & GEOFENCE and not s.sensors_health & GEOFENCE)
        if self._sustained("fence", bool(fence), now, 0.0):
            out.append(Detected(signal=Signal.FENCE_BREACH, detail="FENCE_STATUS / SYS_STATUS: fence breached",
                                from_vehicle=True))  # the vehicle's FENCE_ACTION acts on its own breach
        if th.required_fix and self._sustained("fix", s.fix_type < th.required_fix, now, 0.0):
            out.append(Detected(signal=Signal.FIX_LOST, detail=f"fix type {s.fix_type} below {th.required_fix}",
                                from_vehicle=False))
        return out

    def _ekf_problem(self, s: "VehicleState") -> str:
        """ArduCopter's own test (ekf_check.cpp): two of velocity, position and compass variance over
        FS_EKF_THRESH, or velocity over twice it; or no horizontal position at all."""
        if not s.ekf_seen:
            return ""
        if not s.ekf_flags & (EKF_POS_HORIZ_ABS | EKF_POS_HORIZ_REL) or s.ekf_flags & EKF_CONST_POS_MODE:
            return f"EKF_STATUS_REPORT: no horizontal position (flags 0x{s.ekf_flags:x})"
        vel, pos, _, mag = s.ekf_variances
        t = self.th.ekf_thresh
        over = sum(x >= t for x in (vel, pos, mag))
        if over >= 2 or vel >= 2 * t:
            return f"EKF_STATUS_REPORT: variances velocity {vel:.2f}, position {pos:.2f}, compass {mag:.2f} over {t:g}"
        return ""


@dataclass
class _Watch:
    runner: "MissionRunner"
    t0: float
    status: FlightStatus = FlightStatus.COMPLETE
    resume: int | None = None
    applied: Action = Action.REPORT  # the strongest action in force
    hold_since: float | None = None
    hold_signal: Signal | None = None
    pending: list[tuple[float, Detected]] = field(default_factory=list)  # vehicle messages awaiting its mode change
    events: list[FailsafeEvent] = field(default_factory=list)
    last_cause: tuple[float, Detected] | None = None  # the latest signal and when it came
    mode_change_at: float | None = None  # an uncommanded mode seen, its cause not yet known
    decisive: FailsafeEvent | None = None  # the strongest action taken: how the flight ended
    # the furthest item seen under way: ArduCopter sets MISSION_CURRENT back to item 1 when it disarms
    # after the final LAND, and a DO item just before that LAND is never reported reached
    done_max: int = 0

    def accept_vehicle(self, d: Detected, action: Action, done: int) -> None:
        """The vehicle switched to ``action``'s mode itself: record it and stop treating its mode as foreign."""
        self.hold_since = self.hold_signal = None
        self.record(d, action, "vehicle", done)
        self.applied = max(self.applied, action, key=lambda a: a.rank)
        self.runner.commanded_mode = self.runner.state.mode
        self.mode_change_at = None

    def record(self, d: Detected, action: Action, by: str, done: int) -> None:
        """A line of the result; the strongest action so far (the first of equals) names the status,
        the first interruption sets the resume point."""
        ev = FailsafeEvent(signal=d.signal, action=action, by=by, detail=d.detail, t_s=_clock(self.runner.state) - self.t0,
                           mission_seq=done)
        self.events.append(ev)
        self.runner._event(f"failsafe: {d.signal.value}: {d.detail} -> {action.value} ({by})")
        ends = action != Action.REPORT or d.signal == Signal.UNCOMMANDED_MODE
        if self.status == FlightStatus.TAKEN_OVER and d.signal == Signal.UNCOMMANDED_MODE:
            ends = False  # someone else flies it now: their later switches are theirs
        if ends and (self.decisive is None or action.rank > self.decisive.action.rank):
            self.decisive = ev
            self.status = status_for(d.signal, action)
        if ends and self.resume is None:
            self.resume = done + 1


def watch_flight(r: "MissionRunner", n_items: int, *, should_abort: Callable[[], bool] = lambda: False) -> FlightOutcome:
    """Watch a flight in AUTO until the vehicle is disarmed on the ground; act on every signal."""
    policy = r.opt.failsafe.policy
    mon = SignalMonitor(Thresholds.from_runner(r), text_seen=len(r.state.statustexts))
    w = _Watch(runner=r, t0=_clock(r.state))
    lost_since = None
    t_end = time.monotonic() + r.opt.mission_timeout_s
    last_progress = -1
    while time.monotonic() < t_end:
        r.wait_until(lambda s: False, 0.2)
        s, wall, now = r.state, time.monotonic(), _clock(r.state)
        done = max(max(s.reached, default=0), s.mission_current - 1)  # a REACHED lost on the link still moved MISSION_CURRENT
        w.done_max = max(w.done_max, done)
        if r._on_progress and done != last_progress:
            r._on_progress(done, n_items - 1)
            last_progress = done
        if not s.armed and s.landed_state in (LANDED_ON_GROUND, 0) and r.link_up:
            _follow_vehicle(r, w, policy, done, now, final=True)  # a mode change not yet explained is recorded
            break
        if should_abort():
            r.try_mode(r.opt.abort_mode, f"operator abort: {r.opt.abort_mode}")
            if w.decisive is None:
                w.status, w.resume = FlightStatus.ABORTED, done + 1
            return _finish(r, w, n_items)
        if not r.link_up:
            lost_since = lost_since or wall
            if wall - lost_since > r.opt.link_giveup_s:
                r._event(f"link lost for {r.opt.link_giveup_s:.0f} s: the vehicle's failsafe has it")
                w.record(Detected(signal=Signal.LINK_LOST, detail=f"no message for {wall - lost_since:.0f} s",
                                  from_vehicle=False), Action.REPORT, "runner", done)
                return FlightOutcome(status=FlightStatus.LINK_LOST, last_reached_seq=done, resume_seq=done + 1,
                                     events=tuple(r.events), failsafes=tuple(w.events), disarmed_on_ground=False,
                                     mode=s.mode)
            continue
        if lost_since is not None:
            r._event(f"link back after {wall - lost_since:.1f} s; vehicle in {s.mode}")
            if s.mode != r.commanded_mode:
                w.last_cause = (now, Detected(signal=Signal.LINK_LOST, detail=f"link lost {wall - lost_since:.1f} s; "
                                              "the vehicle's GCS failsafe", from_vehicle=True))
            lost_since = None
        flying = s.armed and s.landed_state != LANDED_ON_GROUND
        with r.mode_lock:  # a mode another thread is commanding (a fleet's guard) is not a foreign one
            s, now = r.state, _clock(r.state)
            for d in mon.update(s, now, flying=flying):
                _react(r, w, d, policy, done, now)
            _follow_vehicle(r, w, policy, done, now)
            _hold(r, w, s, done, now)
    else:
        raise FlightError(f"mission did not finish within {r.opt.mission_timeout_s:.0f} s")
    return _finish(r, w, n_items)


def _clock(s) -> float:
    """Seconds on the vehicle's clock (time_boot_ms), so timers match its own at any sim speedup;
    wall time until it has sent one."""
    return s.boot_s if s.boot_s > 0 else time.monotonic()


def _react(r: "MissionRunner", w: _Watch, d: Detected, policy, done: int, now: float) -> None:
    action = policy.action(d.signal)
    s = r.state
    w.last_cause = (now, d)
    if any(p.signal == d.signal for _, p in w.pending) or any(
            e.signal == d.signal and now - w.t0 - e.t_s < 10.0 for e in w.events):
        return  # the same signal by another route (a STATUSTEXT and a status bit): one line
    if d.signal == Signal.FIX_LOST and w.hold_signal == Signal.FIX_LOST:
        return
    vehicle_action = RETURNING.get(s.mode)
    if vehicle_action is not None and s.mode != r.commanded_mode and vehicle_action.rank >= action.rank:
        w.accept_vehicle(d, vehicle_action, done)  # its own failsafe already acted, as strongly
        return
    if action.rank <= w.applied.rank and action != Action.REPORT:
        w.record(d, Action.REPORT, "runner", done)  # already doing as much or more
        return
    if d.from_vehicle and action in (Action.RTL, Action.LAND):
        w.pending.append((now + r.opt.vehicle_grace_s, d))  # its failsafe's mode change may follow
        return
    _apply(r, w, d, action, done, now)


def _apply(r: "MissionRunner", w: _Watch, d: Detected, action: Action, done: int, now: float) -> None:
    if action == Action.REPORT:
        w.record(d, Action.REPORT, "runner", done)
        return
    if action == Action.HOLD:
        w.hold_since, w.hold_signal = now, d.signal
        r.try_mode("BRAKE", f"{d.detail}: holding up to {r.opt.rtk_hold_s:.0f} s")
    else:
        w.hold_since = w.hold_signal = None
        if not r.try_mode(action.value, f"{d.detail}: {action.value}") and action == Action.RTL:
            r.try_mode("LAND", "RTL refused: LAND")
    w.applied = action
    w.record(d, action, "runner", done)


def _follow_vehicle(r: "MissionRunner", w: _Watch, policy, done: int, now: float, *, final: bool = False) -> None:
    """Pending vehicle failsafes: done when the vehicle switched, else the runner acts; and mode
    changes nobody here commanded (explained by the latest signal, when one came in the last 15 s)."""
    s = r.state
    vehicle_action = RETURNING.get(s.mode)
    foreign = bool(s.mode and r.commanded_mode and s.mode != r.commanded_mode)
    for deadline, d in list(w.pending):
        if foreign and vehicle_action is not None:
            w.pending.remove((deadline, d))
            w.accept_vehicle(d, vehicle_action, done)
            foreign = False
        elif now >= deadline:
            w.pending.remove((deadline, d))
            _apply(r, w, d, policy.action(d.signal), done, now)
            foreign = bool(s.mode and s.mode != r.commanded_mode)
    if final:  # landed before the runner's turn came: what the vehicle said stays on record
        for _, d in w.pending:
            w.record(d, Action.REPORT, "runner", done)
        w.pending.clear()
    if not foreign or w.pending:
        w.mode_change_at = None
        return
    w.mode_change_at = w.mode_change_at or now
    cause = w.last_cause[1] if w.last_cause and now - w.last_cause[0] < 15.0 else None
    if cause is None and now - w.mode_change_at < r.opt.vehicle_grace_s and not final:
        return  # its reason (a STATUSTEXT) may still be on the way
    if cause is not None and vehicle_action is not None:
        w.accept_vehicle(cause, vehicle_action, done)
        return
    why = next((t for t in reversed(s.statustexts[-5:]) if "ailsafe" in t or "reach" in t), "")
    d = Detected(signal=Signal.UNCOMMANDED_MODE, from_vehicle=True,
                 detail=f"the vehicle switched to {s.mode} by itself" + (f" ({why})" if why else ""))
    w.accept_vehicle(d, vehicle_action or policy.action(Signal.UNCOMMANDED_MODE), done)


def _hold(r: "MissionRunner", w: _Watch, s, done: int, now: float) -> None:
    """HOLD: back to AUTO when the fix returns, RTL when the hold runs out."""
    if w.hold_since is None:
        return
    if w.hold_signal == Signal.FIX_LOST and s.fix_type >= r.opt.required_fix:
        w.hold_since = w.hold_signal = None
        w.applied = Action.REPORT
        if w.decisive is not None and w.decisive.action == Action.HOLD:  # the hold was all: the mission goes on
            w.status, w.resume, w.decisive = FlightStatus.COMPLETE, None, None
        r.try_mode("AUTO", f"fix type {s.fix_type} again: continuing the mission")
    elif now - w.hold_since > r.opt.rtk_hold_s:
        sig = w.hold_signal
        w.hold_since = w.hold_signal = None
        w.applied = Action.RTL
        r.try_mode("RTL", f"{sig.value} still after {r.opt.rtk_hold_s:.0f} s: RTL, resume from item {done + 1}")


def _finish(r: "MissionRunner", w: _Watch, n_items: int) -> FlightOutcome:
    # wait for the vehicle to land and disarm itself (RTL / LAND / mission end)
    r.wait_until(lambda s: not s.armed and s.landed_state in (LANDED_ON_GROUND, 0), r.opt.mission_timeout_s)
    s = r.state
    done = max(max(s.reached, default=0), s.mission_current - 1, w.done_max)  # a REACHED lost on the link still moved MISSION_CURRENT
    last_nav = n_items - 2  # the final LAND / RTL item is not reported as reached
    if w.status == FlightStatus.COMPLETE and n_items and done < last_nav:
        w.status, w.resume = FlightStatus.INCOMPLETE, done + 1
    r._event(f"flight ended: {w.status.value}; vehicle {'disarmed on the ground' if not s.armed else 'still armed'} "
             f"in {s.mode}")
    return FlightOutcome(status=w.status, last_reached_seq=done, resume_seq=w.resume, events=tuple(r.events),
                         failsafes=tuple(w.events), disarmed_on_ground=not s.armed, mode=s.mode)


__all__ = ["FlightOutcome", "FlightStatus", "SignalMonitor", "Thresholds", "Detected", "watch_flight", "status_for"]
