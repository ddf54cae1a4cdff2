"""Fly a mission over real MAVLink (pymavlink): connect, check, upload and verify, fly, record.

``MissionRunner(address, options)`` is the ground station side. A receiver thread reads every
message (each one goes to the tlog sink with its receive time) and keeps the vehicle state; a
heartbeat thread sends the GCS heartbeat at 2 Hz of real time (ArduCopter's GCS failsafe watches
it). The main thread walks the flight: streams, pre-flight checks (EKF flags, pre-arm bit, fix
type, battery), mission / fence / rally upload answering both MISSION_REQUEST and
MISSION_REQUEST_INT with retries, a download to verify, GUIDED, arm, takeoff, AUTO, then watches
progress and the failsafes until the vehicle is disarmed on the ground (or loitering at a rally
point after a link loss it did not recover from). ``abort()`` (Ctrl-C in the CLI) sends RTL or
LAND and waits for the vehicle to disarm.
"""

from __future__ import annotations

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
from flight.mission import CONDITION_YAW, MavItem, MavlinkPlan, same_stored  # noqa: E402
from flight.sim_kinematics import COPTER_MODES  # noqa: E402

MODE_NAMES = {v: k for k, v in COPTER_MODES.items()}
EKF_POS_HORIZ_ABS, EKF_CONST_POS_MODE = 0x10, 0x80
TYPE_NAMES = {0: "mission", 1: "fence", 2: "rally"}


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
    low_battery_pct: float = 25.0  # RTL and a resume point below this
    rtk_hold_s: float = 5.0  # fix below required: hold (BRAKE) this long, then RTL
    link_lost_s: float = 3.0  # no message from the vehicle this long: the link is lost
    link_giveup_s: float = 60.0  # lost this long: stop (the vehicle's failsafe has it)
    abort_mode: str = "RTL"  # RTL or LAND
    stream_hz: int = 10
    mission_timeout_s: float = 3600.0
    signing_key: bytes | None = None
    require_signing: bool = False


@dataclass
class VehicleState:
    mode: str = ""
    armed: bool = False
    landed_state: int = 0  # MAV_LANDED_STATE
    ekf_flags: int = 0
    prearm_ok: bool = False
    fix_type: int = 0
    battery_pct: float = -1.0
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    rel_alt_m: float = 0.0
    alt_amsl_m: float = 0.0
    position_t_ns: int = 0
    roll_rad: float = 0.0
    pitch_rad: float = 0.0
    yaw_rad: float = 0.0
    mission_current: int = 0
    reached: list[int] = field(default_factory=list)
    statustexts: list[str] = field(default_factory=list)
    last_msg_wall: float = 0.0
    signed_seen: bool = False
    unsigned_seen: bool = False


@dataclass(frozen=True, kw_only=True)
class FlightOutcome:
    status: str  # complete | rtl_battery | rtl_rtk | link_lost | aborted
    last_reached_seq: int
    resume_seq: int | None  # first mission item to fly again (rackscan fly --resume), None when done
    events: tuple[str, ...]
    disarmed_on_ground: bool
    mode: str


