"""The fleet planner (``rackscan plan --drones N``): aisles dealt so the vehicles finish
together, one launch pad and transit altitude each, and a closest approach on the time lines of
at least the minimum separation (a vehicle held back when it would come closer)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.fleet import FleetOptions, closest_approach, mission_timeline, plan_fleet, split_aisles
from flight.mission import Mission, MissionItem
from flight.planner import PlanOptions, move_s, plan
from tests.conftest import DEFAULT_SITE
from warehouse.camera import CameraSpec
from warehouse.site import grid_site_dict, load_site, site_from_dict

SITE = load_site(DEFAULT_SITE)


@given(st.lists(st.floats(1.0, 5000.0), min_size=1, max_size=12), st.integers(1, 6))
@settings(max_examples=60, deadline=None)
def test_every_aisle_goes_to_one_vehicle_and_the_loads_stay_within_one_aisle(costs, n):
    cost = {f"A{k:02d}": c for k, c in enumerate(costs)}
    parts = split_aisles(cost, n)
    assert len(parts) == n and sorted(a for p in parts for a in p) == sorted(cost)
    loads = [sum(cost[a] for a in p) for p in parts]
    assert max(loads) - min(loads) <= max(costs) + 1e-6  # LPT: the last aisle dealt to the busiest came to the least busy


def test_a_time_line_flies_the_legs_at_the_missions_speeds():
    lat, lon, alt = SITE.origin.site_to_geodetic(np.array([0.0, 10.0, 0.0]))
    home = SITE.origin.site_to_geodetic(np.array([0.0, 0.0, 0.0]))
    m = Mission(home=(home[0], home[1], SITE.origin.alt_m), items=(
        MissionItem(kind="takeoff", rel_alt_m=1.0), MissionItem(kind="change_speed", speed_m_s=2.0),
        MissionItem(kind="waypoint", lat_deg=lat, lon_deg=lon, rel_alt_m=3.0), MissionItem(kind="rtl")))
    o = PlanOptions(arm_to_climb_s=4.0, settle_s=0.0, rtl_loiter_s=5.0, max_speed_m_s=1.5)
    t, p = mission_timeline(SITE, m, o, sample_s=0.25)
    up_1m = move_s(1.0, o.climb_m_s, o.accel_z_m_s2)
    across = max(move_s(10.0, 2.0, o.accel_m_s2), move_s(2.0, o.climb_m_s, o.accel_z_m_s2))
    home_s = move_s(10.0, 1.5, o.accel_m_s2)  # RTL flies home at the cruise speed
    # armed on the pad, up 1 m, 10 m across at 2 m/s while climbing 2 m, home, RTL's loiter, 3 m down at LAND_SPD
    assert t[-1] == pytest.approx(4.0 + up_1m + across + home_s + 5.0 + 3.0 / o.land_m_s, abs=0.25)
    assert np.allclose(p[0], [0, 0, 0], atol=1e-6) and np.allclose(p[-1], [0, 0, 0], atol=1e-6)
    at = [np.interp(4.0 + up_1m + across, t, p[:, i]) for i in range(3)]
    assert np.allclose(at, [0, 10, 3], atol=0.25 * 2.0)  # there on arrival (to a sample's flight)


@pytest.mark.parametrize("opts", [PlanOptions(), PlanOptions(endurance_s=250.0), PlanOptions(settle_s=0.0, max_speed_m_s=2.0)])
def test_a_time_line_lasts_the_planners_flight_time(opts):
    """Deconfliction and the flight time come from one model: the sorties' time lines add up to
    the planner's estimate."""
    r = plan(SITE, CameraSpec(), opts)
    total = sum(float(mission_timeline(SITE, m, opts, sample_s=0.05)[0][-1]) for m in r.missions)
    assert total == pytest.approx(r.est_flight_time_s, abs=0.05 * len(r.missions) + 1e-3)


def test_two_vehicles_on_the_default_site():
    one = plan(SITE, CameraSpec(), PlanOptions())
    fp = plan_fleet(SITE, CameraSpec(), PlanOptions(), FleetOptions(drones=2))
    assert [v.vehicle for v in fp.vehicles] == [1, 2]
    assert sorted(a for v in fp.vehicles for a in v.aisles) == sorted(SITE.aisle_ids)  # one vehicle per aisle
    assert fp.bins_planned == one.bins_planned == len(SITE.bins)
    assert fp.min_separation_m >= 3.0 and not fp.warnings
    assert len({v.home_m for v in fp.vehicles}) == 2 and len({v.transit_alt_m for v in fp.vehicles}) == 2
    assert fp.wall_clock_s < 0.65 * (one.est_flight_time_s + one.battery_swaps_s)
    # the missions fly from each vehicle's own pad at its own transit altitude
    for v in fp.vehicles:
        items = v.plan.missions[0].items
        assert max(it.rel_alt_m for it in items if it.kind == "waypoint") == v.transit_alt_m


