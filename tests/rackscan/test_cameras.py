"""The synthetic warehouse's virtual camera for ``rackscan fly --camera synthetic``: it renders
from where a simulated vehicle really is (SIMSTATE) rather than from its drifting estimate, and
stamps its frames with the camera's clock (the scenario's offset ahead of the telemetry)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from datasets.world import build_world
from flight.livecam import TimedFrame
from flight.recorder import VehiclePose
from rackscan.cameras import virtual_camera
from tests.conftest import REPO

SCENARIOS = REPO / "datasets" / "scenarios"


def _pose_facing(site, t_ns: int, shift_site_m=(0.0, 0.0)) -> VehiclePose:
    """Level, 1.5 m in front of the middle of R02/front, looking at it."""
    face = site.face("R02/front")
    p = face.face_to_site([[face.length_m / 2, 1.2, 1.5]])[0]
    p[:2] += shift_site_m
    fwd_ned = site.origin.ned_to_site_rotation().T @ -face.T_site_face[:3, 2]
    lat, lon, alt = site.origin.site_to_geodetic(p)
    return VehiclePose(lat_deg=lat, lon_deg=lon, alt_amsl_m=alt, rel_alt_m=p[2], roll_rad=0.0, pitch_rad=0.0,
                       yaw_rad=float(np.arctan2(fwd_ned[1], fwd_ned[0])), t_ns=t_ns)


def _diff(a, b) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_a_drifted_estimate_is_not_where_the_picture_is_taken():
    scenario = SCENARIOS / "indoor-drift.yaml"  # camera clock 0.25 s ahead of the telemetry
    cam, site = virtual_camera(scenario), build_world(scenario).site
    t0 = 1_000_000_000_000
    here = _pose_facing(site, t0)
    first = cam.capture(here)
    assert isinstance(first, TimedFrame) and first.t_ns == t0 + 250_000_000
    # the estimate has drifted 0.3 m; the simulator says the vehicle is where it was
    drifted = _pose_facing(site, t0 + 60_000_000_000, shift_site_m=(0.2, -0.22))
    later = cam.capture(replace(drifted, true_lat_deg=here.lat_deg, true_lon_deg=here.lon_deg))
    assert later.t_ns == t0 + 60_250_000_000
    assert _diff(later.image, first.image) < 0.2  # the same view (but for the geodetic round trip's last digits)
    # a real vehicle (no SIMSTATE): the picture is taken from the position it reports
    assert _diff(cam.capture(drifted).image, first.image) > 2.0


def test_the_default_scenario_stamps_plain_frames():
    scenario = SCENARIOS / "default.yaml"
    cam, site = virtual_camera(scenario), build_world(scenario).site
    a = cam.capture(_pose_facing(site, 5_000_000_000))
    assert isinstance(a, np.ndarray) and a.shape[:2] == (1080, 1920)  # no clock offset: the recorder stamps it


def test_a_frame_is_stamped_with_the_moment_of_the_true_position_it_shows():
    """The estimate (GLOBAL_POSITION_INT) of a telemetry tick arrives a moment before the true
    position (SIMSTATE): a frame read between the two shows the previous tick's true position, and
    is stamped with that one's time, not the estimate's (0.1 s, 15 cm along a pass, apart)."""
    scenario = SCENARIOS / "default.yaml"
    cam, site = virtual_camera(scenario), build_world(scenario).site
    here = _pose_facing(site, 7_100_000_000)
    f = cam.capture(replace(here, true_lat_deg=here.lat_deg, true_lon_deg=here.lon_deg, true_t_ns=7_000_000_000))
    assert isinstance(f, TimedFrame) and f.t_ns == 7_000_000_000
    # the same moment for both: a plain frame the recorder stamps with the pose's time
    same = cam.capture(replace(here, true_lat_deg=here.lat_deg, true_lon_deg=here.lon_deg, true_t_ns=here.t_ns))
    assert isinstance(same, np.ndarray)
    indoor = virtual_camera(SCENARIOS / "indoor-drift.yaml")  # and on the camera's clock, 0.25 s ahead
    g = indoor.capture(replace(here, true_lat_deg=here.lat_deg, true_lon_deg=here.lon_deg, true_t_ns=7_000_000_000))
    assert g.t_ns == 7_250_000_000