class MissionRunner:
    def __init__(self, address: str, options: RunnerOptions = RunnerOptions(), *,
                 tlog: Callable[[bytes, int], None] | None = None, log: Callable[[str], None] = lambda s: None,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        self.address, self.opt, self._tlog, self._log, self._on_progress = address, options, tlog, log, on_progress
        self._tlog_failed = False
        self.state = VehicleState()
        self.events: list[str] = []
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._mq: queue.Queue = queue.Queue()  # mission protocol messages
        self._acks: dict[int, int] = {}
        self.params: dict[str, float] = {}  # PARAM_VALUEs seen
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
                except OSError as exc:  # a full disk must not stop the control loop; say so once
                    if not self._tlog_failed:
                        self._log(f"telemetry log: write failed ({exc}); flying on without recording telemetry")
                    self._tlog_failed = True
            self._update(m, kind)

    def _update(self, m, kind: str) -> None:
        s = self.state
        with self._cond:
            s.last_msg_wall = time.monotonic()
            if getattr(m, "_signed", False):
                s.signed_seen = True
            else:
                s.unsigned_seen = True
            if kind == "HEARTBEAT" and m.type != mavlink.MAV_TYPE_GCS:
                self.target = (m.get_srcSystem(), m.get_srcComponent())
                s.mode = MODE_NAMES.get(m.custom_mode, str(m.custom_mode))
                s.armed = bool(m.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
            elif kind == "SYS_STATUS":
                bit = mavlink.MAV_SYS_STATUS_PREARM_CHECK
                s.prearm_ok = bool(m.onboard_control_sensors_health & bit) or not (m.onboard_control_sensors_present & bit)
                s.battery_pct = float(m.battery_remaining)
            elif kind == "EKF_STATUS_REPORT":
                s.ekf_flags = int(m.flags)
            elif kind == "GPS_RAW_INT":
                s.fix_type = int(m.fix_type)
            elif kind == "GLOBAL_POSITION_INT":
                s.lat_deg, s.lon_deg, s.rel_alt_m = m.lat / 1e7, m.lon / 1e7, m.relative_alt / 1000.0
                s.alt_amsl_m = m.alt / 1000.0
                s.position_t_ns = time.time_ns()
            elif kind == "ATTITUDE":
                s.roll_rad, s.pitch_rad, s.yaw_rad = float(m.roll), float(m.pitch), float(m.yaw)
            elif kind == "EXTENDED_SYS_STATE":
                s.landed_state = int(m.landed_state)
            elif kind == "MISSION_CURRENT":
                s.mission_current = int(m.seq)
            elif kind == "MISSION_ITEM_REACHED":
                if m.seq not in s.reached:
                    s.reached.append(int(m.seq))
            elif kind == "STATUSTEXT":
                s.statustexts.append(str(m.text))
                self._log(f"vehicle: {m.text}")
            elif kind == "COMMAND_ACK":
                self._acks[int(m.command)] = int(m.result)
            elif kind == "PARAM_VALUE":
                pid = m.param_id.decode("ascii", "replace") if isinstance(m.param_id, bytes) else str(m.param_id)
                self.params[pid.rstrip("\x00")] = float(m.param_value)
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
                what: str = "") -> None:
        """COMMAND_LONG with retries until ``until`` holds (or an ACCEPTED ack when no ``until``)."""
        p = list(params) + [0.0] * (7 - len(params))
        for attempt in range(self.opt.command_retries):
            self._acks.pop(cmd, None)
            self._send("command_long_send", self.target[0], self.target[1], cmd, attempt, *p)
            ok = self.wait_until(lambda s: (until(s) if until else self._acks.get(cmd) == 0)
                                 or self._acks.get(cmd) in (1, 2, 3, 4), self.opt.command_timeout_s)
            res = self._acks.get(cmd)
            if until and until(self.state):
                return
            if res in (1, 2, 3, 4) and until and attempt > 0 and self.wait_until(until, 2 * self.opt.command_timeout_s):
                return  # an earlier try took effect (its confirmation was lost); this repeat was refused for that
            if res in (1, 2, 3, 4):  # temporarily rejected, denied, unsupported, failed
                why = next((t for t in reversed(self.state.statustexts) if t.startswith(("Arm:", "PreArm:"))), "")
                st = self.state
                raise FlightError(f"vehicle refused {what or f'command {cmd}'} (MAV_RESULT {res}, try {attempt + 1}; "
                                  f"vehicle {st.mode}, {'armed' if st.armed else 'disarmed'}, landed state "
                                  f"{st.landed_state}, {st.rel_alt_m:.1f} m)" + (f": {why}" if why else ""))
            if ok and not until:
                return
        raise FlightError(f"vehicle did not confirm {what or f'command {cmd}'} after {self.opt.command_retries} tries; "
                          "link lost?")

    def set_param(self, name: str, value: float) -> None:
        """PARAM_SET, retried until the vehicle's PARAM_VALUE echoes the value."""
        self.params.pop(name, None)
        for _ in range(self.opt.command_retries):
            self._send("param_set_send", self.target[0], self.target[1], name.encode("ascii"), float(value),
                       mavlink.MAV_PARAM_TYPE_REAL32)
            if self.wait_until(lambda s: abs(self.params.get(name, float("nan")) - value) < 1e-6,
                               self.opt.command_timeout_s):
                self._event(f"parameter {name} = {value:g}")
                return
        got = self.params.get(name)
        raise FlightError(f"vehicle did not set parameter {name} to {value:g} after {self.opt.command_retries} tries"
                          + (f" (it reports {got:g})" if got is not None else "; link lost?"))

    def set_mode(self, name: str) -> None:
        self.command(mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, COPTER_MODES[name],
                     until=lambda s: s.mode == name, what=f"mode {name}")

    # -- streams and checks --------------------------------------------------------------------
    def request_streams(self) -> None:
        for stream in (mavlink.MAV_DATA_STREAM_EXTENDED_STATUS, mavlink.MAV_DATA_STREAM_POSITION,
                       mavlink.MAV_DATA_STREAM_EXTRA1, mavlink.MAV_DATA_STREAM_EXTRA2, mavlink.MAV_DATA_STREAM_EXTRA3):
            self._send("request_data_stream_send", self.target[0], self.target[1], stream, self.opt.stream_hz, 1)
        if not self.wait_until(lambda s: s.battery_pct >= 0, 5.0):
            for stream in (mavlink.MAV_DATA_STREAM_EXTENDED_STATUS, mavlink.MAV_DATA_STREAM_EXTRA3):
                self._send("request_data_stream_send", self.target[0], self.target[1], stream, self.opt.stream_hz, 1)

    def preflight(self) -> None:
        def problems(s: VehicleState) -> list[str]:
            out = []
            if not (s.ekf_flags & EKF_POS_HORIZ_ABS) or s.ekf_flags & EKF_CONST_POS_MODE:
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
                    f"battery {self.state.battery_pct:.0f}%")

    # -- mission protocol ----------------------------------------------------------------------
    def _drain(self) -> None:
        while not self._mq.empty():
            self._mq.get_nowait()

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
                    it = items[asked]
                    self._send("mission_item_int_send", self.target[0], self.target[1], it.seq, it.frame, it.command,
                               it.current, it.autocontinue, it.param1, it.param2, it.param3, it.param4, it.x, it.y,
                               it.z, it.mission_type)
                continue
            if getattr(m, "mission_type", 0) != mission_type:
                continue
            kind = m.get_type()
            if kind == "MISSION_ACK":
                if m.type == mavlink.MAV_MISSION_ACCEPTED and (asked == n - 1 or n == 0):
                    self._event(f"{name} uploaded ({n} items)")
                    return
                if m.type != mavlink.MAV_MISSION_ACCEPTED:
                    raise FlightError(f"{name} upload refused by the vehicle (MAV_MISSION_RESULT {m.type})")
                continue
            if kind in ("MISSION_REQUEST", "MISSION_REQUEST_INT") and 0 <= m.seq < n:
                it = items[m.seq]
                self._send("mission_item_int_send", self.target[0], self.target[1], it.seq, it.frame, it.command,
                           it.current, it.autocontinue, it.param1, it.param2, it.param3, it.param4, it.x, it.y,
                           it.z, it.mission_type)
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
                if not same_stored(a, b):
                    raise FlightError(f"{TYPE_NAMES[mtype]} verify: item {a.seq} differs on the vehicle "
                                      f"(command {b.command} at {b.x},{b.y},{b.z})")
        self._event("mission, fence and rally verified by download")

    # -- flying --------------------------------------------------------------------------------
    def fly(self, plan: MavlinkPlan, *, takeoff_alt_m: float, start_seq: int = 1,
            should_abort: Callable[[], bool] = lambda: False) -> FlightOutcome:
        """GUIDED, arm, take off, AUTO from ``start_seq``; watch until disarmed on the ground.

        A mission with CONDITION_YAW items (the heading along a pass) needs WP_YAW_BEHAVIOR 0:
        otherwise ArduCopter turns to face the next waypoint at every waypoint's start."""
        if any(it.command == CONDITION_YAW for it in plan.mission):
            self.set_param("WP_YAW_BEHAVIOR", 0)
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
            except FlightError:
                # Copter disarms itself ~10 s after arming on the ground: a takeoff lost on the link
                # can find it disarmed. Arm again and repeat; anything else is a real refusal.
                if self.state.armed or attempt == 2:
                    raise
                self._event("the vehicle disarmed on the ground before the takeoff arrived; arming again")
        if not self.wait_until(lambda s: s.rel_alt_m >= 0.8 * takeoff_alt_m or not s.armed, 60):
            raise FlightError(f"takeoff: the vehicle did not climb to {takeoff_alt_m:.1f} m within 60 s")
        if start_seq > 1:
            self.command(mavlink.MAV_CMD_DO_SET_MISSION_CURRENT, start_seq, until=lambda s: s.mission_current == start_seq,
                         what=f"resume at item {start_seq}")
        self.set_mode("AUTO")
        self._commanded = "AUTO"
        self._event(f"AUTO from item {start_seq}")
        return self.watch(n_items, should_abort=should_abort)

    def _land_or_rtl(self, mode: str, why: str) -> None:
        self._event(why)
        self._commanded = mode
        try:
            self.set_mode(mode)
        except FlightError as e:
            self._event(f"could not switch to {mode}: {e}")

    def watch(self, n_items: int, *, should_abort: Callable[[], bool] = lambda: False) -> FlightOutcome:
        status, resume = "complete", None
        rtk_low_since = lost_since = None
        t_end = time.monotonic() + self.opt.mission_timeout_s
        last_progress = -1
        while time.monotonic() < t_end:
            self.wait_until(lambda s: False, 0.2)
            s = self.state
            done = max(s.reached, default=0)
            if self._on_progress and done != last_progress:
                self._on_progress(done, n_items - 1)
                last_progress = done
            if not s.armed and s.landed_state in (mavlink.MAV_LANDED_STATE_ON_GROUND, 0) and self.link_up:
                break
            if should_abort():
                self._land_or_rtl(self.opt.abort_mode, f"operator abort: {self.opt.abort_mode}")
                status, resume = "aborted", done + 1
                return self._finish(status, resume, n_items)
            if not self.link_up:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > self.opt.link_giveup_s:
                    self._event(f"link lost for {self.opt.link_giveup_s:.0f} s: the vehicle's failsafe has it")
                    return FlightOutcome(status="link_lost", last_reached_seq=done, resume_seq=done + 1,
                                         events=tuple(self.events), disarmed_on_ground=False, mode=s.mode)
                continue
            if lost_since is not None:
                self._event(f"link back after {time.monotonic() - lost_since:.1f} s; vehicle in {s.mode}")
                if s.mode in ("RTL", "LAND") and status == "complete":
                    status, resume = "link_lost", done + 1
                lost_since = None
            if s.mode in ("RTL", "LAND") and s.mode != getattr(self, "_commanded", "AUTO") and status == "complete":
                why = next((t for t in reversed(s.statustexts) if "ailsafe" in t or "Breach" in t or "low" in t), "")
                status, resume = "failsafe", done + 1
                self._event(f"the vehicle switched to {s.mode} by itself{f' ({why})' if why else ''}; "
                            f"resume from item {done + 1}")
            if rtk_low_since is not None:  # holding for the fix to come back
                if s.fix_type >= self.opt.required_fix:
                    rtk_low_since = None
                    self._land_or_rtl("AUTO", f"fix type {s.fix_type} again: continuing the mission")
                elif time.monotonic() - rtk_low_since > self.opt.rtk_hold_s:
                    rtk_low_since = None
                    status, resume = "rtl_rtk", done + 1
                    self._land_or_rtl("RTL", f"fix still {s.fix_type} after {self.opt.rtk_hold_s:.0f} s: RTL, "
                                             f"resume from item {done + 1}")
                continue
            if s.mode != "AUTO":
                continue
            if 0 <= s.battery_pct < self.opt.low_battery_pct:
                self._land_or_rtl("RTL", f"battery {s.battery_pct:.0f}% below {self.opt.low_battery_pct:.0f}%: RTL, "
                                         f"resume from item {done + 1}")
                status, resume = "rtl_battery", done + 1
                continue
            if self.opt.required_fix and s.fix_type < self.opt.required_fix:
                rtk_low_since = time.monotonic()
                self._land_or_rtl("BRAKE", f"fix type {s.fix_type} below {self.opt.required_fix}: holding "
                                           f"up to {self.opt.rtk_hold_s:.0f} s")
        else:
            raise FlightError(f"mission did not finish within {self.opt.mission_timeout_s:.0f} s")
        return self._finish(status, resume, n_items)

    def _finish(self, status: str, resume: int | None, n_items: int = 0) -> FlightOutcome:
        # wait for the vehicle to land and disarm itself (RTL / LAND / mission end)
        self.wait_until(lambda s: not s.armed and s.landed_state in (mavlink.MAV_LANDED_STATE_ON_GROUND, 0),
                        self.opt.mission_timeout_s)
        s = self.state
        done = max(s.reached, default=0)
        last_nav = n_items - 2  # the final LAND / RTL item is not reported as reached
        if status == "complete" and n_items and done < last_nav:
            status, resume = "incomplete", done + 1
        self._event(f"flight ended: {status}; vehicle {'disarmed on the ground' if not s.armed else 'still armed'} in {s.mode}")
        return FlightOutcome(status=status, last_reached_seq=done, resume_seq=resume, events=tuple(self.events),
                             disarmed_on_ground=not s.armed, mode=s.mode)