def test_a_vehicle_waiting_on_its_pad_is_in_the_way():
    """6 m apart cannot be kept with pads 4 m apart: one vehicle takes off beside the other waiting
    for its start, however long it waits; the plan says so."""
    fp = plan_fleet(SITE, CameraSpec(), PlanOptions(), FleetOptions(drones=2, min_separation_m=6.0, pad_spacing_m=4.0))
    assert fp.min_separation_m == pytest.approx(4.0, abs=0.05)
    assert "vehicle 2 comes within 4.0 m of vehicle 1 even held back" in fp.warnings[0]


def test_a_vehicle_that_would_come_too_close_is_held_back():
    fp = plan_fleet(SITE, CameraSpec(), PlanOptions(), FleetOptions(drones=2, min_separation_m=6.0, pad_spacing_m=7.0))
    held = [v for v in fp.vehicles if v.start_s > 0]
    assert held and fp.min_separation_m >= 6.0
    # and the separation is the time lines' own: no vehicle was placed closer
    from flight.fleet import on_pad_until, vehicle_timeline

    lines = [vehicle_timeline(SITE, v.plan.missions, 180.0, PlanOptions()) for v in fp.vehicles]
    lines = [on_pad_until(t + v.start_s, p) for (t, p), v in zip(lines, fp.vehicles)]  # waiting on its pad first
    until = max(v.start_s for v in fp.vehicles) + fp.tolerance_window_s
    assert closest_approach(*lines, tolerance_s=fp.timing_tolerance_s, tolerant_until_s=until)[0] == \
        pytest.approx(fp.min_separation_m)
    assert closest_approach(*lines)[0] >= fp.min_separation_m  # on time, no closer


def test_four_vehicles_on_a_site_of_over_a_thousand_bins():
    site = site_from_dict(grid_site_dict(8, 8), source="grid")
    assert len(site.bins) >= 1000
    one = plan(site, CameraSpec(), PlanOptions())
    fp = plan_fleet(site, CameraSpec(), PlanOptions(), FleetOptions(drones=4))
    assert len(fp.vehicles) == 4 and sorted(len(v.aisles) for v in fp.vehicles) == [2, 2, 2, 2]
    assert fp.min_separation_m >= 3.0 and fp.bins_planned == len(site.bins)
    # the ceiling leaves one transit altitude: the planner says so and keeps them apart in time
    assert any("no room for 4 transit altitudes" in w for w in fp.warnings)
    assert fp.bins_per_wall_clock_hour > 3.0 * one.bins_planned / ((one.est_flight_time_s + one.battery_swaps_s) / 3600)


@pytest.mark.parametrize("tolerance_s, closest_late_m", [(0.0, (0.0, 1.0)), (5.0, (3.0, 99.0))])
def test_the_plan_keeps_its_distance_over_the_first_legs_with_a_vehicle_early_or_late(tolerance_s, closest_late_m):
    """Four vehicles with the 4K camera sharing one transit altitude (the simulator's pack, as
    ``bench fleet`` plans them): planned to the second, two pass within a metre of each other with
    one up to 5 s late in their first minute (paths crossing near the pads; flown, 2.46 m when they
    took off together); with 5 s of tolerance every pair keeps 3 m there whichever is early or late."""
    from flight.fleet import on_pad_until, vehicle_timeline
    from warehouse.camera import load_camera
    from tests.conftest import REPO

    site = site_from_dict(grid_site_dict(8, 8), source="grid")
    cam = load_camera(REPO / "flight" / "cameras" / "inspection-4k-wide.yaml")
    opts = PlanOptions(endurance_s=660.0, reserve_frac=0.35)
    fp = plan_fleet(site, cam, opts, FleetOptions(drones=4, timing_tolerance_s=tolerance_s))
    assert (fp.timing_tolerance_s, fp.tolerance_window_s) == (tolerance_s, 60.0)
    assert not any("comes within" in w for w in fp.warnings)
    lines = [vehicle_timeline(site, v.plan.missions, opts.battery_swap_s, opts) for v in fp.vehicles]
    lines = [on_pad_until(t + v.start_s, p) for (t, p), v in zip(lines, fp.vehicles)]
    until = max(v.start_s for v in fp.vehicles) + 60.0
    pairs = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    on_time = min(closest_approach(lines[a], lines[b])[0] for a, b in pairs)
    shifted = min(closest_approach(lines[a], lines[b], tolerance_s=5.0, tolerant_until_s=until)[0] for a, b in pairs)
    assert on_time >= 3.0 and closest_late_m[0] <= shifted < closest_late_m[1], (on_time, shifted)
    assert fp.min_separation_m >= 3.0


