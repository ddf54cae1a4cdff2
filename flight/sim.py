"""A simulated ArduCopter that speaks real MAVLink 2 (pymavlink, ardupilotmega) over UDP/TCP.

A test double for the runner and the demo, built to behave as ArduCopter does (DESIGN.md
"Flight behaviour"): 1 Hz HEARTBEAT with Copter's custom modes, little telemetry until
REQUEST_DATA_STREAM / SET_MESSAGE_INTERVAL, EKF_STATUS_REPORT flags and a pre-arm bit that turn
healthy only after an EKF ready delay and a 3D/RTK fix (indoors: vision >= 4 Hz and an EKF origin),
arming rules with "PreArm:"/"Arm:" STATUSTEXTs and auto-disarm, the mission protocol for mission,
fence and rally (item 0 is home, the vehicle asks with MISSION_REQUEST and re-asks after ~1.5 s),
AUTO with MISSION_CURRENT / MISSION_ITEM_REACHED, RTL to the nearest rally point or home, LAND,
GCS / battery / EKF / fence failsafes, and injected faults (packet drop, RTK loss, battery sag,
link cut, refused arm).

Time: the vehicle runs its own clock (``sim_time_s``) at ``speedup`` times real time. Every
message carries it (``time_boot_ms``; ``SYSTEM_TIME.time_unix_usec`` = ``epoch_unix_s`` + sim
time), so recordings of sped-up flights are self-consistent. Timeouts that guard against a slow
peer (GCS failsafe, mission re-requests) also wait a minimum of wall time, so a loaded machine
does not trip them.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil  # noqa: E402
from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: E402

from flight.errors import FlightError  # noqa: E402
from flight.mission import NAV_COMMANDS  # noqa: E402
from flight.sim_kinematics import COPTER_MODES, Limits, State, step  # noqa: E402
from warehouse.geodetic import GeoOrigin  # noqa: E402

MODE_NAMES = {v: k for k, v in COPTER_MODES.items()}
POSITION_MODES = {"GUIDED", "LOITER", "AUTO", "RTL", "BRAKE"}
ARMABLE_MODES = {"STABILIZE", "GUIDED", "LOITER"}
FORCE_MAGIC = 21196

EKF_READY_FLAGS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x100 | 0x200
EKF_NOT_READY_FLAGS = 0x01 | 0x80  # attitude only, constant position mode
SENSORS = (mavlink.MAV_SYS_STATUS_SENSOR_3D_GYRO | mavlink.MAV_SYS_STATUS_SENSOR_3D_ACCEL
           | mavlink.MAV_SYS_STATUS_SENSOR_GPS | mavlink.MAV_SYS_STATUS_AHRS
           | mavlink.MAV_SYS_STATUS_SENSOR_BATTERY | mavlink.MAV_SYS_STATUS_PREARM_CHECK)

# ArduCopter stream groups (GCS_MAVLink streams): which messages each REQUEST_DATA_STREAM id turns on
STREAM_GROUPS = {
    mavlink.MAV_DATA_STREAM_EXTENDED_STATUS: ("SYS_STATUS", "GPS_RAW_INT", "MISSION_CURRENT", "EXTENDED_SYS_STATE"),
    mavlink.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
    mavlink.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE",),
    mavlink.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
    mavlink.MAV_DATA_STREAM_EXTRA3: ("SYSTEM_TIME", "BATTERY_STATUS", "EKF_STATUS_REPORT", "MOUNT_STATUS"),
}
MSG_IDS = {name: getattr(mavlink, f"MAVLINK_MSG_ID_{name}") for g in STREAM_GROUPS.values() for name in g}
MSG_IDS.update(HOME_POSITION=mavlink.MAVLINK_MSG_ID_HOME_POSITION, AUTOPILOT_VERSION=mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION,
               HEARTBEAT=mavlink.MAVLINK_MSG_ID_HEARTBEAT)
MSG_NAMES = {v: k for k, v in MSG_IDS.items()}

LANDED_ON_GROUND, LANDED_IN_AIR, LANDED_TAKEOFF, LANDED_LANDING = 1, 2, 3, 4


@dataclass(frozen=True, kw_only=True)
class Faults:
    """Faults to inject; times are vehicle seconds since boot."""

    drop_pct: float = 0.0  # of packets, each direction
    rtk_loss_at_s: float | None = None
    rtk_loss_fix: int = 3  # the fix type after the loss (3 = 3D, 1 = none)
    rtk_restore_after_s: float | None = None
    battery_sag_at_s: float | None = None
    battery_sag_to_pct: float = 15.0
    link_cut_at_s: float | None = None
    link_cut_s: float | None = 30.0  # None: the link never comes back
    refuse_arm_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    home_lat_deg: float = 10.7769
    home_lon_deg: float = 106.7009
    home_alt_m: float = 10.0  # AMSL
    speedup: float = 1.0
    tick_wall_s: float = 0.02
    ekf_ready_s: float = 3.0
    gps_fix: int = 6
    indoor: bool = False
    limits: Limits = field(default_factory=Limits)
    wp_speed_m_s: float = 2.0
    wp_radius_m: float = 0.3
    rtl_alt_m: float = 5.0
    rtl_loiter_s: float = 1.0
    land_speed_m_s: float = 0.5
    disarm_delay_s: float = 10.0
    fs_gcs_timeout_s: float = 5.0
    # the GCS failsafe also waits this much wall time: at speedup the GCS's heartbeats (2 Hz of real
    # time) come fewer per vehicle second, and at 1.0 s one dropped heartbeat could trip it (a 10%
    # packet-drop flight failed so, now and then); 2.25 s takes four in a row, as FS_GCS_TIMEOUT 5 s
    # against a 1 Hz GCS takes five
    min_wall_timeout_s: float = 2.25
    mission_retry_s: float = 1.5
    battery_capacity_mah: float = 5000.0
    battery_cells: int = 4
    battery_low_pct: float = 20.0
    hover_current_a: float = 18.0
    mission_request_int: bool = False  # ask uploads with MISSION_REQUEST_INT instead of MISSION_REQUEST
    signing_key: bytes | None = None
    require_signing: bool = False
    epoch_unix_s: float | None = None  # None: wall time at start
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    sysid: int = 1
    compid: int = 1


@dataclass(frozen=True, kw_only=True)
class VehicleSnapshot:
    """What the vehicle is doing (for tests and the `rackscan sim` display)."""

    sim_time_s: float
    mode: str
    armed: bool
    landed: bool
    east_m: float
    north_m: float
    up_m: float
    lat_deg: float
    lon_deg: float
    fix_type: int
    ekf_ok: bool
    battery_pct: float
    mission_seq: int
    mission_count: int
    fence_count: int
    rally_count: int
    gimbal_pitch_deg: float
    statustexts: tuple[str, ...]
    unsigned_rejected: int
    link_up: bool
    yaw_deg: float = 0.0


@dataclass
class _Upload:
    mission_type: int
    count: int
    items: list
    next_seq: int = 0
    last_req_sim: float = 0.0
    last_req_wall: float = 0.0
    retries: int = 0


# ArduCopter's download frames: the *_INT frames come back as their float twins (AP_Mission)
DOWNLOAD_FRAME = {mavlink.MAV_FRAME_GLOBAL_INT: mavlink.MAV_FRAME_GLOBAL,
                  mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT: mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                  mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT: mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT}


def _as_stored(item: list) -> list:
    """A mission item as ArduCopter keeps it (AP_Mission's 15-byte command): a waypoint keeps its
    delay in whole seconds and drops params 2-4 (no yaw), a takeoff keeps param1, a land keeps
    param1 and its loiter direction (param4 back as -1 or +1); altitudes in centimetres. A rally
    point keeps its altitude in whole metres."""
    it = list(item)
    if it[12] == mavlink.MAV_MISSION_TYPE_RALLY:
        it[11] = float(int(it[11]))  # AP_Rally keeps whole metres (int16)
    if it[12] != mavlink.MAV_MISSION_TYPE_MISSION:
        return it
    cmd = it[2]
    if cmd in (mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_CMD_NAV_TAKEOFF, mavlink.MAV_CMD_NAV_LAND):
        p1 = float(max(0, min(65535, int(it[5])))) if cmd == mavlink.MAV_CMD_NAV_WAYPOINT else float(it[5])
        p4 = (-1.0 if it[8] < 0 else 1.0) if cmd == mavlink.MAV_CMD_NAV_LAND else 0.0
        it[5:9] = [p1, 0.0, 0.0, p4]
        it[11] = math.floor(float(it[11]) * 100 + 1e-6) / 100  # int32 centimetres, cut
    return it


class SimVehicle:
    """Run with ``start()`` / ``stop()`` (or as a context manager); ``address`` as mavutil takes it.

    ``udpin:127.0.0.1:0`` listens on an ephemeral port (``bound_port`` tells which);
    ``udpout:127.0.0.1:14550`` sends to a ground station listening there.
    """

    def __init__(self, address: str, config: SimConfig | None = None) -> None:
        self.address = address
        self.cfg = config or SimConfig()
        if self.cfg.speedup <= 0:
            raise FlightError(f"speedup {self.cfg.speedup}: must be > 0")
        self.origin = GeoOrigin(lat_deg=self.cfg.home_lat_deg, lon_deg=self.cfg.home_lon_deg,
                                alt_m=self.cfg.home_alt_m, heading_deg=90.0)  # site frame = ENU
        # simulated sensor noise and packet loss, not secrets (bandit B311)
        self._rng = random.Random(self.cfg.seed)  # nosec B311
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.conn = None
        self.bound_port: int | None = None
        # vehicle state
        self.t = 0.0
        self.state = State()
        self.mode = "STABILIZE"
        self.armed = False
        self.landed = True
        self.landed_state = LANDED_ON_GROUND
        self.arm_or_land_t = 0.0
        self.home_enu = (0.0, 0.0, 0.0)
        self.target = (0.0, 0.0, 0.0)
        self.yaw_target: float | None = None
        self.yaw_fixed = False  # a CONDITION_YAW heading is in force
        self.params: dict[str, float] = {"WP_YAW_BEHAVIOR": 2.0}  # ArduCopter's default: face the next waypoint
        self.speed_m_s = self.cfg.wp_speed_m_s
        self.gimbal_pitch_deg = 0.0
        self.fix = self.cfg.gps_fix if not self.cfg.indoor else 1
        self.ekf_err = np.zeros(2)
        self.used_mah = 0.0
        self.sag_pct: float | None = None
        self.batt_fs = False
        self.gcs_fs = False
        self.ekf_fs = False
        self.fence_fs = False
        self.last_gcs_hb: tuple[float, float] | None = None  # (sim, wall)
        self.origin_set = False
        self.vision_times: list[float] = []
        self.items: dict[int, list] = {0: [], 1: [], 2: []}
        self.seq = 1
        self.mission_state = 1
        self.nav: dict | None = None  # the running navigation phase
        self.upload: _Upload | None = None
        self.last_upload_done: tuple[int, int] | None = None
        self.rates: dict[str, float] = {}  # message name -> Hz of vehicle time
        self.last_sent: dict[str, float] = {}
        self.statustexts: list[str] = []
        self.unsigned_rejected = 0
        self.link_up = True
        self._prev_v = (0.0, 0.0)
        self._acc = (0.0, 0.0)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "SimVehicle":
        try:
            self.conn = mavutil.mavlink_connection(self.address, source_system=self.cfg.sysid,
                                                   source_component=self.cfg.compid, dialect="ardupilotmega",
                                                   autoreconnect=True)
        except Exception as exc:  # noqa: BLE001 - mavutil raises many kinds
            raise FlightError(f"--listen {self.address}: cannot open ({exc}); expected e.g. udpin:127.0.0.1:14550 or udpout:127.0.0.1:14550") from None
        port = getattr(self.conn, "port", None)
        if port is not None and hasattr(port, "getsockname"):
            self.bound_port = port.getsockname()[1]
        if self.cfg.signing_key:
            self.conn.setup_signing(self.cfg.signing_key, sign_outgoing=True,
                                    allow_unsigned_callback=self._allow_unsigned)
        self.epoch_unix_s = time.time() if self.cfg.epoch_unix_s is None else self.cfg.epoch_unix_s
        self._thread = threading.Thread(target=self._run, name="sim-vehicle", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.conn is not None:
            self.conn.close()

    def __enter__(self) -> "SimVehicle":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _allow_unsigned(self, mav, msg_id) -> bool:
        if self.cfg.require_signing:
            self.unsigned_rejected += 1
            return False
        return True

    def snapshot(self) -> VehicleSnapshot:
        with self._lock:
            lat, lon, _ = self._geo(self.state.east_m, self.state.north_m, self.state.up_m)
            return VehicleSnapshot(
                sim_time_s=self.t, mode=self.mode, armed=self.armed, landed=self.landed,
                east_m=self.state.east_m, north_m=self.state.north_m, up_m=self.state.up_m,
                lat_deg=lat, lon_deg=lon, fix_type=self.fix, ekf_ok=self._ekf_ok(),
                battery_pct=self._battery_pct(), mission_seq=self.seq, mission_count=len(self.items[0]),
                fence_count=len(self.items[1]), rally_count=len(self.items[2]),
                gimbal_pitch_deg=self.gimbal_pitch_deg, statustexts=tuple(self.statustexts),
                unsigned_rejected=self.unsigned_rejected, link_up=self.link_up, yaw_deg=self.state.yaw_deg)

    def wait_for(self, predicate, timeout_wall_s: float = 30.0) -> VehicleSnapshot:
        """Block until ``predicate(snapshot)`` holds (tests); FlightError after the timeout."""
        end = time.monotonic() + timeout_wall_s
        while time.monotonic() < end:
            s = self.snapshot()
            if predicate(s):
                return s
            time.sleep(0.02)
        raise FlightError(f"simulated vehicle: condition not met within {timeout_wall_s} s; last state {self.snapshot()}")

    # -- geometry ------------------------------------------------------------------------------
    def _geo(self, e: float, n: float, u: float) -> tuple[float, float, float]:
        lat, lon, alt = self.origin.site_to_geodetic(np.array([e, n, u]))
        return float(lat), float(lon), float(alt)

    def _enu(self, lat: float, lon: float, alt_amsl: float) -> tuple[float, float, float]:
        p = self.origin.geodetic_to_site(lat, lon, alt_amsl)
        return float(p[0]), float(p[1]), float(p[2])

    def _item_enu(self, it) -> tuple[float, float, float]:
        """Target of a MISSION_ITEM_INT-shaped item in ENU (current position when lat/lon are 0)."""
        frame, x, y, z = it[1], it[9], it[10], it[11]
        if frame in (mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT):
            up = z - self.cfg.home_alt_m
        else:
            up = z
        if x == 0 and y == 0:
            return self.state.east_m, self.state.north_m, up
        e, n, _ = self._enu(x / 1e7, y / 1e7, self.cfg.home_alt_m)
        return e, n, up

    # -- main loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        next_wall = time.monotonic()
        while not self._stop.is_set():
            self._receive()
            dt_total = min(self.cfg.tick_wall_s * self.cfg.speedup, 0.5)
            with self._lock:
                n = max(1, math.ceil(dt_total / 0.1))
                for _ in range(n):
                    self._physics(dt_total / n)
                self._faults()
                self._failsafes()
            self._telemetry()
            self._upload_retry()
            next_wall += self.cfg.tick_wall_s
            delay = next_wall - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_wall = time.monotonic()  # behind: run slower than speedup, never jump

    def _link_blocked(self) -> bool:
        f = self.cfg.faults
        if f.link_cut_at_s is None or self.t < f.link_cut_at_s:
            return False
        return f.link_cut_s is None or self.t < f.link_cut_at_s + f.link_cut_s

    def _dropped(self) -> bool:
        return self.cfg.faults.drop_pct > 0 and self._rng.random() * 100.0 < self.cfg.faults.drop_pct

    def _send(self, msg) -> None:
        if self._link_blocked() or self._dropped():
            return
        try:
            self.conn.mav.send(msg)
        except OSError:
            pass  # nobody listening yet (udpout to a closed port)

    def _receive(self) -> None:
        for _ in range(200):
            try:
                msg = self.conn.recv_msg()
            except (OSError, ConnectionError):
                return
            if msg is None:
                return
            if msg.get_type() == "BAD_DATA":
                continue
            if self._link_blocked() or self._dropped():
                continue
            if msg.get_srcSystem() == self.cfg.sysid:
                continue
            with self._lock:
                self._handle(msg)

    # -- helpers -------------------------------------------------------------------------------
    def _boot_ms(self) -> int:
        return int(self.t * 1000) & 0xFFFFFFFF

    def _text(self, text: str, severity: int = mavlink.MAV_SEVERITY_INFO) -> None:
        self.statustexts.append(text)
        self._send(self.conn.mav.statustext_encode(severity, text.encode()[:50]))

    def _ack(self, command: int, result: int) -> None:
        self._send(self.conn.mav.command_ack_encode(command, result))

    def _ekf_ok(self) -> bool:
        if self.t < self.cfg.ekf_ready_s:
            return False
        if self.cfg.indoor:
            recent = [t for t in self.vision_times if t > self.t - 1.0]
            return self.origin_set and len(recent) >= 4
        return self.fix >= 3

    def _battery_pct(self) -> float:
        pct = max(0.0, 100.0 - 100.0 * self.used_mah / self.cfg.battery_capacity_mah)
        return min(pct, self.sag_pct) if self.sag_pct is not None else pct

    def _prearm_failure(self) -> str | None:
        if not self._ekf_ok():
            return "PreArm: Need Position Estimate" if self.fix >= 3 or self.cfg.indoor else "PreArm: GPS 1: Bad fix"
        if self._battery_pct() < self.cfg.battery_low_pct:
            return "PreArm: Battery 1 below minimum arming capacity"
        return None

    def _set_mode(self, name: str, *, reason: str = "") -> bool:
        if name not in COPTER_MODES:
            return False
        if name in POSITION_MODES and not self._ekf_ok():
            self._text(f"Mode change to {name} failed: requires position", mavlink.MAV_SEVERITY_WARNING)
            return False
        if name == "AUTO":
            nav = [it for it in self.items[0][1:] if it[2] in NAV_COMMANDS]
            if not nav:
                self._text("Mode change to AUTO failed: no mission", mavlink.MAV_SEVERITY_WARNING)
                return False
            if self.armed and self.landed and nav[0][2] != mavlink.MAV_CMD_NAV_TAKEOFF:
                self._text("Auto: Missing Takeoff Cmd", mavlink.MAV_SEVERITY_WARNING)
                return False
        self.mode = name
        pos = (self.state.east_m, self.state.north_m, self.state.up_m)
        self.nav = None
        if name in ("LOITER", "BRAKE", "GUIDED", "STABILIZE"):
            self.target = pos
            self.yaw_target, self.yaw_fixed = None, False
        elif name == "RTL":
            self._start_rtl()
        elif name == "LAND":
            self.nav = {"kind": "land", "phase": "descend"}
            self.target = (pos[0], pos[1], 0.0)
        elif name == "AUTO":
            if self.seq < 1 or self.seq >= len(self.items[0]):
                self.seq = 1
            self.mission_state = mavlink.MISSION_STATE_ACTIVE
            if self.armed:
                self._start_item()
        if reason:
            self._text(reason, mavlink.MAV_SEVERITY_CRITICAL)
        return True

    def _start_rtl(self) -> None:
        pos = (self.state.east_m, self.state.north_m, self.state.up_m)
        candidates = [self.home_enu]
        for it in self.items[2]:
            e, n, _ = self._item_enu(it)
            candidates.append((e, n, 0.0))
        dest = min(candidates, key=lambda c: math.hypot(c[0] - pos[0], c[1] - pos[1]))
        alt = max(self.cfg.rtl_alt_m, pos[2])
        self.nav = {"kind": "rtl", "phase": "climb", "dest": dest, "alt": alt, "t": self.t}
        self.target = (pos[0], pos[1], alt)

    # -- message handling ----------------------------------------------------------------------
    def _handle(self, msg) -> None:
        kind = msg.get_type()
        if kind == "HEARTBEAT":
            if msg.type == mavlink.MAV_TYPE_GCS:
                self.last_gcs_hb = (self.t, time.monotonic())
        elif kind == "REQUEST_DATA_STREAM":
            groups = STREAM_GROUPS.keys() if msg.req_stream_id == mavlink.MAV_DATA_STREAM_ALL else [msg.req_stream_id]
            for g in groups:
                for name in STREAM_GROUPS.get(g, ()):
                    if msg.start_stop:
                        self.rates[name] = float(msg.req_message_rate)
                    else:
                        self.rates.pop(name, None)
        elif kind in ("COMMAND_LONG", "COMMAND_INT"):
            self._command(msg)
        elif kind == "SET_MODE":
            name = MODE_NAMES.get(msg.custom_mode)
            ok = name is not None and self._set_mode(name)
            self._ack(mavlink.MAVLINK_MSG_ID_SET_MODE, mavlink.MAV_RESULT_ACCEPTED if ok else mavlink.MAV_RESULT_FAILED)
        elif kind in ("PARAM_SET", "PARAM_REQUEST_READ"):
            pid = msg.param_id.decode("ascii", "replace") if isinstance(msg.param_id, bytes) else str(msg.param_id)
            pid = pid.rstrip("\x00")
            if pid not in self.params:
                return  # ArduPilot ignores unknown names
            if kind == "PARAM_SET":
                self.params[pid] = float(msg.param_value)
            self._send(self.conn.mav.param_value_encode(pid.encode("ascii"), self.params[pid],
                                                        mavlink.MAV_PARAM_TYPE_INT8, len(self.params),
                                                        sorted(self.params).index(pid)))
        elif kind == "SET_GPS_GLOBAL_ORIGIN":
            self.origin_set = True
        elif kind in ("VISION_POSITION_ESTIMATE", "ODOMETRY"):
            self.vision_times = [t for t in self.vision_times if t > self.t - 2.0] + [self.t]
        elif kind.startswith("MISSION_"):
            self._mission(msg)

    def _command(self, msg) -> None:
        c = msg.command
        p = [msg.param1, msg.param2, msg.param3, msg.param4, msg.param5 if hasattr(msg, "param5") else msg.x,
             msg.param6 if hasattr(msg, "param6") else msg.y, msg.param7 if hasattr(msg, "param7") else msg.z]
        R = mavlink
        if c == R.MAV_CMD_COMPONENT_ARM_DISARM:
            force = int(round(p[1])) == FORCE_MAGIC
            if p[0] >= 0.5:
                self._ack(c, self._arm(force))
            else:
                if not self.landed and not force:
                    self._text("Disarm: vehicle is flying", R.MAV_SEVERITY_WARNING)
                    self._ack(c, R.MAV_RESULT_FAILED)
                else:
                    self._disarm("GCS")
                    self._ack(c, R.MAV_RESULT_ACCEPTED)
        elif c == R.MAV_CMD_DO_SET_MODE:
            name = MODE_NAMES.get(int(p[1]))
            self._ack(c, R.MAV_RESULT_ACCEPTED if name and self._set_mode(name) else R.MAV_RESULT_FAILED)
        elif c == R.MAV_CMD_NAV_TAKEOFF:
            if self.mode != "GUIDED" or not self.armed or not self.landed:
                self._ack(c, R.MAV_RESULT_FAILED)
            else:
                self.target = (self.state.east_m, self.state.north_m, max(0.5, p[6]))
                self.landed, self.landed_state = False, LANDED_TAKEOFF
                self._ack(c, R.MAV_RESULT_ACCEPTED)
        elif c == R.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            self._ack(c, R.MAV_RESULT_ACCEPTED if self._set_mode("RTL") else R.MAV_RESULT_FAILED)
        elif c == R.MAV_CMD_NAV_LAND:
            self._ack(c, R.MAV_RESULT_ACCEPTED if self._set_mode("LAND") else R.MAV_RESULT_FAILED)
        elif c == R.MAV_CMD_SET_MESSAGE_INTERVAL:
            name = MSG_NAMES.get(int(p[0]))
            if name is None:
                self._ack(c, R.MAV_RESULT_DENIED)
                return
            if p[1] < 0:
                self.rates.pop(name, None)
            elif p[1] == 0:
                self.rates[name] = 4.0
            else:
                self.rates[name] = 1e6 / p[1]
            self._ack(c, R.MAV_RESULT_ACCEPTED)
        elif c in (R.MAV_CMD_REQUEST_MESSAGE, R.MAV_CMD_GET_HOME_POSITION, R.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES):
            name = {R.MAV_CMD_GET_HOME_POSITION: "HOME_POSITION",
                    R.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: "AUTOPILOT_VERSION"}.get(c) or MSG_NAMES.get(int(p[0]))
            if name is None:
                self._ack(c, R.MAV_RESULT_DENIED)
                return
            self._ack(c, R.MAV_RESULT_ACCEPTED)
            self._send_one(name)
        elif c == R.MAV_CMD_DO_SET_MISSION_CURRENT:
            self._set_current(int(p[0]))
            self._ack(c, R.MAV_RESULT_ACCEPTED)
        elif c == R.MAV_CMD_DO_CHANGE_SPEED:
            if p[1] > 0:
                self.speed_m_s = float(p[1])
            self._ack(c, R.MAV_RESULT_ACCEPTED)
        else:
            self._ack(c, R.MAV_RESULT_UNSUPPORTED)

    def _arm(self, force: bool) -> int:
        R = mavlink
        if self.armed:
            return R.MAV_RESULT_ACCEPTED
        if self.mode not in ARMABLE_MODES:
            self._text("Arm: Mode not armable", R.MAV_SEVERITY_CRITICAL)
            return R.MAV_RESULT_FAILED
        if self.cfg.faults.refuse_arm_reason:
            self._text(f"Arm: {self.cfg.faults.refuse_arm_reason}", R.MAV_SEVERITY_CRITICAL)
            return R.MAV_RESULT_FAILED
        failure = None if force else self._prearm_failure()
        if failure:
            self._text(failure, R.MAV_SEVERITY_CRITICAL)
            return R.MAV_RESULT_FAILED
        self.armed = True
        self.arm_or_land_t = self.t
        self.home_enu = (self.state.east_m, self.state.north_m, 0.0)
        self.batt_fs = self.gcs_fs = self.ekf_fs = self.fence_fs = False
        self._text("Arming motors")
        self._send_one("HOME_POSITION")
        return R.MAV_RESULT_ACCEPTED

    def _disarm(self, why: str) -> None:
        if self.armed:
            self.armed = False
            self._text(f"Disarming motors ({why})")
        self.nav = None

    def _set_current(self, seq: int) -> None:
        if 0 <= seq < max(1, len(self.items[0])):
            self.seq = max(1, seq)
            if self.mode == "AUTO" and self.armed:
                self._start_item()
            self._send_one("MISSION_CURRENT")

    # -- mission protocol (vehicle side) -------------------------------------------------------
    def _mission(self, msg) -> None:
        R = mavlink
        kind = msg.get_type()
        mtype = getattr(msg, "mission_type", 0)
        if kind == "MISSION_COUNT":
            if mtype not in self.items:
                self._send(self.conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                            R.MAV_MISSION_UNSUPPORTED, mtype))
                return
            if msg.count == 0:
                self.items[mtype] = []
                self._send(self.conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                            R.MAV_MISSION_ACCEPTED, mtype))
                return
            self.upload = _Upload(mission_type=mtype, count=msg.count, items=[None] * msg.count)
            self._request_next()
        elif kind in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            up = self.upload
            if up is None or up.mission_type != mtype:
                if self.last_upload_done == (mtype, msg.seq + 1):  # our ACK was lost: say it again
                    self._send(self.conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                                R.MAV_MISSION_ACCEPTED, mtype))
                return
            if msg.seq != up.next_seq:
                return  # a duplicate or out-of-order answer: the re-request timer asks again
            x, y = (msg.x, msg.y) if kind == "MISSION_ITEM_INT" else (int(round(msg.x * 1e7)), int(round(msg.y * 1e7)))
            up.items[msg.seq] = _as_stored([msg.seq, msg.frame, msg.command, msg.current, msg.autocontinue, msg.param1,
                                            msg.param2, msg.param3, msg.param4, x, y, msg.z, mtype])
            up.next_seq += 1
            up.retries = 0
            if up.next_seq == up.count:
                items = up.items
                if mtype == R.MAV_MISSION_TYPE_MISSION:
                    items[0] = self._home_item()
                    self.seq = 1
                    self.mission_state = R.MISSION_STATE_NOT_STARTED
                self.items[mtype] = items
                self.upload = None
                self.last_upload_done = (mtype, up.count)
                self._send(self.conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                            R.MAV_MISSION_ACCEPTED, mtype))
                self._text(f"Flight plan received ({['mission', 'fence', 'rally'][mtype]}, {up.count} items)")
            else:
                self._request_next()
        elif kind == "MISSION_REQUEST_LIST":
            if mtype not in self.items:
                return
            items = self.items[mtype]
            if mtype == 0 and not items:
                items = [self._home_item()]
            self._send(self.conn.mav.mission_count_encode(msg.get_srcSystem(), msg.get_srcComponent(), len(items), mtype))
        elif kind in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            items = self.items.get(mtype, [])
            if mtype == 0 and not items:
                items = [self._home_item()]
            if not 0 <= msg.seq < len(items):
                self._send(self.conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                            R.MAV_MISSION_INVALID_SEQUENCE, mtype))
                return
            it = self._home_item() if mtype == 0 and msg.seq == 0 else items[msg.seq]
            cur = 1 if mtype == 0 and msg.seq == self.seq else 0
            if mtype == 0:  # ArduCopter sends mission items back in the non-INT frames
                it = [*it[:1], DOWNLOAD_FRAME.get(it[1], it[1]), *it[2:]]
            if kind == "MISSION_REQUEST_INT":
                out = self.conn.mav.mission_item_int_encode(msg.get_srcSystem(), msg.get_srcComponent(), it[0], it[1],
                                                            it[2], cur, it[4], it[5], it[6], it[7], it[8], it[9],
                                                            it[10], it[11], mtype)
            else:
                out = self.conn.mav.mission_item_encode(msg.get_srcSystem(), msg.get_srcComponent(), it[0], it[1],
                                                        it[2], cur, it[4], it[5], it[6], it[7], it[8], it[9] / 1e7,
                                                        it[10] / 1e7, it[11], mtype)
            self._send(out)
        elif kind == "MISSION_CLEAR_ALL":
            self.items[mtype] = [] if mtype in self.items else []
            if mtype == 0:
                self.seq = 1
            self._send(self.conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                        R.MAV_MISSION_ACCEPTED, mtype))
        elif kind == "MISSION_SET_CURRENT":
            self._set_current(msg.seq)

    def _home_item(self) -> list:
        lat, lon, _ = self._geo(self.home_enu[0], self.home_enu[1], 0.0)
        return [0, mavlink.MAV_FRAME_GLOBAL_INT, mavlink.MAV_CMD_NAV_WAYPOINT, 0, 1, 0.0, 0.0, 0.0, 0.0,
                int(round(lat * 1e7)), int(round(lon * 1e7)), float(self.cfg.home_alt_m), 0]

    def _request_next(self) -> None:
        up = self.upload
        if up is None:
            return
        up.last_req_sim, up.last_req_wall = self.t, time.monotonic()
        enc = self.conn.mav.mission_request_int_encode if self.cfg.mission_request_int else self.conn.mav.mission_request_encode
        self._send(enc(255, 0, up.next_seq, up.mission_type))

    def _upload_retry(self) -> None:
        with self._lock:
            up = self.upload
            if up is None:
                return
            if (self.t - up.last_req_sim >= self.cfg.mission_retry_s
                    and time.monotonic() - up.last_req_wall >= 0.25):
                up.retries += 1
                if up.retries > 8:
                    self._send(self.conn.mav.mission_ack_encode(255, 0, mavlink.MAV_MISSION_OPERATION_CANCELLED,
                                                                up.mission_type))
                    self.upload = None
                    return
                self._request_next()

    # -- AUTO ----------------------------------------------------------------------------------
    def _start_item(self) -> None:
        """Run DO items at once and start the next NAV item at ``self.seq``."""
        R = mavlink
        items = self.items[0]
        while self.seq < len(items):
            it = items[self.seq]
            cmd, p1, p2, p4 = it[2], it[5], it[6], it[8]
            if cmd == R.MAV_CMD_NAV_WAYPOINT:
                # a waypoint's start resets the heading to WP_YAW_BEHAVIOR's default (face the next
                # waypoint) unless a CONDITION_YAW heading holds and WP_YAW_BEHAVIOR is 0
                if not (self.yaw_fixed and self.params["WP_YAW_BEHAVIOR"] == 0):
                    self.yaw_target, self.yaw_fixed = None, False
                self.nav = {"kind": "wp", "seq": self.seq, "hold": p1, "arrived": None}
                self.target = self._item_enu(it)
                self._send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_NAV_TAKEOFF:
                self.nav = {"kind": "takeoff", "seq": self.seq}
                self.target = (self.state.east_m, self.state.north_m, max(0.5, it[11]))
                if self.landed:
                    self.landed, self.landed_state = False, LANDED_TAKEOFF
                self._send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_NAV_LAND:
                e, n, _ = self._item_enu(it)
                self.nav = {"kind": "land", "phase": "approach", "seq": self.seq}
                self.target = (e, n, self.state.up_m)
                self._send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_NAV_RETURN_TO_LAUNCH:
                self._start_rtl()
                self.nav["seq"] = self.seq
                self._send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_DO_CHANGE_SPEED and p2 > 0:
                self.speed_m_s = float(p2)
            elif cmd == R.MAV_CMD_CONDITION_YAW:
                self.yaw_target = (self.state.yaw_deg + p1 * (1 if p2 >= 0 else -1)) % 360.0 if p4 else p1 % 360.0
                self.yaw_fixed = True
            elif cmd == R.MAV_CMD_DO_MOUNT_CONTROL:
                self.gimbal_pitch_deg = float(p1)
            elif cmd == R.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW:
                self.gimbal_pitch_deg = float(p1)
            self.seq += 1
        # mission complete: Copter holds position in AUTO
        self.nav = None
        self.mission_state = R.MISSION_STATE_COMPLETE
        self.target = (self.state.east_m, self.state.north_m, self.state.up_m)
        self.seq = max(1, len(items) - 1)
        self._text("Mission complete; holding position")
        self._send_one("MISSION_CURRENT")

    def _reached(self, seq: int) -> None:
        self._send(self.conn.mav.mission_item_reached_encode(seq))
        self._text(f"Reached command #{seq}")
        self.seq = seq + 1
        self._start_item()

    # -- physics and behaviour -----------------------------------------------------------------
    def _physics(self, dt: float) -> None:
        self.t += dt
        s = self.state
        flying = self.armed and not self.landed
        nav = self.nav
        # navigation phases
        if flying and nav is not None:
            pos = (s.east_m, s.north_m, s.up_m)
            d_h = math.hypot(self.target[0] - pos[0], self.target[1] - pos[1])
            d_v = abs(self.target[2] - pos[2])
            if nav["kind"] == "takeoff" and d_v < 0.1:
                self.landed_state = LANDED_IN_AIR
                if self.mode == "AUTO":
                    self._reached(nav["seq"])
            elif nav["kind"] == "wp" and d_h < self.cfg.wp_radius_m and d_v < 0.2:
                if nav["arrived"] is None:
                    nav["arrived"] = self.t
                if self.t - nav["arrived"] >= nav["hold"]:
                    self._reached(nav["seq"])
            elif nav["kind"] == "rtl":
                if nav["phase"] == "climb" and d_v < 0.1:
                    nav["phase"] = "return"
                    self.target = (nav["dest"][0], nav["dest"][1], nav["alt"])
                elif nav["phase"] == "return" and d_h < self.cfg.wp_radius_m:
                    nav["phase"], nav["t"] = "loiter", self.t
                elif nav["phase"] == "loiter" and self.t - nav["t"] >= self.cfg.rtl_loiter_s:
                    nav["phase"] = "descend"
                    self.target = (nav["dest"][0], nav["dest"][1], 0.0)
                    self.landed_state = LANDED_LANDING
            elif nav["kind"] == "land" and nav["phase"] == "approach" and d_h < self.cfg.wp_radius_m:
                nav["phase"] = "descend"
                self.target = (self.target[0], self.target[1], 0.0)
                self.landed_state = LANDED_LANDING
        if flying:
            descending = nav is not None and nav.get("phase") == "descend"
            lim = self.cfg.limits
            if descending and s.up_m < 3.0:
                lim = replace(lim, descent_m_s=self.cfg.land_speed_m_s)
            yaw_t = self.yaw_target
            d = math.hypot(self.target[0] - s.east_m, self.target[1] - s.north_m)
            if yaw_t is None and d > 2.0 and self.mode in ("AUTO", "RTL") and self.params["WP_YAW_BEHAVIOR"] != 0:
                yaw_t = math.degrees(math.atan2(self.target[0] - s.east_m, self.target[1] - s.north_m)) % 360.0
            speed = self.speed_m_s if self.mode == "AUTO" else lim.max_speed_m_s
            self.state = step(s, target_enu_m=self.target, yaw_target_deg=yaw_t, speed_m_s=speed, limits=lim, dt_s=dt)
            self._acc = ((self.state.v_east_m_s - self._prev_v[0]) / dt, (self.state.v_north_m_s - self._prev_v[1]) / dt)
            self._prev_v = (self.state.v_east_m_s, self.state.v_north_m_s)
            if self.landed_state == LANDED_TAKEOFF and self.state.up_m >= self.target[2] - 0.1:
                self.landed_state = LANDED_IN_AIR
            if descending and self.state.up_m <= 0.01:
                self.state = replace(self.state, up_m=0.0, v_east_m_s=0.0, v_north_m_s=0.0, v_up_m_s=0.0)
                self.landed, self.landed_state = True, LANDED_ON_GROUND
                if nav is not None and "seq" in nav and self.mode == "AUTO":
                    self._send(self.conn.mav.mission_item_reached_encode(nav["seq"]))
                    self.mission_state = mavlink.MISSION_STATE_COMPLETE
                self._text("Land complete")
                self._disarm("landed")
        else:
            self._acc = (0.0, 0.0)
        # auto-disarm on the ground
        if self.armed and self.landed and self.landed_state == LANDED_ON_GROUND:
            if self.t - self.arm_or_land_t >= self.cfg.disarm_delay_s:
                self._disarm("auto disarm")
        # battery
        cur_a = self._current_a()
        self.used_mah += cur_a * dt / 3.6
        # EKF error (Gauss-Markov, sigma by fix type)
        sigma = {6: 0.01, 5: 0.15, 4: 0.5, 3: 0.8}.get(self.fix, 3.0) if not self.cfg.indoor else 0.02
        a = math.exp(-dt / 5.0)
        self.ekf_err = a * self.ekf_err + sigma * math.sqrt(1 - a * a) * np.array(
            [self._rng.gauss(0, 1), self._rng.gauss(0, 1)])

    def _current_a(self) -> float:
        if not self.armed:
            return 0.5
        if self.landed:
            return 3.0
        v = math.hypot(self.state.v_east_m_s, self.state.v_north_m_s)
        return self.cfg.hover_current_a + 1.5 * v + 4.0 * max(0.0, self.state.v_up_m_s)

    def _faults(self) -> None:
        f = self.cfg.faults
        if not self.cfg.indoor and f.rtk_loss_at_s is not None and self.t >= f.rtk_loss_at_s:
            restored = f.rtk_restore_after_s is not None and self.t >= f.rtk_loss_at_s + f.rtk_restore_after_s
            new_fix = self.cfg.gps_fix if restored else f.rtk_loss_fix
            if new_fix != self.fix:
                self.fix = new_fix
                self._text(f"GPS 1: fix type {new_fix}", mavlink.MAV_SEVERITY_WARNING)
        if f.battery_sag_at_s is not None and self.t >= f.battery_sag_at_s and self.sag_pct is None:
            self.sag_pct = f.battery_sag_to_pct
        self.link_up = not self._link_blocked()

    def _failsafes(self) -> None:
        if not self.armed or self.landed:
            return
        # battery (FS_BATT_ENABLE = 2: RTL)
        if not self.batt_fs and self._battery_pct() < self.cfg.battery_low_pct:
            self.batt_fs = True
            if self.mode not in ("RTL", "LAND"):
                self._set_mode("RTL", reason="Battery 1 is low")
        # GCS heartbeat lost (FS_GCS_ENABLE = 1: RTL), after a GCS has been seen
        if self.last_gcs_hb is not None and not self.gcs_fs:
            t_sim, t_wall = self.last_gcs_hb
            if (self.t - t_sim > self.cfg.fs_gcs_timeout_s
                    and time.monotonic() - t_wall > self.cfg.min_wall_timeout_s):
                self.gcs_fs = True
                if self.mode not in ("RTL", "LAND"):
                    self._set_mode("RTL", reason="GCS Failsafe")
        elif self.gcs_fs and self.last_gcs_hb is not None and self.t - self.last_gcs_hb[0] < 1.0:
            self.gcs_fs = False
            self._text("GCS Failsafe Cleared")
        # EKF failsafe (position lost: FS_EKF_ACTION = 1: LAND)
        if not self.ekf_fs and not self._ekf_ok() and self.t > self.cfg.ekf_ready_s:
            self.ekf_fs = True
            if self.mode != "LAND":
                self.mode = "LAND"
                self.nav = {"kind": "land", "phase": "descend"}
                self.target = (self.state.east_m, self.state.north_m, 0.0)
                self._text("EKF Failsafe: changed to LAND", mavlink.MAV_SEVERITY_CRITICAL)
        # fence (FENCE_ACTION = 1: RTL)
        if not self.fence_fs and self.items[1] and self.mode not in ("RTL", "LAND") and self._fence_breached():
            self.fence_fs = True
            self._set_mode("RTL", reason="Fence Breach")

    def _fence_breached(self) -> bool:
        p = (self.state.east_m, self.state.north_m)
        items = self.items[1]
        i = 0
        while i < len(items):
            it = items[i]
            cmd = it[2]
            if cmd in (mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION):
                n = max(1, int(it[5]))
                poly = [self._item_enu(v)[:2] for v in items[i:i + n]]
                inside = _point_in_polygon(p, poly)
                if (cmd == mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION) != inside:
                    return True
                i += n
            else:
                c = self._item_enu(it)
                inside = math.hypot(p[0] - c[0], p[1] - c[1]) <= it[5]
                if (cmd == mavlink.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION) != inside:
                    return True
                i += 1
        return False

    # -- telemetry -----------------------------------------------------------------------------
    def _telemetry(self) -> None:
        with self._lock:
            due = []
            if self.t - self.last_sent.get("HEARTBEAT", -1e9) >= 1.0:
                due.append("HEARTBEAT")
            for name, hz in self.rates.items():
                if hz > 0 and self.t - self.last_sent.get(name, -1e9) >= 1.0 / hz:
                    due.append(name)
            for name in due:
                self._send_one(name)

    def _send_one(self, name: str) -> None:
        R = mavlink
        m = self.conn.mav
        self.last_sent[name] = self.t
        s = self.state
        lat, lon, alt = self._geo(s.east_m + self.ekf_err[0], s.north_m + self.ekf_err[1], s.up_m)
        yaw_rad = math.radians(((s.yaw_deg + 180.0) % 360.0) - 180.0)
        if name == "HEARTBEAT":
            base = R.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | R.MAV_MODE_FLAG_STABILIZE_ENABLED
            if self.mode in ("GUIDED", "AUTO", "RTL", "LOITER"):
                base |= R.MAV_MODE_FLAG_GUIDED_ENABLED
            if self.armed:
                base |= R.MAV_MODE_FLAG_SAFETY_ARMED
            status = R.MAV_STATE_ACTIVE if self.armed else R.MAV_STATE_STANDBY
            if self.batt_fs or self.gcs_fs or self.ekf_fs:
                status = R.MAV_STATE_CRITICAL
            msg = m.heartbeat_encode(R.MAV_TYPE_QUADROTOR, R.MAV_AUTOPILOT_ARDUPILOTMEGA, base, COPTER_MODES[self.mode], status)
        elif name == "SYS_STATUS":
            health = SENSORS if self._prearm_failure() is None else SENSORS & ~R.MAV_SYS_STATUS_PREARM_CHECK
            if self.fix < 3 and not self.cfg.indoor:
                health &= ~R.MAV_SYS_STATUS_SENSOR_GPS
            msg = m.sys_status_encode(SENSORS, SENSORS, health, 200, int(self._voltage() * 1000),
                                      int(self._current_a() * 100), int(self._battery_pct()), 0, 0, 0, 0, 0, 0)
        elif name == "GPS_RAW_INT":
            sig = {6: 0.01, 5: 0.2, 4: 0.5, 3: 1.5}.get(self.fix, 5.0)
            e = s.east_m + self._rng.gauss(0, sig)
            n = s.north_m + self._rng.gauss(0, sig)
            glat, glon, galt = self._geo(e, n, s.up_m)
            fix = 0 if self.cfg.indoor else self.fix
            vel = math.hypot(s.v_east_m_s, s.v_north_m_s)
            cog = math.degrees(math.atan2(s.v_east_m_s, s.v_north_m_s)) % 360.0
            msg = m.gps_raw_int_encode(int(self.t * 1e6), fix, int(round(glat * 1e7)), int(round(glon * 1e7)),
                                       int(galt * 1000), int(sig * 100), int(sig * 150), int(vel * 100), int(cog * 100),
                                       20 if fix >= 3 else 4)
        elif name == "GLOBAL_POSITION_INT":
            hdg = int(s.yaw_deg * 100) % 36000
            msg = m.global_position_int_encode(self._boot_ms(), int(round(lat * 1e7)), int(round(lon * 1e7)),
                                               int(round(alt * 1000)), int(round(s.up_m * 1000)),
                                               int(s.v_north_m_s * 100), int(s.v_east_m_s * 100), int(-s.v_up_m_s * 100), hdg)
        elif name == "LOCAL_POSITION_NED":
            msg = m.local_position_ned_encode(self._boot_ms(), s.north_m, s.east_m, -s.up_m, s.v_north_m_s, s.v_east_m_s, -s.v_up_m_s)
        elif name == "ATTITUDE":
            # small tilt from the horizontal acceleration, in the body frame
            ae, an = self._acc
            c, sn = math.cos(yaw_rad), math.sin(yaw_rad)
            a_fwd, a_right = an * c + ae * sn, -an * sn + ae * c
            pitch = -math.atan2(a_fwd, 9.81)
            roll = math.atan2(a_right, 9.81)
            msg = m.attitude_encode(self._boot_ms(), roll, pitch, yaw_rad, 0.0, 0.0, 0.0)
        elif name == "VFR_HUD":
            msg = m.vfr_hud_encode(math.hypot(s.v_east_m_s, s.v_north_m_s), math.hypot(s.v_east_m_s, s.v_north_m_s),
                                   int(s.yaw_deg) % 360, 50 if self.armed and not self.landed else 0, alt, s.v_up_m_s)
        elif name == "SYSTEM_TIME":
            msg = m.system_time_encode(int((self.epoch_unix_s + self.t) * 1e6), self._boot_ms())
        elif name == "BATTERY_STATUS":
            v_cell = int(self._voltage() / self.cfg.battery_cells * 1000)
            cells = [v_cell] * self.cfg.battery_cells + [65535] * (10 - self.cfg.battery_cells)
            msg = m.battery_status_encode(0, R.MAV_BATTERY_FUNCTION_ALL, R.MAV_BATTERY_TYPE_LIPO, 32767, cells,
                                          int(self._current_a() * 100), int(self.used_mah), -1, int(self._battery_pct()))
        elif name == "EKF_STATUS_REPORT":
            ok = self._ekf_ok()
            msg = m.ekf_status_report_encode(EKF_READY_FLAGS if ok else EKF_NOT_READY_FLAGS, 0.1, 0.1 if ok else 1.0, 0.1, 0.1, 0.0)
        elif name == "MISSION_CURRENT":
            msg = m.mission_current_encode(self.seq, len(self.items[0]), self.mission_state if self.items[0] else R.MISSION_STATE_NO_MISSION)
        elif name == "EXTENDED_SYS_STATE":
            msg = m.extended_sys_state_encode(R.MAV_VTOL_STATE_MC, self.landed_state)
        elif name == "MOUNT_STATUS":
            msg = m.mount_status_encode(255, 0, int(self.gimbal_pitch_deg * 100), 0, 0, R.MAV_MOUNT_MODE_MAVLINK_TARGETING)
        elif name == "HOME_POSITION":
            hlat, hlon, halt = self._geo(*self.home_enu)
            msg = m.home_position_encode(int(round(hlat * 1e7)), int(round(hlon * 1e7)), int(halt * 1000),
                                         self.home_enu[1], self.home_enu[0], -self.home_enu[2], [1, 0, 0, 0], 0, 0, 0)
        elif name == "AUTOPILOT_VERSION":
            caps = (R.MAV_PROTOCOL_CAPABILITY_MISSION_INT | R.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                    | R.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE | R.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
                    | R.MAV_PROTOCOL_CAPABILITY_MAVLINK2 | R.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT)
            msg = m.autopilot_version_encode(caps, (4 << 24) | (6 << 16), 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0, 0, 0)
        else:
            return
        self._send(msg)

    def _voltage(self) -> float:
        frac = self._battery_pct() / 100.0
        return self.cfg.battery_cells * (3.5 + 0.7 * frac) - 0.01 * self._current_a()


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free on ``host`` now, for a vehicle and a ground station to meet on loopback."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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
