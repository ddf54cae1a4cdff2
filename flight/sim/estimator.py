"""GPS and the EKF of the simulated vehicle: fix type, readiness, variances, position error.

Outdoors the EKF is ready after ``ekf_ready_s`` with a 3D fix or better; indoors it needs vision
(VISION_POSITION_ESTIMATE / ODOMETRY at 4 Hz or more) and an EKF origin. When GPS goes
(SIM_GPS1_ENABLE 0, or ``Faults.rtk_loss_fix`` 0) the position variance grows and passes 1.0
``gps_loss_ekf_s`` later, as the real EKF's does while it dead-reckons; past FS_EKF_THRESH the
failsafe part acts (ArduCopter's ekf_check).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle


class Estimator:
    def __init__(self, v: "SimVehicle") -> None:
        self.v = v
        self.fix = v.cfg.gps_fix if not v.cfg.indoor else 1
        self.gps_enabled = True
        self.gps_lost_at: float | None = None
        self.err = np.zeros(2)  # the estimate's noise (east, north), m
        self.drift = np.zeros(2)  # odometry drift accumulated while armed (east, north), m
        d = np.random.default_rng([v.cfg.seed, 7]).normal(size=2)
        self.drift_dir = d / np.linalg.norm(d)
        self.origin_set = False
        self.vision_times: list[float] = []
        v.params.on_set["SIM_GPS1_ENABLE"] = self._gps_enable

    def _gps_enable(self, value: float) -> None:
        self.set_fix(self.v.cfg.gps_fix if value else 0)

    def set_fix(self, fix: int) -> None:
        if fix == self.fix:
            return
        self.fix = fix
        self.gps_lost_at = self.v.t if fix < 3 else None
        self.v.text(f"GPS 1: fix type {fix}" if fix else "GPS 1: lost", 4)

    def mavlink_packet(self, msg) -> None:
        kind = msg.get_type()
        if kind == "SET_GPS_GLOBAL_ORIGIN":
            self.origin_set = True
        elif kind in ("VISION_POSITION_ESTIMATE", "ODOMETRY"):
            t = self.v.t
            self.vision_times = [x for x in self.vision_times if x > t - 2.0] + [t]

    def position_variance(self) -> float:
        """EKF_STATUS_REPORT.pos_horiz_variance (normalised: 1.0 = at the innovation gate)."""
        if self.v.cfg.indoor or self.gps_lost_at is None:
            return 0.1
        return 0.1 + 0.9 * (self.v.t - self.gps_lost_at) / max(self.v.cfg.gps_loss_ekf_s, 1e-3)

    def ok(self) -> bool:
        """Position estimate usable (the EKF flags' POS_HORIZ_ABS and not const-pos mode)."""
        v = self.v
        if v.t < v.cfg.ekf_ready_s:
            return False
        if v.cfg.indoor:
            recent = [t for t in self.vision_times if t > v.t - 1.0]
            return self.origin_set and len(recent) >= 4
        if self.gps_lost_at is not None:
            return self.position_variance() < 1.0  # dead reckoning until the variance gives out
        return self.fix >= 3

    def tick(self, dt: float) -> None:
        # position error (Gauss-Markov, sigma by fix type)
        sigma = {6: 0.01, 5: 0.15, 4: 0.5, 3: 0.8}.get(self.fix, 3.0) if not self.v.cfg.indoor else 0.02
        a = math.exp(-dt / 5.0)
        rng = self.v.rng
        self.err = a * self.err + sigma * math.sqrt(1 - a * a) * np.array([rng.gauss(0, 1), rng.gauss(0, 1)])
        if self.v.armed and self.v.cfg.drift_m_per_min:
            self.drift = self.drift + self.drift_dir * self.v.cfg.drift_m_per_min * dt / 60.0

    def position_error_m(self) -> np.ndarray:
        """Reported minus true position (east, north): the noise and the drift."""
        return self.err + self.drift