@pytest.mark.parametrize("until_s, want_m", [(float("inf"), 0.0), (12.0, 0.0), (8.0, np.sqrt(0.5))])
def test_tolerance_ends_where_it_is_told(until_s, want_m):
    """Two legs crossing at 10 s, one 1 s late: inside the tolerance they meet; with the tolerance
    over before the crossing, they pass as planned (1 s apart at 1 m/s each: 0.71 m)."""
    t = np.arange(0.0, 20.0, 0.25)
    a = (t, np.stack([t, np.zeros_like(t), np.full_like(t, 2.0)], axis=1))
    b = (t + 1.0, np.stack([np.full_like(t, 10.0), t - 10.0, np.full_like(t, 2.0)], axis=1))
    assert closest_approach(a, b, tolerance_s=2.0, tolerant_until_s=until_s)[0] == pytest.approx(want_m, abs=0.05)


@settings(max_examples=30, deadline=None)
@given(st.floats(-3.0, 3.0), st.floats(0.0, 4.0), st.floats(0.0, 4.0))
def test_tolerance_only_brings_two_lines_closer(shift_s, tol_a, tol_b):
    """The closest approach within a tolerance is never further than on time, nor than within a
    smaller one, and a line shifted by less than the tolerance is inside it."""
    t = np.arange(0.0, 20.0, 0.25)
    a = (t, np.stack([t, np.zeros_like(t), np.full_like(t, 2.0)], axis=1))  # east at 1 m/s
    b = (t + shift_s, np.stack([np.full_like(t, 10.0), t - 10.0, np.full_like(t, 2.0)], axis=1))  # north, crossing at 10 s
    lo, hi = sorted((tol_a, tol_b))
    on = closest_approach(a, b)[0]
    assert closest_approach(a, b, tolerance_s=hi)[0] <= closest_approach(a, b, tolerance_s=lo)[0] + 1e-9 <= on + 1e-9
    if abs(shift_s) <= hi:  # b shifted back onto a's time: they meet at the crossing
        assert closest_approach(a, b, tolerance_s=hi)[0] < 0.5


def test_more_vehicles_than_aisles_leaves_some_on_the_ground():
    fp = plan_fleet(SITE, CameraSpec(), PlanOptions(), FleetOptions(drones=3))
    assert len(fp.vehicles) == 2 and "3 vehicles for 2 aisle(s)" in fp.warnings[0]


def test_plan_cli_writes_a_mission_per_vehicle_and_the_fleet_file(tmp_path, capsys):
    import yaml

    from flight.planfile import read_plan
    from rackscan.cli import main

    assert main(["plan", str(DEFAULT_SITE), "--drones", "2", "-o", str(tmp_path / "m.plan")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "fleet plan for" in out and "bins per wall-clock hour" in out and "closest approach on the plans" in out
    doc = yaml.safe_load((tmp_path / "fleet.yaml").read_text())
    assert [v["sysid"] for v in doc["vehicles"]] == [1, 2] and doc["min_separation_m"] >= 3.0
    bins = set()
    for v in doc["vehicles"]:
        for name in v["missions"]:
            m = read_plan(tmp_path / name)
            bins |= {b for it in m.items for b in it.bin_ids}
    assert bins == {b.bin_id for b in SITE.bins} and (tmp_path / "m.png").exists()
    (tmp_path / "bins.txt").write_text(SITE.bins[0].bin_id + "\n")
    assert main(["plan", str(DEFAULT_SITE), "--drones", "2", "--bins", str(tmp_path / "bins.txt")]) == 1
    assert "a recount flies one vehicle" in capsys.readouterr().err
