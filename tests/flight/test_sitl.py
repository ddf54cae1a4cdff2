"""The runner against real ArduCopter SITL, when ``ARDUPILOT_SITL`` names its binary (e.g.
``build/sitl/bin/arducopter`` of an ArduPilot checkout); skipped otherwise. SITL listens on TCP
5760; ``ARDUPILOT_SITL_DEFAULTS`` may name its copter defaults file (Tools/autotest/default_params/copter.parm)."""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time

import pytest

from flight.mission import FencePolygon, Mission, MissionItem, RallyPoint, mission_to_mavlink
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
        lat, lon = HOME[0], HOME[1]
        box = ((lat - 50 * d, lon - 50 * d), (lat + 80 * d, lon - 50 * d), (lat + 80 * d, lon + 50 * d), (lat - 50 * d, lon + 50 * d))
        m = Mission(home=HOME, items=(MissionItem(kind="takeoff", rel_alt_m=3.0),
                                      MissionItem(kind="set_yaw", yaw_deg=90.0),  # face east, as at a rack face
                                      MissionItem(kind="waypoint", lat_deg=lat + 10 * d, lon_deg=lon, rel_alt_m=3.0),
                                      MissionItem(kind="waypoint", lat_deg=lat + 30 * d, lon_deg=lon, rel_alt_m=3.0),
                                      MissionItem(kind="land")),
                    fence=(FencePolygon(inclusion=True, vertices_deg=box),),
                    rally=(RallyPoint(lat_deg=lat + 5 * d, lon_deg=lon + 5 * d, rel_alt_m=3.0),))
        plan = mission_to_mavlink(m)
        r = MissionRunner("tcp:127.0.0.1:5760", RunnerOptions(required_fix=3, ready_timeout_s=180,
                                                             heartbeat_timeout_s=60, mission_timeout_s=300)).connect()
        headings = []
        stop = threading.Event()

        def sample():  # the heading while flying north between the two waypoints
            while not stop.wait(0.1):
                s = r.state
                north_m = (s.lat_deg - lat) * 111_000
                if r.state.mode == "AUTO" and 12.0 < north_m < 28.0:
                    headings.append(math.degrees(s.yaw_rad) % 360.0)

        threading.Thread(target=sample, daemon=True).start()
        try:
            r.request_streams()
            r.preflight()
            r.upload_and_verify(plan)  # items as ArduCopter keeps them (no waypoint yaw, land param4 +1)
            out = r.fly(plan, takeoff_alt_m=3.0)
        finally:
            stop.set()
            r.close()
        assert out.status == "complete" and out.disarmed_on_ground
        assert r.params.get("WP_YAW_BEHAVIOR") == 0
        # CONDITION_YAW held through the waypoints: facing east while flying north
        assert len(headings) > 5 and abs(sorted(headings)[len(headings) // 2] - 90.0) < 10.0, headings
    finally:
        proc.terminate()
        proc.wait(timeout=20)
