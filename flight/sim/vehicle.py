"""The simulated ArduCopter: one link, one clock, and its parts fed by one packet hook.

Shaped as MAVProxy's modules (``mp_module.py``) without their global state: each part owns its
own state and has ``mavlink_packet(msg)`` for what it handles, and the vehicle calls each part's
``tick`` on its clock. Parts: ``params`` (ArduCopter's defaults and the parameter protocol),
``estimator`` (GPS, EKF), ``nav`` (physics and navigation), ``battery``, ``mission`` (protocol and
AUTO), ``modes`` (modes, arming, commands), ``failsafes``, ``telemetry``. What every part reads
(mode, armed, landed, home, time) stays on the vehicle.

Time: the vehicle runs its own clock (``t``) at ``speedup`` times real time. Every message
carries it (``time_boot_ms``; ``SYSTEM_TIME.time_unix_usec`` = ``epoch_unix_s`` + ``t``), so
recordings of sped-up flights are self-consistent. Timeouts that guard against a slow peer (GCS
failsafe, mission re-requests) also wait a minimum of wall time, so a loaded machine does not trip
them.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time

import numpy as np

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil  # noqa: E402
from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: E402

from flight.errors import FlightError  # noqa: E402
from flight.mission import MavItem  # noqa: E402
from flight.results import CommandResult  # noqa: E402
from flight.sim.battery import Battery  # noqa: E402
from flight.sim.config import LANDED_ON_GROUND, SimConfig, VehicleSnapshot  # noqa: E402
from flight.sim.estimator import Estimator  # noqa: E402
from flight.sim.failsafes import Failsafes  # noqa: E402
from flight.sim.mission import MissionStore  # noqa: E402
from flight.sim.modes import Modes  # noqa: E402
from flight.sim.params import Params  # noqa: E402
from flight.sim.physics import Physics  # noqa: E402
from flight.sim.telemetry import Telemetry  # noqa: E402
from warehouse.geodetic import GeoOrigin  # noqa: E402


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
        self.rng = random.Random(self.cfg.seed)  # nosec B311
        self._stream_requests_lost = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.conn = None
        self.bound_port: int | None = None
        self.epoch_unix_s = 0.0
        # what every part reads
        self.t = 0.0
        self.mode = "STABILIZE"
        self.armed = False
        self.landed = True
        self.landed_state = LANDED_ON_GROUND
        self.arm_or_land_t = 0.0
        self.first_armed_t: float | None = None  # Faults count from here
        self._pilot_done: set[tuple[float, str]] = set()
        self.home_enu = (0.0, 0.0, 0.0)
        self.statustexts: list[str] = []
        self.unsigned_rejected = 0
        self.link_up = True
        # the parts, in the order they are built (later ones read earlier ones)
        try:
            self.params = Params(self, self.cfg.params)
        except KeyError as exc:
            raise FlightError(str(exc.args[0])) from None
        self.estimator = Estimator(self)
        self.nav = Physics(self)
        self.battery = Battery(self)
        self.mission = MissionStore(self)
        self.modes = Modes(self)
        self.failsafes = Failsafes(self)
        self.telemetry = Telemetry(self)
        from flight.sim.telemetry import SENSOR_BITS

        from flight.sim.modes import FLOWN_MODES

        if self.cfg.faults.sensor_fail not in SENSOR_BITS:
            raise FlightError(f"Faults.sensor_fail: {self.cfg.faults.sensor_fail!r}; expected one of {sorted(SENSOR_BITS)}")
        bad = [m for _, m in self.cfg.faults.pilot_modes if m not in FLOWN_MODES]
        if bad:
            raise FlightError(f"Faults.pilot_modes: {bad[0]!r}; expected one of {sorted(FLOWN_MODES)}")
        self.parts = (self.params, self.estimator, self.mission, self.modes, self.failsafes, self.telemetry)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "SimVehicle":
        try:
            self.conn = mavutil.mavlink_connection(self.address, source_system=self.cfg.sysid,
                                                   source_component=self.cfg.compid, dialect="ardupilotmega",
                                                   autoreconnect=True)
        except Exception as exc:  # noqa: BLE001 - mavutil raises many kinds
            raise FlightError(f"--listen {self.address}: cannot open ({exc}); expected e.g. udpin:127.0.0.1:14550 "
                              "or udpout:127.0.0.1:14550") from None
        port = getattr(self.conn, "port", None)
        if port is not None and hasattr(port, "getsockname"):
            self.bound_port = port.getsockname()[1]
        if self.cfg.signing_key:
            self.conn.setup_signing(self.cfg.signing_key, sign_outgoing=True, allow_unsigned_callback=self._allow_unsigned)
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
            s = self.nav.state
            lat, lon, _ = self.geo(s.east_m, s.north_m, s.up_m)
            return VehicleSnapshot(
                sim_time_s=self.t, mode=self.mode, armed=self.armed, landed=self.landed, east_m=s.east_m,
                north_m=s.north_m, up_m=s.up_m, lat_deg=lat, lon_deg=lon, fix_type=self.estimator.fix,
                ekf_ok=self.estimator.ok(), battery_pct=self.battery.remaining_pct(), voltage_v=self.battery.voltage(),
                mission_seq=self.mission.seq, mission_count=len(self.mission.items[0]),
                fence_count=len(self.mission.items[1]), rally_count=len(self.mission.items[2]),
                gimbal_pitch_deg=self.mission.gimbal_pitch_deg, statustexts=tuple(self.statustexts),
                unsigned_rejected=self.unsigned_rejected, link_up=self.link_up, yaw_deg=s.yaw_deg,
                speed_m_s=math.hypot(s.v_east_m_s, s.v_north_m_s), params=dict(self.params.values),
                mission_log=tuple(self.mission.log))

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
    def geo(self, e: float, n: float, u: float) -> tuple[float, float, float]:
        lat, lon, alt = self.origin.site_to_geodetic(np.array([e, n, u]))
        return float(lat), float(lon), float(alt)

    def item_enu(self, it: "MavItem") -> tuple[float, float, float]:
        """Target of a stored item in ENU (current position when lat/lon are 0)."""
        frame, x, y, z = it.frame, it.x, it.y, it.z
        up = z - self.cfg.home_alt_m if frame in (mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT) else z
        if x == 0 and y == 0:
            return self.nav.state.east_m, self.nav.state.north_m, up
        p = self.origin.geodetic_to_site(x / 1e7, y / 1e7, self.cfg.home_alt_m)
        return float(p[0]), float(p[1]), up

    # -- link ----------------------------------------------------------------------------------
    def text(self, text: str, severity: int = mavlink.MAV_SEVERITY_INFO) -> None:
        self.statustexts.append(text)
        self.send(self.conn.mav.statustext_encode(severity, text.encode()[:50]))

    def ack(self, command: int, result: CommandResult) -> None:
        self.send(self.conn.mav.command_ack_encode(command, result))

    @property
    def flight_t(self) -> float:
        """Seconds since the vehicle first armed (negative before): the clock of ``Faults``."""
        return -1.0 if self.first_armed_t is None else self.t - self.first_armed_t

    def link_blocked(self) -> bool:
        f, t = self.cfg.faults, self.flight_t
        if f.link_cut_at_s is None or t < f.link_cut_at_s:
            return False
        return f.link_cut_s is None or t < f.link_cut_at_s + f.link_cut_s

    def _dropped(self) -> bool:
        return self.cfg.faults.drop_pct > 0 and self.rng.random() * 100.0 < self.cfg.faults.drop_pct

    def send(self, msg) -> None:
        if self.link_blocked() or self._dropped():
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
            if msg.get_type() == "BAD_DATA" or self.link_blocked() or self._dropped():
                continue
            if msg.get_srcSystem() == self.cfg.sysid:
                continue
            if msg.get_type() == "REQUEST_DATA_STREAM" and self._stream_requests_lost < self.cfg.faults.lost_stream_requests:
                self._stream_requests_lost += 1
                continue
            with self._lock:
                for part in self.parts:
                    part.mavlink_packet(msg)

    # -- clock ---------------------------------------------------------------------------------
    def _faults(self) -> None:
        """The faults of ``cfg.faults`` due now (each as the SITL parameter that injects it)."""
        f, t = self.cfg.faults, self.flight_t
        if not self.cfg.indoor and f.rtk_loss_at_s is not None and t >= f.rtk_loss_at_s:
            restored = f.rtk_restore_after_s is not None and t >= f.rtk_loss_at_s + f.rtk_restore_after_s
            self.estimator.set_fix(self.cfg.gps_fix if restored else f.rtk_loss_fix)
        if f.battery_voltage_at_s is not None and t >= f.battery_voltage_at_s and self.battery.pinned_v is None:
            self.params.set("SIM_BATT_VOLTAGE", f.battery_voltage_v)
        if f.sensor_fail_at_s is not None and t >= f.sensor_fail_at_s and f.sensor_fail not in self.telemetry.failed:
            self.telemetry.failed.add(f.sensor_fail)  # its SYS_STATUS health bit clears; ArduCopter says nothing
        for at, mode in f.pilot_modes:
            if t >= at and (at, mode) not in self._pilot_done:
                self._pilot_done.add((at, mode))
                self.modes.set_mode(mode)
        self.link_up = not self.link_blocked()

    def _run(self) -> None:
        next_wall = time.monotonic()
        while not self._stop.is_set():
            self._receive()
            dt_total = min(self.cfg.tick_wall_s * self.cfg.speedup, 0.5)
            with self._lock:
                n = max(1, math.ceil(dt_total / 0.1))
                for _ in range(n):
                    dt = dt_total / n
                    self.t += dt
                    self.nav.tick(dt)
                    self.battery.tick(dt)
                    self.estimator.tick(dt)
                self._faults()
                self.failsafes.tick()
                self.telemetry.tick()
                self.mission.retry_upload()
            next_wall += self.cfg.tick_wall_s
            delay = next_wall - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_wall = time.monotonic()  # behind: run slower than speedup, never jump


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free on ``host`` now, for a vehicle and a ground station to meet on loopback."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
