"""What the simulated vehicle sends: a 1 Hz HEARTBEAT always, everything else only at the rates a
ground station asked for (REQUEST_DATA_STREAM groups as ArduCopter's GCS_MAVLink streams, or
SET_MESSAGE_INTERVAL), each message filled as ArduCopter fills it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.sim_kinematics import COPTER_MODES

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle

R = mavlink
EKF_READY_FLAGS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x100 | 0x200
EKF_NOT_READY_FLAGS = 0x01 | 0x80  # attitude only, constant position mode
SENSORS = (R.MAV_SYS_STATUS_SENSOR_3D_GYRO | R.MAV_SYS_STATUS_SENSOR_3D_ACCEL | R.MAV_SYS_STATUS_SENSOR_3D_MAG
           | R.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE | R.MAV_SYS_STATUS_SENSOR_GPS | R.MAV_SYS_STATUS_AHRS
           | R.MAV_SYS_STATUS_SENSOR_BATTERY | R.MAV_SYS_STATUS_PREARM_CHECK)

# ArduCopter stream groups (GCS_MAVLink streams): which messages each REQUEST_DATA_STREAM id turns on
STREAM_GROUPS = {
    R.MAV_DATA_STREAM_EXTENDED_STATUS: ("SYS_STATUS", "GPS_RAW_INT", "MISSION_CURRENT", "EXTENDED_SYS_STATE",
                                        "FENCE_STATUS"),
    R.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
    R.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE", "SIMSTATE"),  # SITL sends its true state with the attitude
    R.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
    R.MAV_DATA_STREAM_EXTRA3: ("SYSTEM_TIME", "BATTERY_STATUS", "EKF_STATUS_REPORT", "MOUNT_STATUS"),
}
MSG_IDS = {name: getattr(R, f"MAVLINK_MSG_ID_{name}") for g in STREAM_GROUPS.values() for name in g}
MSG_IDS.update(HOME_POSITION=R.MAVLINK_MSG_ID_HOME_POSITION, AUTOPILOT_VERSION=R.MAVLINK_MSG_ID_AUTOPILOT_VERSION,
               HEARTBEAT=R.MAVLINK_MSG_ID_HEARTBEAT)
MSG_NAMES = {v: k for k, v in MSG_IDS.items()}
SENSOR_BITS = {"gyro": R.MAV_SYS_STATUS_SENSOR_3D_GYRO, "accelerometer": R.MAV_SYS_STATUS_SENSOR_3D_ACCEL,
               "compass": R.MAV_SYS_STATUS_SENSOR_3D_MAG, "barometer": R.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE}


class Telemetry:
    def __init__(self, v: "SimVehicle") -> None:
        self.v = v
        self.rates: dict[str, float] = {}  # message name -> Hz of vehicle time
        self.last_sent: dict[str, float] = {}
        self.failed: set[str] = set()  # sensors reported unhealthy (Faults.sensor_fail)

    def name_of(self, msg_id: int) -> str | None:
        return MSG_NAMES.get(msg_id)

    def set_interval(self, msg_id: int, interval_us: float) -> bool:
        name = MSG_NAMES.get(msg_id)
        if name is None:
            return False
        if interval_us < 0:
            self.rates.pop(name, None)
        else:
            self.rates[name] = 4.0 if interval_us == 0 else 1e6 / interval_us
        return True

    def mavlink_packet(self, msg) -> None:
        if msg.get_type() != "REQUEST_DATA_STREAM":
            return
        groups = STREAM_GROUPS.keys() if msg.req_stream_id == R.MAV_DATA_STREAM_ALL else [msg.req_stream_id]
        for g in groups:
            for name in STREAM_GROUPS.get(g, ()):
                if msg.start_stop:
                    self.rates[name] = float(msg.req_message_rate)
                else:
                    self.rates.pop(name, None)

    def tick(self) -> None:
        t = self.v.t
        due = ["HEARTBEAT"] if t - self.last_sent.get("HEARTBEAT", -1e9) >= 1.0 else []
        due += [n for n, hz in self.rates.items() if hz > 0 and t - self.last_sent.get(n, -1e9) >= 1.0 / hz]
        for name in due:
            self.send_one(name)

    def send_one(self, name: str) -> None:
        msg = self._encode(name)
        if msg is not None:
            self.last_sent[name] = self.v.t
            self.v.send(msg)

    def _encode(self, name: str):
        v = self.v
        m = v.conn.mav
        s = v.nav.state
        est, batt, fs = v.estimator, v.battery, v.failsafes
        boot_ms = int(v.t * 1000) & 0xFFFFFFFF
        e_err, n_err = est.position_error_m()
        lat, lon, alt = v.geo(s.east_m + e_err, s.north_m + n_err, s.up_m)
        yaw_rad = math.radians(((s.yaw_deg + 180.0) % 360.0) - 180.0)
        if name == "HEARTBEAT":
            base = R.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | R.MAV_MODE_FLAG_STABILIZE_ENABLED
            if v.mode in ("GUIDED", "AUTO", "RTL", "LOITER"):
                base |= R.MAV_MODE_FLAG_GUIDED_ENABLED
            if v.armed:
                base |= R.MAV_MODE_FLAG_SAFETY_ARMED
            status = R.MAV_STATE_ACTIVE if v.armed else R.MAV_STATE_STANDBY
            if batt.failsafe or fs.gcs or fs.ekf:
                status = R.MAV_STATE_CRITICAL
            return m.heartbeat_encode(R.MAV_TYPE_QUADROTOR, R.MAV_AUTOPILOT_ARDUPILOTMEGA, base, COPTER_MODES[v.mode], status)
        if name == "SYS_STATUS":
            present = enabled = SENSORS
            health = SENSORS if v.modes.prearm_failure() is None else SENSORS & ~R.MAV_SYS_STATUS_PREARM_CHECK
            if est.fix < 3 and not v.cfg.indoor:
                health &= ~R.MAV_SYS_STATUS_SENSOR_GPS
            if not est.ok() and v.t >= v.cfg.ekf_ready_s:
                health &= ~R.MAV_SYS_STATUS_AHRS
            if batt.failsafe:
                health &= ~R.MAV_SYS_STATUS_SENSOR_BATTERY
            for name in self.failed:
                health &= ~SENSOR_BITS[name]
            if fs.fence_enabled():  # AC_Fence: present and enabled while on, unhealthy while breached
                present, enabled = present | R.MAV_SYS_STATUS_GEOFENCE, enabled | R.MAV_SYS_STATUS_GEOFENCE
                health |= 0 if fs.fence_breached else R.MAV_SYS_STATUS_GEOFENCE
            return m.sys_status_encode(present, enabled, health, 200, int(batt.voltage() * 1000),
                                       int(batt.current_a() * 100), int(batt.remaining_pct()), 0, 0, 0, 0, 0, 0)
        if name == "GPS_RAW_INT":
            fix = 0 if v.cfg.indoor else est.fix
            sig = {6: 0.01, 5: 0.2, 4: 0.5, 3: 1.5}.get(fix, 5.0)
            glat, glon, galt = v.geo(s.east_m + v.rng.gauss(0, sig), s.north_m + v.rng.gauss(0, sig), s.up_m)
            if fix == 0:
                glat = glon = galt = 0.0
            vel = math.hypot(s.v_east_m_s, s.v_north_m_s)
            cog = math.degrees(math.atan2(s.v_east_m_s, s.v_north_m_s)) % 360.0
            return m.gps_raw_int_encode(int(v.t * 1e6), fix, int(round(glat * 1e7)), int(round(glon * 1e7)),
                                        int(galt * 1000), int(sig * 100), int(sig * 150), int(vel * 100), int(cog * 100),
                                        20 if fix >= 3 else 0)
        if name == "GLOBAL_POSITION_INT":
            return m.global_position_int_encode(boot_ms, int(round(lat * 1e7)), int(round(lon * 1e7)),
                                                int(round(alt * 1000)), int(round(s.up_m * 1000)), int(s.v_north_m_s * 100),
                                                int(s.v_east_m_s * 100), int(-s.v_up_m_s * 100), int(s.yaw_deg * 100) % 36000)
        if name == "LOCAL_POSITION_NED":
            return m.local_position_ned_encode(boot_ms, s.north_m, s.east_m, -s.up_m, s.v_north_m_s, s.v_east_m_s, -s.v_up_m_s)
        if name == "ATTITUDE":
            # small tilt from the horizontal acceleration, in the body frame
            ae, an = v.nav.acc
            c, sn = math.cos(yaw_rad), math.sin(yaw_rad)
            a_fwd, a_right = an * c + ae * sn, -an * sn + ae * c
            return m.attitude_encode(boot_ms, math.atan2(a_right, 9.81), -math.atan2(a_fwd, 9.81), yaw_rad, 0.0, 0.0, 0.0)
        if name == "SIMSTATE":  # where the simulated vehicle really is (ArduPilot SITL's SIMSTATE)
            tlat, tlon, _ = v.geo(s.east_m, s.north_m, s.up_m)
            return m.simstate_encode(0.0, 0.0, yaw_rad, 0.0, 0.0, -9.81, 0.0, 0.0, 0.0,
                                     int(round(tlat * 1e7)), int(round(tlon * 1e7)))
        if name == "VFR_HUD":
            speed = math.hypot(s.v_east_m_s, s.v_north_m_s)
            return m.vfr_hud_encode(speed, speed, int(s.yaw_deg) % 360, 50 if v.armed and not v.landed else 0, alt, s.v_up_m_s)
        if name == "SYSTEM_TIME":
            return m.system_time_encode(int((v.epoch_unix_s + v.t) * 1e6), boot_ms)
        if name == "BATTERY_STATUS":
            cells = v.cfg.battery_cells
            v_cell = int(batt.voltage() / cells * 1000)
            return m.battery_status_encode(0, R.MAV_BATTERY_FUNCTION_ALL, R.MAV_BATTERY_TYPE_LIPO, 32767,
                                           [v_cell] * cells + [65535] * (10 - cells), int(batt.current_a() * 100),
                                           int(batt.consumed_mah), -1, int(batt.remaining_pct()))
        if name == "EKF_STATUS_REPORT":
            ok = est.ok()
            var = est.position_variance()
            return m.ekf_status_report_encode(EKF_READY_FLAGS if ok else EKF_NOT_READY_FLAGS, var, var, 0.1, 0.1, 0.0)
        if name == "FENCE_STATUS":
            if not fs.fence_enabled():
                return None
            return m.fence_status_encode(1 if fs.fence_breached else 0, 0, 0, 0)
        if name == "MISSION_CURRENT":
            mi = v.mission
            return m.mission_current_encode(mi.seq, len(mi.items[0]), mi.state if mi.items[0] else R.MISSION_STATE_NO_MISSION)
        if name == "EXTENDED_SYS_STATE":
            return m.extended_sys_state_encode(R.MAV_VTOL_STATE_MC, v.landed_state)
        if name == "MOUNT_STATUS":
            return m.mount_status_encode(255, 0, int(v.mission.gimbal_pitch_deg * 100), 0, 0,
                                         R.MAV_MOUNT_MODE_MAVLINK_TARGETING)
        if name == "HOME_POSITION":
            hlat, hlon, halt = v.geo(*v.home_enu)
            he = v.home_enu
            return m.home_position_encode(int(round(hlat * 1e7)), int(round(hlon * 1e7)), int(halt * 1000),
                                          he[1], he[0], -he[2], [1, 0, 0, 0], 0, 0, 0)
        if name == "AUTOPILOT_VERSION":
            caps = (R.MAV_PROTOCOL_CAPABILITY_MISSION_INT | R.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                    | R.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE | R.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
                    | R.MAV_PROTOCOL_CAPABILITY_MAVLINK2 | R.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT)
            return m.autopilot_version_encode(caps, (4 << 24) | (7 << 16), 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0, 0, 0)
        return None
