"""The runner against real ArduCopter SITL, when ``ARDUPILOT_SITL`` names its binary (e.g.
``build/sitl/bin/arducopter`` of an ArduPilot checkout); skipped otherwise. SITL listens on TCP
5760; ``ARDUPILOT_SITL_DEFAULTS`` may name its copter defaults file (Tools/autotest/default_params/copter.parm)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from flight.mission import Mission, MissionItem, mission_to_mavlink
from flight.runner import MissionRunner, RunnerOptions

SITL = os.environ.get("ARDUPILOT_SITL")
pytestmark = pytest.mark.skipif(not SITL or not os.path.exists(SITL),
                                reason="ARDUPILOT_SITL does not name an ArduCopter SITL binary")
HOME = (10.7769, 106.7009, 10.0)


def test_runner_flies_a_short_mission_on_arducopter_sitl(tmp_path):
    cmd = [SITL, "--model", "+", "--speedup", "1", "-I0", "--home", f"{HOME[0]},{HOME[1]},{HOME[2]},0"]
    if os.environ.get("ARDUPILOT_SITL_DEFAULTS"):
        cmd += ["--defaults", os.environ["ARDUPILOT_SITL_DEFAULTS"]]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        d = 1 / 111_000
        m = Mission(home=HOME, items=(MissionItem(kind="takeoff", rel_alt_m=3.0),
                                      MissionItem(kind="waypoint", lat_deg=HOME[0] + 10 * d, lon_deg=HOME[1], rel_alt_m=3.0),
                                      MissionItem(kind="land")))
        plan = mission_to_mavlink(m)
        r = MissionRunner("tcp:127.0.0.1:5760", RunnerOptions(required_fix=3, ready_timeout_s=180,
                                                             heartbeat_timeout_s=60, mission_timeout_s=300)).connect()
        try:
            r.request_streams()
            r.preflight()
            r.upload_and_verify(plan)
            out = r.fly(plan, takeoff_alt_m=3.0)
        finally:
            r.close()
        assert out.status == "complete" and out.disarmed_on_ground
    finally:
        proc.terminate()
        proc.wait(timeout=20)
