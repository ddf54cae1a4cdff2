"""Fly a mission over real MAVLink (pymavlink): connect, check, configure, upload and verify, fly.

``MissionRunner(address, options)`` is the ground station side. A receiver thread reads every
message (each one goes to the tlog sink with its receive time) and keeps the vehicle state; a
heartbeat thread sends the GCS heartbeat at 2 Hz of real time (ArduCopter's GCS failsafe watches
it). The main thread walks the flight: streams, pre-flight checks (EKF flags, pre-arm bit, fix
type, battery), the failsafe parameters of the profile set and confirmed one by one
(``configure_failsafes``; a parameter that cannot be set refuses the flight), mission / fence /
rally upload answering both MISSION_REQUEST and MISSION_REQUEST_INT with retries, a download to
verify, GUIDED, arm, takeoff, AUTO, then ``flight.watch`` acts on every signal until the vehicle
is disarmed on the ground. ``abort()`` (Ctrl-C in the CLI) sends RTL or LAND and waits for the
vehicle to disarm.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil  # noqa: E402
from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: E402

from flight.errors import FlightError  # noqa: E402
from flight.failsafe import (RENAMED, FailsafeProfile, FailsafeRecord, ParamRecord, cells_from_voltage,  # noqa: E402
                             load_failsafe_profile, param_targets)
from flight.mission import (CONDITION_YAW, DO_CHANGE_SPEED, NAV_LAND, NAV_RETURN_TO_LAUNCH,  # noqa: E402
                            NAV_SPLINE_WAYPOINT, NAV_WAYPOINT, MavItem, MavlinkPlan, stored_differences)
from flight.results import CommandError, CommandResult, MissionResult, ParamError  # noqa: E402
from flight.sim_kinematics import COPTER_MODES  # noqa: E402
from flight.watch import FlightOutcome, FlightStatus, watch_flight  # noqa: E402

MODE_NAMES = {v: k for k, v in COPTER_MODES.items()}
EKF_POS_HORIZ_ABS, EKF_CONST_POS_MODE = 0x10, 0x80
TYPE_NAMES = {0: "mission", 1: "fence", 2: "rally"}
# the stream groups the runner asks for, each with a message that shows it is on (ArduCopter's GCS_MAVLink groups)
STREAM_MARKERS = {mavlink.MAV_DATA_STREAM_EXTENDED_STATUS: "SYS_STATUS", mavlink.MAV_DATA_STREAM_POSITION: "GLOBAL_POSITION_INT",
                  mavlink.MAV_DATA_STREAM_EXTRA1: "ATTITUDE", mavlink.MAV_DATA_STREAM_EXTRA2: "VFR_HUD",
                  mavlink.MAV_DATA_STREAM_EXTRA3: "EKF_STATUS_REPORT"}


@dataclass(frozen=True, kw_only=True)
class RunnerOptions:
    required_fix: int = 6  # GPS_RAW_INT.fix_type needed (6 = RTK fixed; 0 = indoors, no GPS check)
    heartbeat_timeout_s: float = 10.0
    ready_timeout_s: float = 60.0
    command_timeout_s: float = 0.7
    command_retries: int = 6
    upload_timeout_s: float = 2.0
    upload_retries: int = 8
    min_battery_pct: float = 50.0  # to take off
    rtk_hold_s: float = 5.0  # HOLD: brake this long, then RTL if the cause is still there
    vehicle_grace_s: float = 2.0  # after a vehicle's own failsafe message: its mode change may still come
    sensor_sustain_s: float = 1.0  # a SYS_STATUS sensor or EKF report must stay bad this long
    link_lost_s: float = 3.0  # no message from the vehicle this long: the link is lost
    link_giveup_s: float = 60.0  # lost this long: stop (the vehicle's failsafe has it)
    abort_mode: str = "RTL"  # RTL or LAND
    stream_hz: int = 10
    stream_wait_s: float = 1.0  # for a requested stream's first message before asking again
    mission_timeout_s: float = 3600.0
    signing_key: bytes | None = None
    require_signing: bool = False
    expect_sysid: int | None = None  # refuse a vehicle with another MAVLink system id (a fleet's links crossed)
    failsafe: FailsafeProfile = field(default_factory=load_failsafe_profile)  # the shipped warehouse profile


@dataclass
class VehicleState:
    mode: str = ""
    armed: bool = False
    landed_state: int = 0  # MAV_LANDED_STATE
    ekf_flags: int = 0
    ekf_variances: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # velocity, pos horiz, pos vert, compass
    ekf_seen: bool = False
    prearm_ok: bool = False
    sensors_present: int = 0
    sensors_enabled: int = 0
    sensors_health: int = 0
    fix_type: int = 0
    battery_pct: float = -1.0
    voltage_v: float = -1.0
    fence_breached: int = 0  # FENCE_STATUS.breach_status
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    rel_alt_m: float = 0.0
    alt_amsl_m: float = 0.0
    position_t_ns: int = 0
    vel_ned_m_s: tuple[float, float, float] = (0.0, 0.0, 0.0)  # GLOBAL_POSITION_INT vx, vy, vz: the estimate's velocity (NED)
    sim_lat_deg: float | None = None  # a simulator's true position (SITL's SIMSTATE); None from a real vehicle
    sim_lon_deg: float | None = None
    sim_t_ns: int = 0  # when the SIMSTATE was received (ground-station clock)
    roll_rad: float = 0.0
    pitch_rad: float = 0.0
    yaw_rad: float = 0.0
    mission_current: int = 0
    reached: list[int] = field(default_factory=list)
    statustexts: list[str] = field(default_factory=list)
    statustext_boot_s: list[float] = field(default_factory=list)  # the vehicle's clock when each text came
    mode_log: list[tuple[float, str]] = field(default_factory=list)  # (vehicle clock, mode) at each mode change
    last_msg_wall: float = 0.0
    kinds_seen: set[str] = field(default_factory=set)  # every message type received so far
    boot_s: float = 0.0  # the vehicle's clock (time_boot_ms): failsafe timers run on it, as the vehicle's own do
    signed_seen: bool = False
    unsigned_seen: bool = False


class MissionRunner:
    def __init__(self, address: str, options: RunnerOptions | None = None, *,
                 tlog: Callable[[bytes, int], None] | None = None, log: Callable[[str], None] = lambda s: None,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        self.address, self._tlog, self._log, self._on_progress = address, tlog, log, on_progress
        self.opt = options or RunnerOptions()
        self._tlog_failed = False
        self.state = VehicleState()
        self.events: list[str] = []
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._mq: queue.Queue = queue.Queue()  # mission protocol messages
        self._acks: dict[int, CommandResult] = {}  # the last COMMAND_ACK per MAV_CMD
        self.params: dict[str, float] = {}  # PARAM_VALUEs seen
        self.param_errors: dict[str, ParamError | None] = {}  # PARAM_ERRORs seen (None: a number MAVLink does not define)
        self.failsafe_record: FailsafeRecord | None = None
        self.commanded_mode = ""
        self._mode_lock = threading.RLock()  # one mode decision at a time (the watch, a fleet's guard)
        self._guard_held = False
        self.plan: MavlinkPlan | None = None  # the mission being flown (``fly``)
        self._stop = threading.Event()
        self.conn = None
        self.target = (1, 1)

    # -- connection ----------------------------------------------------------------------------
    def connect(self) -> "MissionRunner":
        try:
            self.conn = mavutil.mavlink_connection(self.address, source_system=255, source_component=190,
                                                   dialect="ardupilotmega", autoreconnect=True)
        except Exception as e:  # bad address, port in use, host unreachable
            raise FlightError(f"--connect {self.address}: cannot open the link ({e}); "
                              "expected e.g. udpin:0.0.0.0:14550 or tcp:127.0.0.1:5760") from None
        if self.opt.signing_key:
            self.conn.setup_signing(self.opt.signing_key, sign_outgoing=True,
                                    allow_unsigned_callback=(lambda mav, msg_id: False) if self.opt.require_signing else None)
        threading.Thread(target=self._receive, daemon=True, name="mavlink-rx").start()
        with self._cond:
            if not self._cond.wait_for(lambda: self.state.mode != "", timeout=self.opt.heartbeat_timeout_s):
                self.close()
                sig = getattr(self.conn.mav, "signing", None)
                if self.opt.require_signing and sig is not None and (sig.reject_count or sig.unsigned_count):
                    raise FlightError(f"--connect {self.address}: the vehicle sends unsigned MAVLink and signing is "
                                      "required; set the same key on the vehicle")
                raise FlightError(f"--connect {self.address}: no vehicle heartbeat within "
                                  f"{self.opt.heartbeat_timeout_s:.0f} s; is the vehicle (or rackscan sim) running there?")
        if self.opt.require_signing and self.state.unsigned_seen and not self.state.signed_seen:
            self.close()
            raise FlightError(f"--connect {self.address}: the vehicle sends unsigned MAVLink and signing is "
                              "required; set the same key on the vehicle")
        if self.opt.expect_sysid is not None and self.target[0] != self.opt.expect_sysid:
            self.close()
            raise FlightError(f"--connect {self.address}: the vehicle there is system {self.target[0]}; expected system "
                              f"{self.opt.expect_sysid} (its SYSID_THISMAV): a fleet's links are crossed or two vehicles "
                              "share an id")
        threading.Thread(target=self._heartbeats, daemon=True, name="gcs-heartbeat").start()
        self._event(f"connected to system {self.target[0]} in {self.state.mode}")
        return self

    def close(self) -> None:
        self._stop.set()
        if self.conn is not None:
            # closing a link that may already be gone: nothing left to do (bandit B110)
            try:
                self.conn.close()
            except Exception:  # nosec B110
                pass

    def _send(self, fn: str, *args) -> None:
        with self._send_lock:
            getattr(self.conn.mav, fn)(*args)

    def _heartbeats(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self._send("heartbeat_send", mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0)
            except OSError:
                pass

    def _event(self, text: str) -> None:
        self.events.append(text)
        self._log(text)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                m = self.conn.recv_match(blocking=True, timeout=0.2)
            except (OSError, ValueError):
                if self._stop.is_set():
                    return
                time.sleep(0.05)
                continue
            if m is None:
                continue
            kind = m.get_type()
            if kind == "BAD_DATA":
                continue
            t_ns = time.time_ns()
            if self._tlog is not None:
                try:
                    self._tlog(m.get_msgbuf(), t_ns)
                except (OSError, ValueError) as exc:  # a full disk or a closed log must not stop the control loop
                    if not self._tlog_failed:
                        self._log(f"telemetry log: write failed ({exc}); flying on without recording telemetry")
                    self._tlog_failed = True
            self._update(m, kind)

    def _update(self, m, kind: str) -> None:
        s = self.state
        with self._cond:
            s.last_msg_wall = time.monotonic()
            s.kinds_seen.add(kind)
            if getattr(m, "_signed", False):
                s.signed_seen = True
            else:
                s.unsigned_seen = True
            if kind == "HEARTBEAT" and m.type != mavlink.MAV_TYPE_GCS:
                self.target = (m.get_srcSystem(), m.get_srcComponent())
                mode = MODE_NAMES.get(m.custom_mode, str(m.custom_mode))
                if mode != s.mode:
                    s.mode_log.append((s.boot_s, mode))
                s.mode = mode
                s.armed = bool(m.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
            elif kind == "SYS_STATUS":
                bit = mavlink.MAV_SYS_STATUS_PREARM_CHECK
                s.prearm_ok = bool(m.onboard_control_sensors_health & bit) or not (m.onboard_control_sensors_present & bit)
                s.sensors_present, s.sensors_enabled = m.onboard_control_sensors_present, m.onboard_control_sensors_enabled
                s.sensors_health = m.onboard_control_sensors_health
                s.battery_pct = float(m.battery_remaining)
                if m.voltage_battery not in (0, 65535):
                    s.voltage_v = m.voltage_battery / 1000.0
            elif kind == "EKF_STATUS_REPORT":
                s.ekf_flags, s.ekf_seen = int(m.flags), True
                s.ekf_variances = (float(m.velocity_variance), float(m.pos_horiz_variance), float(m.pos_vert_variance),
                                   float(m.compass_variance))
            elif kind == "FENCE_STATUS":
                s.fence_breached = int(m.breach_status)
            elif kind == "GPS_RAW_INT":
                s.fix_type = int(m.fix_type)
            elif kind == "GLOBAL_POSITION_INT":
                s.lat_deg, s.lon_deg, s.rel_alt_m = m.lat / 1e7, m.lon / 1e7, m.relative_alt / 1000.0
                s.alt_amsl_m = m.alt / 1000.0
                s.vel_ned_m_s = (m.vx / 100.0, m.vy / 100.0, m.vz / 100.0)
                s.position_t_ns = time.time_ns()
                s.boot_s = max(s.boot_s, m.time_boot_ms / 1000.0)
            elif kind == "SIMSTATE":
                s.sim_lat_deg, s.sim_lon_deg, s.sim_t_ns = m.lat / 1e7, m.lng / 1e7, time.time_ns()
            elif kind == "ATTITUDE":
                s.roll_rad, s.pitch_rad, s.yaw_rad = float(m.roll), float(m.pitch), float(m.yaw)
                s.boot_s = max(s.boot_s, m.time_boot_ms / 1000.0)
            elif kind == "EXTENDED_SYS_STATE":
                s.landed_state = int(m.landed_state)
            elif kind == "MISSION_CURRENT":
                s.mission_current = int(m.seq)
            elif kind == "MISSION_ITEM_REACHED":
                if m.seq not in s.reached:
                    s.reached.append(int(m.seq))
            elif kind == "STATUSTEXT":
                s.statustexts.append(str(m.text))
                s.statustext_boot_s.append(s.boot_s)
                self._log(f"vehicle: {m.text}")
            elif kind == "COMMAND_ACK":
                try:
                    self._acks[int(m.command)] = CommandResult.of(m.result)
                except FlightError as exc:
                    self._log(f"vehicle: {exc}")
            elif kind == "PARAM_VALUE":
                self.params[_param_name(m.param_id)] = float(m.param_value)
            elif kind == "PARAM_ERROR":
                self.param_errors[_param_name(m.param_id)] = ParamError.of(m.error)
            elif kind in ("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK", "MISSION_COUNT", "MISSION_ITEM_INT"):
                self._mq.put(m)
            self._cond.notify_all()

    def wait_until(self, pred: Callable[[VehicleState], bool], timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: pred(self.state), timeout=timeout_s)

    @property
    def link_up(self) -> bool:
        return time.monotonic() - self.state.last_msg_wall < self.opt.link_lost_s

    # -- commands ------------------------------------------------------------------------------
    def command(self, cmd: int, *params: float, until: Callable[[VehicleState], bool] | None = None,
                what: str = "") -> CommandResult:
        """COMMAND_LONG with retries until ``until`` holds (or an ACCEPTED ack when no ``until``);
        ``CommandError`` (the command, its ``CommandResult`` and the vehicle's reason) when refused or
        never confirmed."""
        p = list(params) + [0.0] * (7 - len(params))
        for attempt in range(self.opt.command_retries):
            self._acks.pop(cmd, None)
            self._send("command_long_send", self.target[0], self.target[1], cmd, attempt, *p)

            def answered(s: VehicleState) -> bool:
                res = self._acks.get(cmd)
                return (until(s) if until else res is CommandResult.ACCEPTED) or (res is not None and res.refused)

            ok = self.wait_until(answered, self.opt.command_timeout_s)
            res = self._acks.get(cmd)
            if until and until(self.state):
                return res if res is not None else CommandResult.ACCEPTED
            refused = res is not None and res.refused
            if refused and until and attempt > 0 and self.wait_until(until, 2 * self.opt.command_timeout_s):
                return CommandResult.ACCEPTED  # an earlier try took effect (its confirmation was lost); this repeat was refused for that
            if refused:
                why = next((t for t in reversed(self.state.statustexts) if t.startswith(("Arm:", "PreArm:"))), "")
                st = self.state
                raise CommandError(command=cmd, result=res, what=what, attempt=attempt + 1, reason=why,
                                   state=f"vehicle {st.mode}, {'armed' if st.armed else 'disarmed'}, landed state "
                                         f"{st.landed_state}, {st.rel_alt_m:.1f} m")
            if ok and not until:
                return CommandResult.ACCEPTED
        raise CommandError(command=cmd, result=CommandResult.NO_ANSWER, what=what, attempt=self.opt.command_retries)

    def read_param(self, name: str) -> float | None:
        """PARAM_REQUEST_READ until a PARAM_VALUE answers; None when the vehicle says (PARAM_ERROR) or,
        staying silent as older ArduPilot does, shows that it has no such parameter."""
        self.params.pop(name, None)
        self.param_errors.pop(name, None)
        for _ in range(self.opt.command_retries):
            self._send("param_request_read_send", self.target[0], self.target[1], name.encode("ascii"), -1)
            if self.wait_until(lambda s: name in self.params or name in self.param_errors, self.opt.command_timeout_s):
                break
        return self.params.get(name)

    def set_param(self, name: str, value: float) -> None:
        """PARAM_SET, retried until the vehicle's PARAM_VALUE echoes the value."""
        from flight.failsafe import _same_f32

        self.params.pop(name, None)
        self.param_errors.pop(name, None)
        for _ in range(self.opt.command_retries):
            self._send("param_set_send", self.target[0], self.target[1], name.encode("ascii"), float(value),
                       mavlink.MAV_PARAM_TYPE_REAL32)
            if self.wait_until(lambda s: _same_f32(self.params.get(name, float("nan")), value)
                               or name in self.param_errors, self.opt.command_timeout_s):
                if name in self.param_errors:
                    break
                self._event(f"parameter {name} = {value:g}")
                return
        got = self.params.get(name)
        err = self.param_errors.get(name)
        why = err.why if err is not None else None
        raise FlightError(f"vehicle did not set parameter {name} to {value:g} after {self.opt.command_retries} tries"
                          + (f" ({why})" if why else f" (it reports {got:g})" if got is not None else "; link lost?"))

    def set_mode(self, name: str) -> None:
        with self._mode_lock:
            self.commanded_mode = name
            self.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, COPTER_MODES[name],
                         until=lambda s: s.mode == name, what=f"mode {name}")

    # -- a fleet's separation guard (flight.fleet_fly.SeparationGuard) ---------------------------
    def guard_hold(self, why: str) -> bool:
        """BRAKE where it is, if it is flying its mission in AUTO (a failsafe's or the operator's
        mode is never interrupted); False when it was not held."""
        with self._mode_lock:
            if self._guard_held or self.commanded_mode != "AUTO" or self.state.mode != "AUTO":
                return False
            self._event(why)
            try:
                self.set_mode("BRAKE")
            except FlightError as e:
                self._event(f"could not hold: {e}")
                self.commanded_mode = self.state.mode
                return False
            self._guard_held = True
            return True

    def guard_release(self, why: str) -> bool:
        """Back to AUTO after ``guard_hold``: the mission goes on at its current item, and the speed
        in force there is sent again (ArduCopter's AUTO starts again at WPNAV_SPEED). Nothing is done
        when something else has taken the vehicle since (a failsafe, the operator's abort). The
        heading in force is sent again too: BRAKE drops a CONDITION_YAW, as ArduCopter's does."""
        with self._mode_lock:
            if not self._guard_held:
                return False
            self._guard_held = False
            if self.commanded_mode != "BRAKE" or self.state.mode != "BRAKE":
                return False
            self._event(why)
            try:
                self.set_mode("AUTO")
                v = self.speed_in_force()
                if v:
                    self.command(mavlink.MAV_CMD_DO_CHANGE_SPEED, 1, v, -1, what="speed")
                yaw = self.heading_in_force()
                if yaw is not None:  # BRAKE dropped the mission's CONDITION_YAW: the camera must face the rack again
                    self.command(mavlink.MAV_CMD_CONDITION_YAW, *yaw, what="heading")
            except FlightError as e:
                self._event(f"could not continue the mission after a hold: {e}")
                return False
            return True

    @property
    def guard_held(self) -> bool:
        return self._guard_held

    @property
    def mode_lock(self) -> threading.RLock:
        """Held while a mode is commanded and confirmed: the watch judges modes only outside it."""
        return self._mode_lock

    def speed_in_force(self) -> float | None:
        """The last DO_CHANGE_SPEED of the mission before its current item (None: none)."""
        if self.plan is None:
            return None
        cur = self.state.mission_current
        speeds = [it.param2 for it in self.plan.mission if it.seq < cur and it.command == DO_CHANGE_SPEED and it.param2 > 0]
        return float(speeds[-1]) if speeds else None

    def heading_in_force(self) -> tuple[float, float, float, float] | None:
        """The params of the mission's last CONDITION_YAW before its current item (None: none)."""
        if self.plan is None:
            return None
        cur = self.state.mission_current
        yaws = [it for it in self.plan.mission if it.seq < cur and it.command == CONDITION_YAW]
        return (yaws[-1].param1, yaws[-1].param2, yaws[-1].param3, yaws[-1].param4) if yaws else None

    def _current_item(self) -> MavItem | None:
        """The mission item in progress (None: no plan, or past its end)."""
        if self.plan is None:
            return None
        cur = self.state.mission_current
        return next((it for it in self.plan.mission if it.seq == cur), None)

    def current_command(self) -> int | None:
        """The command of the mission item in progress (None: no plan, or past its end)."""
        it = self._current_item()
        return None if it is None else int(it.command)

    def landing_point(self) -> tuple[float, float] | None:
        """(lat, lon) where the item in progress comes down: an RTL's ``return_point``, a LAND's own
        place; None for any other item, or a LAND where the vehicle is."""
        it = self._current_item()
        if it is not None and it.command == NAV_RETURN_TO_LAUNCH:
            return self.return_point()
        if it is not None and it.command == NAV_LAND and (it.x or it.y):
            return it.x * 1e-7, it.y * 1e-7
        return None

    def return_point(self) -> tuple[float, float] | None:
        """(lat, lon) where an RTL from where the vehicle is comes down: the nearest of home and the
        rally points, as ArduCopter picks them (RALLY_INCL_HOME; the planner puts a rally point at
        each end of every aisle it flies, so an RTL in an aisle comes down at its end)."""
        if self.plan is None or not self.plan.mission:
            return None
        pts = [(self.plan.mission[0].x * 1e-7, self.plan.mission[0].y * 1e-7)]
        pts += [(r.x * 1e-7, r.y * 1e-7) for r in self.plan.rally]
        lat, lon = self.state.lat_deg, self.state.lon_deg
        k = math.cos(math.radians(lat))
        return min(pts, key=lambda q: (q[0] - lat) ** 2 + ((q[1] - lon) * k) ** 2)

    def next_waypoint(self) -> tuple[float, float, float] | None:
        """(lat, lon, height above home m) of the navigation item the vehicle is flying to."""
        if self.plan is None:
            return None
        cur = self.state.mission_current
        for it in self.plan.mission:
            if it.seq >= cur and it.command in (NAV_WAYPOINT, NAV_SPLINE_WAYPOINT) and (it.x or it.y):
                return it.x * 1e-7, it.y * 1e-7, float(it.z)
        return None

    # -- streams and checks --------------------------------------------------------------------
    def request_streams(self) -> None:
        """REQUEST_DATA_STREAM for each group the runner reads, sent again for a group until one of its
        messages arrives: on a lossy link a lost request would otherwise leave, say, EKF_STATUS_REPORT
        off for the whole flight and the vehicle never "ready". A group still silent after
        ``command_retries`` rounds is left to ``preflight`` to report."""
        missing = dict(STREAM_MARKERS)
        for _ in range(self.opt.command_retries):
            for stream in missing:
                self._send("request_data_stream_send", self.target[0], self.target[1], stream, self.opt.stream_hz, 1)
            self.wait_until(lambda s: all(k in s.kinds_seen for k in missing.values()), self.opt.stream_wait_s)
            missing = {g: k for g, k in missing.items() if k not in self.state.kinds_seen}
            if not missing:
                return
        self._event("no " + ", ".join(sorted(missing.values())) + " from the vehicle after requesting "
                    f"its stream {self.opt.command_retries} times")

    def preflight(self) -> None:
        def problems(s: VehicleState) -> list[str]:
            out = []
            if not s.ekf_seen:
                out.append("no EKF_STATUS_REPORT from the vehicle (its EXTRA3 stream is off?)")
            elif not (s.ekf_flags & EKF_POS_HORIZ_ABS) or s.ekf_flags & EKF_CONST_POS_MODE:
                out.append(f"EKF not ready (flags 0x{s.ekf_flags:x})")
            if not s.prearm_ok:
                out.append("pre-arm checks failing")
            if self.opt.required_fix and s.fix_type < self.opt.required_fix:
                out.append(f"GPS fix type {s.fix_type} below the required {self.opt.required_fix}")
            return out

        if not self.wait_until(lambda s: not problems(s), self.opt.ready_timeout_s):
            why = "; ".join(problems(self.state))
            pre = next((t for t in reversed(self.state.statustexts) if t.startswith("PreArm:")), "")
            raise FlightError(f"vehicle not ready to fly after {self.opt.ready_timeout_s:.0f} s: {why}"
                              + (f" ({pre})" if pre else ""))
        if 0 <= self.state.battery_pct < self.opt.min_battery_pct:
            raise FlightError(f"battery at {self.state.battery_pct:.0f}%, below the {self.opt.min_battery_pct:.0f}% "
                              "needed to take off")
        self._event(f"pre-flight checks passed: EKF ok, pre-arm ok, fix type {self.state.fix_type}, "
                    f"battery {self.state.battery_pct:.0f}% {self.state.voltage_v:.2f} V")

    def _read_known(self, name: str) -> tuple[str, float, float] | None:
        """(the name the vehicle knows, its value, scale to it) for ``name`` or its older name."""
        v = self.read_param(name)
        if v is not None:
            return name, v, 1.0
        if name in RENAMED:
            old, scale = RENAMED[name]
            v = self.read_param(old)
            if v is not None:
                return old, v, scale
        return None

    def configure_failsafes(self, plan: MavlinkPlan) -> FailsafeRecord:
        """Read every parameter of the failsafe profile, set those that differ, confirm each by
        PARAM_VALUE; FlightError naming every one that could not be set or is out of range (the
        flight is refused before arming)."""
        prof = self.opt.failsafe
        if not self.wait_until(lambda s: s.voltage_v > 0, 5.0) and prof.battery.cells == "auto":
            raise FlightError("refusing to arm: the vehicle reports no battery voltage, so the failsafe voltages "
                              f"cannot be set; set battery.cells in the failsafe profile {prof.name!r}")
        cap = self.read_param("BATT_CAPACITY")
        targets = param_targets(prof, plan, battery_v=self.state.voltage_v, capacity_mah=cap)
        records, problems = [], []
        for t in targets:
            known = self._read_known(t.name)
            if known is None:
                problems.append(f"{t.name} is unknown to the vehicle" + (" (battery monitor off?)" if t.name.startswith("BATT_") else ""))
                continue
            vname, before, scale = known
            if t.value is None:  # a check, not a setting
                if not t.ok(before / scale):
                    problems.append(f"{vname} is {before:g}; expected {t.wanted()} ({t.why})")
                    continue
                now = before
            else:
                want = t.value * scale
                if t.ok(before / scale):
                    now = before
                else:
                    try:
                        self.set_param(vname, want)
                    except FlightError as exc:
                        problems.append(str(exc).removeprefix("vehicle did not set parameter "))
                        continue
                    now = self.params[vname]
            records.append(ParamRecord(name=t.name, vehicle_name=vname, before=before, now=now, wanted=t.wanted(),
                                       why=t.why, scale=scale))
        if problems:
            raise FlightError(f"refusing to arm: failsafe profile {prof.name!r}: " + "; ".join(problems))
        cells = cells_from_voltage(self.state.voltage_v) if prof.battery.cells == "auto" else int(prof.battery.cells)
        self.failsafe_record = FailsafeRecord(profile=prof.name, battery_cells=cells, params=tuple(records))
        changed = [r for r in records if r.before != r.now]
        self._event(f"failsafe profile {prof.name!r}: {len(records)} parameters confirmed, {len(changed)} changed "
                    f"({', '.join(f'{r.vehicle_name} {r.before:g}->{r.now:g}' for r in changed) or 'none'})")
        return self.failsafe_record

    # -- mission protocol ----------------------------------------------------------------------
    def _drain(self) -> None:
        while not self._mq.empty():
            self._mq.get_nowait()

    def _send_item(self, it: MavItem) -> None:
        self._send("mission_item_int_send", self.target[0], self.target[1], it.seq, it.frame, it.command, it.current,
                   it.autocontinue, it.param1, it.param2, it.param3, it.param4, it.x, it.y, it.z, it.mission_type)

    def upload(self, items: tuple[MavItem, ...], mission_type: int) -> None:
        name = TYPE_NAMES[mission_type]
        self._drain()
        n = len(items)
        self._send("mission_count_send", self.target[0], self.target[1], n, mission_type)
        misses, asked = 0, -1
        while True:
            try:
                m = self._mq.get(timeout=self.opt.upload_timeout_s)
            except queue.Empty:
                misses += 1
                if misses > self.opt.upload_retries:
                    raise FlightError(f"{name} upload: the vehicle stopped answering after item {asked} of {n}; "
                                      "link lost?") from None
                if asked < 0:
                    self._send("mission_count_send", self.target[0], self.target[1], n, mission_type)
                else:  # our item or the vehicle's next request / ACK was lost: answer the last one again
                    self._send_item(items[asked])
                continue
            if getattr(m, "mission_type", 0) != mission_type:
                continue
            kind = m.get_type()
            if kind == "MISSION_ACK":
                result = MissionResult.of(m.type)
                if result is MissionResult.ACCEPTED and (asked == n - 1 or n == 0):
                    self._event(f"{name} uploaded ({n} items)")
                    return
                if result is not MissionResult.ACCEPTED:
                    at = " at its MISSION_COUNT" if asked < 0 else f" after item {asked} of {n}"
                    raise FlightError(f"{name} upload refused by the vehicle{at}: MISSION_ACK {result.name}")
                continue
            if kind in ("MISSION_REQUEST", "MISSION_REQUEST_INT") and 0 <= m.seq < n:
                self._send_item(items[m.seq])
                asked, misses = max(asked, m.seq), 0

    def download(self, mission_type: int) -> list:
        name = TYPE_NAMES[mission_type]
        self._drain()
        count = None
        for _ in range(self.opt.upload_retries):
            self._send("mission_request_list_send", self.target[0], self.target[1], mission_type)
            try:
                while True:
                    m = self._mq.get(timeout=self.opt.upload_timeout_s)
                    if m.get_type() == "MISSION_COUNT" and getattr(m, "mission_type", 0) == mission_type:
                        count = m.count
                        break
            except queue.Empty:
                continue
            break
        if count is None:
            raise FlightError(f"{name} download: no MISSION_COUNT from the vehicle; link lost?")
        out = []
        for seq in range(count):
            got = None
            for _ in range(self.opt.upload_retries):
                self._send("mission_request_int_send", self.target[0], self.target[1], seq, mission_type)
                try:
                    while got is None:
                        m = self._mq.get(timeout=self.opt.upload_timeout_s)
                        if m.get_type() == "MISSION_ITEM_INT" and m.seq == seq and getattr(m, "mission_type", 0) == mission_type:
                            got = m
                except queue.Empty:
                    continue
                break
            if got is None:
                raise FlightError(f"{name} download: item {seq} of {count} never came; link lost?")
            out.append(got)
        self._send("mission_ack_send", self.target[0], self.target[1], mavlink.MAV_MISSION_ACCEPTED, mission_type)
        return out

    def upload_and_verify(self, plan: MavlinkPlan) -> None:
        for items, mtype in ((plan.fence, 1), (plan.rally, 2), (plan.mission, 0)):
            if mtype != 0 and not items:
                continue
            self.upload(items, mtype)
            back = self.download(mtype)
            if len(back) != len(items):
                raise FlightError(f"{TYPE_NAMES[mtype]} verify: uploaded {len(items)} items, the vehicle holds {len(back)}")
            for a, b in zip(items, back):
                if a.seq == 0 and mtype == 0:
                    continue  # the vehicle keeps its own home in slot 0
                diffs = stored_differences(a, b)
                if diffs:
                    raise FlightError(f"{TYPE_NAMES[mtype]} verify: item {a.seq} (command {a.command}) is not held as "
                                      f"sent: {'; '.join(diffs)}")
        self._event("mission, fence and rally verified by download")

    # -- flying --------------------------------------------------------------------------------
    def fly(self, plan: MavlinkPlan, *, takeoff_alt_m: float, should_abort: Callable[[], bool] = lambda: False) -> FlightOutcome:
        """Failsafes configured (unless ``configure_failsafes`` already ran), GUIDED, arm, take off,
        AUTO from item 1; watch until disarmed on the ground. A continuation after an interruption
        is its own mission (``flight.mission.resume_from``), flown from its start."""
        if self.failsafe_record is None:
            self.configure_failsafes(plan)
        self.plan = plan
        n_items = len(plan.mission)
        self.set_mode("GUIDED")
        for attempt in range(3):
            self.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1, until=lambda s: s.armed, what="arming")
            self._event("armed")
            try:
                self.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, takeoff_alt_m,
                             until=lambda s: s.landed_state != mavlink.MAV_LANDED_STATE_ON_GROUND or s.rel_alt_m > 0.3,
                             what="takeoff")
                break
            except CommandError:
                # Copter disarms itself ~10 s after arming on the ground: a takeoff lost on the link
                # can find it disarmed. Arm again and repeat; anything else is a real refusal.
                if self.state.armed or attempt == 2:
                    raise
                self._event("the vehicle disarmed on the ground before the takeoff arrived; arming again")
        if not self.wait_until(lambda s: s.rel_alt_m >= 0.8 * takeoff_alt_m or not s.armed, 60):
            raise FlightError(f"takeoff: the vehicle did not climb to {takeoff_alt_m:.1f} m within 60 s")
        self.set_mode("AUTO")
        self._event("AUTO from item 1")
        return self.watch(n_items, should_abort=should_abort)

    def try_mode(self, mode: str, why: str) -> bool:
        """Switch to ``mode`` because of ``why``; False (and an event) when the vehicle refuses."""
        self._event(why)
        try:
            self.set_mode(mode)
            return True
        except FlightError as e:
            self._event(f"could not switch to {mode}: {e}")
            return False

    def watch(self, n_items: int, *, should_abort: Callable[[], bool] = lambda: False) -> FlightOutcome:
        return watch_flight(self, n_items, should_abort=should_abort)


def _param_name(raw) -> str:
    pid = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    return pid.rstrip("\x00")


__all__ = ["MissionRunner", "RunnerOptions", "VehicleState", "FlightOutcome", "FlightStatus", "CommandError",
           "CommandResult"]
