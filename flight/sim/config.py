"""What the simulated vehicle is told at start (``SimConfig``, ``Faults``) and what it shows (``VehicleSnapshot``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flight.sim_kinematics import Limits

LANDED_ON_GROUND, LANDED_IN_AIR, LANDED_TAKEOFF, LANDED_LANDING = 1, 2, 3, 4


@dataclass(frozen=True, kw_only=True)
class Faults:
    """Faults to inject at set vehicle times: seconds since the vehicle first armed, so a fault
    lands at the same point of the flight however long the ground station took to get there. The
    same faults can be injected at any time by setting SITL's parameters over MAVLink
    (SIM_BATT_VOLTAGE, SIM_GPS1_ENABLE), as the SITL test does on real ArduCopter."""

    drop_pct: float = 0.0  # of packets, each direction
    lost_stream_requests: int = 0  # the first N REQUEST_DATA_STREAM packets from the ground are lost on the way up
    rtk_loss_at_s: float | None = None
    rtk_loss_fix: int = 3  # the fix type after the loss (3 = 3D, 0 = GPS gone: SIM_GPS1_ENABLE 0)
    rtk_restore_after_s: float | None = None
    battery_voltage_at_s: float | None = None  # the pack's voltage drops to battery_voltage_v (SIM_BATT_VOLTAGE)
    battery_voltage_v: float = 10.0
    link_cut_at_s: float | None = None
    link_cut_s: float | None = 30.0  # None: the link never comes back
    refuse_arm_reason: str | None = None
    sensor_fail_at_s: float | None = None  # a sensor turns unhealthy in SYS_STATUS (ArduCopter flies on)
    sensor_fail: str = "compass"  # gyro, accelerometer, compass or barometer
    pilot_modes: tuple[tuple[float, str], ...] = ()  # (time, mode): a pilot's mode switch (RC), no GCS involved


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
    rtl_loiter_s: float = 1.0
    land_speed_m_s: float = 0.5
    disarm_delay_s: float = 10.0
    # the GCS failsafe also waits this much wall time: at speedup the GCS's heartbeats (2 Hz of real
    # time) come fewer per vehicle second, and at 1.0 s one dropped heartbeat could trip it (a 10%
    # packet-drop flight failed so, now and then); 2.25 s takes four in a row, as FS_GCS_TIMEOUT 5 s
    # against a 1 Hz GCS takes five
    min_wall_timeout_s: float = 2.25
    mission_retry_s: float = 1.5
    # the pack: 3S as SITL's (SIM_BATT_VOLTAGE 12.6 V full) of ArduCopter's default BATT_CAPACITY
    battery_capacity_mah: float = 3300.0
    battery_cells: int = 3
    battery_resistance_ohm: float = 0.015
    hover_current_a: float = 18.0
    gps_loss_ekf_s: float = 4.0  # GPS gone: the EKF's position variance passes FS_EKF_THRESH this long after
    # indoor odometry's drift: while armed the reported position walks away from the true one at
    # this rate, along a direction the seed draws (the vehicle flies the true path; SIMSTATE, as
    # SITL's, reports where it really is)
    drift_m_per_min: float = 0.0
    params: dict[str, float] = field(default_factory=dict)  # start values over ArduCopter's defaults
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
    voltage_v: float
    mission_seq: int
    mission_count: int
    fence_count: int
    rally_count: int
    gimbal_pitch_deg: float
    statustexts: tuple[str, ...]
    unsigned_rejected: int
    link_up: bool
    yaw_deg: float = 0.0
    speed_m_s: float = 0.0
    params: dict = field(default_factory=dict)
    mission_log: tuple[tuple[int, int], ...] = ()  # (seq, command) of each item AUTO ran, in order
