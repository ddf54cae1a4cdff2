"""The live feed: samples the runner's state on its own thread, hands batches to the sink, never
holds the flight up (a failing sink loses batches, counted), and writes positions and headings in
the site frame."""

from __future__ import annotations

import math
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.live import LiveFeed, pass_bins, pass_views
from flight.mission import MissionItem
from flight.runner import VehicleState
from warehouse.geodetic import GeoOrigin


class _Sink:
    def __init__(self, fail=False):
        self.batches, self.fail = [], fail

    def begin(self, **kw):
        pass

    def add(self, samples):
        if self.fail:
            raise OSError("disk full")
        self.batches.append(samples)

    def end(self, status):
        pass


def _state(**kw):
    s = VehicleState(mode="AUTO", armed=True, fix_type=6, battery_pct=70.0, voltage_v=11.9, lat_deg=10.8, lon_deg=106.6,
                     alt_amsl_m=7.0, rel_alt_m=2.0, mission_current=4, last_msg_wall=time.monotonic())
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_feed_batches_samples_and_stops():
    origin = GeoOrigin(lat_deg=10.8, lon_deg=106.6, alt_m=5.0, heading_deg=0.0)
    sink = _Sink()
    feed = LiveFeed(lambda: _state(), sink, to_site=origin.geodetic_to_site, rate_hz=20.0, batch_s=0.1).start()
    time.sleep(0.6)
    feed.stop()
    got = [s for b in sink.batches for s in b]
    assert len(sink.batches) >= 2 and feed.sent == len(got) >= 6 and feed.dropped == 0
    s = got[-1]
    assert (s.mode, s.armed, s.fix_type, s.mission_seq, s.battery_pct) == ("AUTO", True, 6, 4, 70.0)
    assert abs(s.x_m) < 1e-6 and abs(s.y_m) < 1e-6 and s.alt_m == 2.0 and 0 <= s.link_age_s < 1.0
    assert [x.t_s for x in got] == sorted(x.t_s for x in got)


def test_a_failing_sink_never_stops_the_flight():
    logged = []
    feed = LiveFeed(lambda: _state(), _Sink(fail=True), to_site=lambda *a: np.zeros(3), rate_hz=20.0, batch_s=0.1,
                    log=logged.append).start()
    time.sleep(0.4)
    feed.stop()
    assert feed.dropped > 0 and feed.sent == 0
    assert len(logged) == 1 and "live feed: cannot write (OSError: disk full); the flight goes on" in logged[0]


def test_no_position_yet_and_a_silent_link():
    s = LiveFeed(lambda: _state(lat_deg=0.0, last_msg_wall=time.monotonic() - 7.0), _Sink(),
                 to_site=lambda *a: np.zeros(3)).sample()
    assert s.x_m is None and s.y_m is None and s.link_age_s >= 7.0


@settings(max_examples=60, deadline=None)
@given(heading=st.floats(0, 359.9), compass=st.floats(0, 359.9))
def test_heading_in_the_site_frame(heading, compass):
    """A vehicle heading along the site's +x reads 0; the site yaw turns counter-clockwise."""
    origin = GeoOrigin(lat_deg=10.8, lon_deg=106.6, alt_m=5.0, heading_deg=heading)
    feed = LiveFeed(lambda: _state(yaw_rad=math.radians(compass)), _Sink(), to_site=origin.geodetic_to_site,
                    site_heading_deg=heading)
    yaw = feed.sample().yaw_deg
    # one metre along the vehicle's nose, in the site frame, points at the site yaw
    east, north = math.sin(math.radians(compass)), math.cos(math.radians(compass))
    lat = 10.8 + north / 111_320.0
    lon = 106.6 + east / (111_320.0 * math.cos(math.radians(10.8)))
    d = origin.geodetic_to_site(lat, lon, 5.0)
    want = math.degrees(math.atan2(d[1], d[0])) % 360
    assert min(abs(yaw - want), 360 - abs(yaw - want)) < 0.5


def test_pass_bins_numbers_items_as_uploaded():
    items = [MissionItem(kind="takeoff", rel_alt_m=2.0), MissionItem(kind="waypoint", lat_deg=1, lon_deg=1, rel_alt_m=2),
             MissionItem(kind="waypoint", lat_deg=1, lon_deg=1, rel_alt_m=2, bin_ids=("A", "B")), MissionItem(kind="rtl")]
    assert pass_bins(items) == [(3, ["A", "B"])]  # slot 0 is home


def test_pass_views_list_every_bin_each_pass_sees():
    """A bin is done after the last pass that sees it, which is later than the pass the plan gave it:
    the views of the default site's A01 mission cover the plan's bins, each pass's bins are on one
    face at that pass's height, and a mission of another shape falls back to the plan's word."""
    from datasets.world import build_world
    from flight.planner import PlanOptions, plan
    from tests.conftest import REPO

    w = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    m = plan(w.site, w.camera, PlanOptions(aisles=("A01",))).missions[0]
    views, given = pass_views(m.items, w.site, w.camera), pass_bins(m.items)
    assert len(views) == 16 and len(given) == 8  # 8 passes per face; half of them carry the plan's bins
    last = lambda plan: {b: max(q for q, bs in plan if b in bs) for _, bs in plan for b in bs}  # noqa: E731
    lv, lg = last(views), last(given)
    assert set(lv) == set(lg) and all(lv[b] >= lg[b] for b in lg) and any(lv[b] > lg[b] for b in lg)
    for _, bs in views:
        assert len({w.site.bin(b).face_id for b in bs}) == 1
    assert pass_views(m.items, None, w.camera) == given and pass_views(items=[], site=w.site, camera=w.camera) == []


def test_pass_views_of_a_camera_pair_see_both_faces(tmp_path):
    """A left and right pair's pass down the aisle's middle sees both faces: every bin of the aisle is
    in some pass's view, and each pass's bins lie on both faces at its height."""
    from datasets.world import build_world
    from flight.planner import PlanOptions, plan
    from tests.helpers import pair_scenario

    w = build_world(pair_scenario(tmp_path))
    p = plan(w.site, w.camera, PlanOptions(aisles=("A01",)))
    views = pass_views(p.missions[0].items, w.site, w.camera)
    assert len(views) == len(p.passes)
    assert {b for _, bs in views for b in bs} == {b.bin_id for f in w.site.faces_of_aisle("A01") for b in f.bins}
    for _, bs in views:
        assert {w.site.bin(b).face_id for b in bs} == {"R01/back", "R02/front"}
