"""``flight.fleet_fly``: the fleet file read and refused in one line, the links per vehicle, the
sortie folders, the closest approach measured on recorded tracks, and the separation guard (its
decisions, and two simulated vehicles whose legs cross flown with and without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flight.errors import FlightError
from flight.fleet_fly import (Braking, GuardOptions, TakeoffGate, Track, fly_fleet, guard_decisions, load_fleet,
                              parse_links, predicted_min, sortie_record_dir, telemetry_separation, telemetry_track)
from tests.helpers import CROSSING_HEADING as HEADING
from tests.helpers import crossing_fleet


def _fleet(tmp_path: Path, **over) -> Path:
    for name in ("m.v1.plan", "m.v2.plan", "m.v2.s2.plan"):
        (tmp_path / name).write_text("{}")
    doc = {"site": "s", "required_separation_m": 3.0, "battery_swap_s": 120, "bins_planned": 10, "wall_clock_s": 60.0,
           "vehicles": [{"vehicle": 1, "sysid": 1, "aisles": ["A01"], "missions": ["m.v1.plan"], "start_s": 0.0},
                        {"vehicle": 2, "sysid": 2, "aisles": ["A02"], "missions": ["m.v2.plan", "m.v2.s2.plan"],
                         "start_s": 10}]}
    doc.update(over)
    p = tmp_path / "fleet.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_load_fleet_reads_what_plan_drones_writes(tmp_path):
    m = load_fleet(_fleet(tmp_path))
    assert [v.sysid for v in m.vehicles] == [1, 2] and m.battery_swap_s == 120.0 and m.required_separation_m == 3.0
    assert m.vehicles[1].missions == (tmp_path / "m.v2.plan", tmp_path / "m.v2.s2.plan") and m.vehicles[1].start_s == 10.0


V2 = {"vehicle": 2, "sysid": 2, "missions": ["m.v2.plan"], "start_s": 0}


@pytest.mark.parametrize("over, says", [
    ({"vehicles": []}, "vehicles: []; expected a list of one or more vehicles"),
    ({"vehicles": [{**V2, "sysid": 0}]}, "vehicles[0].sysid: 0; expected 1-255"),
    ({"vehicles": [V2, {**V2, "vehicle": 3}]}, "vehicles[1].sysid: 2 again; expected one system id per vehicle"),
    ({"vehicles": [{**V2, "missions": ["gone.plan"]}]}, "vehicles[0].missions[0]:"),
    ({"vehicles": [{**V2, "start_s": -5}]}, "vehicles[0].start_s: -5.0; expected >= 0"),
    ({"vehicles": [{**V2, "sysid": "two"}]}, "vehicles[0].sysid: 'two'; expected a MAVLink system id 1-255"),
    ({"vehicles": [{k: v for k, v in V2.items() if k != "missions"}]}, "vehicles[0].missions: missing"),
    ({"battery_swap_s": -1}, "battery_swap_s: -1; expected seconds >= 0"),
])
def test_a_bad_fleet_file_is_refused_in_one_line_naming_the_field(tmp_path, over, says):
    with pytest.raises(FlightError) as e:
        load_fleet(_fleet(tmp_path, **over))
    assert says in str(e.value) and str(tmp_path / "fleet.yaml") in str(e.value) and "\n" not in str(e.value)


def test_a_fleet_file_that_is_not_yaml_or_not_there(tmp_path):
    bad = tmp_path / "fleet.yaml"
    bad.write_text("vehicles: [\n  {vehicle: 1,\n")
    with pytest.raises(FlightError, match=r"fleet.yaml:\d+: not YAML"):
        load_fleet(bad)
    with pytest.raises(FlightError, match="fleet file not found"):
        load_fleet(tmp_path / "nope.yaml")


def test_links_default_ten_ports_apart_and_can_be_named(tmp_path):
    m = load_fleet(_fleet(tmp_path))
    assert parse_links([], m) == {1: "udpin:0.0.0.0:14550", 2: "udpin:0.0.0.0:14560"}
    assert parse_links(["2=tcp:127.0.0.1:5770"], m)[2] == "tcp:127.0.0.1:5770"
    for bad, says in (("2", "expected VEHICLE=ADDRESS"), ("7=udpin:0.0.0.0:1", "no vehicle 7"),
                      ("2=udpin:0.0.0.0:14550", "two vehicles on one address")):
        with pytest.raises(FlightError, match=says):
            parse_links([bad], m)


def test_sortie_folders_are_named_after_the_fleet_flight():
    assert sortie_record_dir(Path("runs/night1"), 2, 1) == Path("runs/night1/night1-v2")
    assert sortie_record_dir(Path("runs/night1"), 2, 3) == Path("runs/night1/night1-v2-s3")


@settings(max_examples=40, deadline=None)
@given(gap=st.floats(0.5, 30.0), z=st.floats(1.0, 8.0), shift=st.floats(0.0, 5.0))
def test_separation_of_two_parallel_tracks_is_their_gap(gap, z, shift):
    t = np.arange(0.0, 20.0, 0.1)
    a = np.stack([t, np.zeros_like(t), np.full_like(t, z)], axis=1)
    b = a + [0.0, gap, 0.0]
    d, who = telemetry_separation({1: (t, a), 2: (t + shift, b)})
    # b runs ``shift`` s late along x: the closest is the gap across and the lag along
    want = float(np.hypot(gap, shift))
    assert d == pytest.approx(want, abs=0.06) and who[:2] == (1, 2)


def test_separation_leaves_out_vehicles_on_the_ground_and_needs_two():
    t = np.arange(0.0, 10.0, 0.5)
    ground = np.zeros((len(t), 3))
    assert telemetry_separation({1: (t, ground), 2: (t, ground + [1.0, 0.0, 0.0])}) == (None, None)
    assert telemetry_separation({1: (t, ground)}) == (None, None)


# -- the separation guard ------------------------------------------------------------------------

def _t(p, v, *, intent=None, airborne=True, can_hold=True) -> Track:
    p, v = np.asarray(p, float), np.asarray(v, float)
    return Track(p=p, v=v, intent=v if intent is None else np.asarray(intent, float), airborne=airborne,
                 can_hold=can_hold)


@pytest.mark.parametrize("pa, va, pb, vb, want", [
    ((0, 0, 5), (1, 0, 0), (10, 0, 5), (-1, 0, 0), 0.0),  # head on
    ((0, 0, 5), (1, 0, 0), (0, 4, 5), (1, 0, 0), 4.0),  # side by side, same way
    ((0, 0, 5), (-1, 0, 0), (10, 0, 5), (1, 0, 0), 10.0),  # apart: now is the closest
    ((0, 0, 5), (1, 0, 0), (100, 0, 5), (-1, 0, 0), 90.0),  # head on, but past the horizon
])
def test_predicted_min(pa, va, pb, vb, want):
    assert predicted_min(np.array(pa, float), np.array(va, float), np.array(pb, float), np.array(vb, float), 5.0) == \
        pytest.approx(want, abs=1e-9)


B = Braking(delay_s=1.0, decel_m_s2=2.0)


@pytest.mark.parametrize("v, brake, want", [
    ((-3, 0, 0), None, 0.0),  # flying on at 3 m/s it reaches the one 5 m ahead
    ((-1, 0, 0), B, 5.0 - 1.0 - 0.25),  # braking: 1 m while the hold reaches it, 0.25 m slowing
    ((-3, 0, 0), B, 0.0),  # from 3 m/s it needs 3 + 2.25 m: it reaches the other
    ((0, 0, 0), B, 5.0),  # at rest it stays
    ((-1, 0, 0), Braking(1.0, 0.05), 5.0 - 1.0 - (4 - 0.05 * 16 / 2)),  # the horizon (5 s) comes first
])
def test_predicted_min_with_one_braking(v, brake, want):
    got = predicted_min(np.zeros(3), np.zeros(3), np.array([5.0, 0, 0]), np.array(v, float), 5.0, brake_b=brake)
    assert got == pytest.approx(want, abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=2, max_size=2), st.lists(st.floats(-3, 3), min_size=2, max_size=2))
def test_a_braking_vehicle_never_comes_closer_to_one_at_rest_than_flying_on(xy, vxy):
    """Braking, it flies part of the straight line it would have flown on (and no further in the horizon)."""
    p, v = np.array([xy[0], xy[1], 4.0]), np.array([vxy[0], vxy[1], 0.0])
    straight = predicted_min(np.zeros(3), np.zeros(3), p, v, 5.0)
    braking = predicted_min(np.zeros(3), np.zeros(3), p, v, 5.0, brake_b=B)
    assert braking >= straight - 1e-6
    assert braking <= float(np.linalg.norm(p)) + 1e-9  # and never further than where it is now


G = GuardOptions(keep_m=3.0, margin_m=1.5, lookahead_s=5.0)


@pytest.mark.parametrize("tracks, held, hold, let_go", [
    # one vehicle flies at a hovering one: the one flying in is held
    ({1: _t((0, 0, 5), (1.5, 0, 0)), 2: _t((6, 0, 5), (0, 0, 0))}, set(), {1}, set()),
    ({1: _t((0, 0, 5), (0, 0, 0)), 2: _t((6, 0, 5), (-1.5, 0, 0))}, set(), {2}, set()),
    # head on at the same speed: the higher number yields
    ({1: _t((0, 0, 5), (1, 0, 0)), 2: _t((8, 0, 5), (-1, 0, 0))}, set(), {2}, set()),
    # the one flying in cannot be held (taking off, or in RTL): the other is
    ({1: _t((0, 0, 5), (1.5, 0, 0), can_hold=False), 2: _t((6, 0, 5), (0, 0, 0))}, set(), {2}, set()),
    # close but moving apart, or far: nothing
    ({1: _t((0, 0, 5), (-1, 0, 0)), 2: _t((3.5, 0, 5), (1, 0, 0))}, set(), set(), set()),
    ({1: _t((0, 0, 5), (1, 0, 0)), 2: _t((30, 0, 5), (-1, 0, 0))}, set(), set(), set()),
    # both on the ground (pads 4 m apart): nothing
    ({1: _t((0, 0, 0), (0, 0, 0), airborne=False), 2: _t((4, 0, 0), (0, 0, 0), airborne=False)}, set(), set(), set()),
    # held: let go when its way leads away, kept while it leads into the other
    ({1: _t((0, 0, 5), (0, 0, 0), intent=(-1.5, 0, 0)), 2: _t((5, 0, 5), (0, 0, 0))}, {1}, set(), {1}),
    ({1: _t((0, 0, 5), (0, 0, 0), intent=(1.5, 0, 0)), 2: _t((5, 0, 5), (0, 0, 0))}, {1}, set(), set()),
    # held, and the other one still comes at it: the other is held too
    ({1: _t((0, 0, 5), (0, 0, 0), intent=(1.5, 0, 0)), 2: _t((6, 0, 5), (-1.5, 0, 0))}, {1}, {2}, set()),
    # a vehicle whose sortie is over is let go
    ({1: _t((0, 0, 5), (0, 0, 0))}, {3}, set(), {3}),
    # a first pass at 0.7 m flown 4.26 m past a vehicle on its pad: not held for it (keep + ground
    # margin), nor kept held; 3.3 m past one, or past one hovering there, it is
    ({1: _t((8, 3.2, 0.7), (-1, 0, 0)), 2: _t((3, -1, 0), (0, 0, 0), airborne=False)}, set(), set(), set()),
    ({1: _t((8, 3.2, 0.7), (0, 0, 0), intent=(-1, 0, 0)), 2: _t((3, -1, 0), (0, 0, 0), airborne=False)}, {1}, set(), {1}),
    ({1: _t((8, 3.2, 0.7), (-1, 0, 0)), 2: _t((3, 0, 0), (0, 0, 0), airborne=False)}, set(), {1}, set()),
    ({1: _t((8, 3.2, 0.7), (-1, 0, 0)), 2: _t((3, -1, 0.7), (0, 0, 0))}, set(), {1}, set()),
])
def test_guard_decisions(tracks, held, hold, let_go):
    assert guard_decisions(tracks, held, G) == (hold, let_go, {})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=4, max_size=4), st.lists(st.floats(-2, 2), min_size=4, max_size=4))
def test_a_closing_pair_always_holds_one_of_them(xy, vxy):
    a = _t((xy[0], xy[1], 5.0), (vxy[0], vxy[1], 0.0))
    b = _t((xy[2], xy[3], 5.0), (vxy[2], vxy[3], 0.0))
    r = b.p - a.p
    assume(float(np.linalg.norm(r)) > 0.1)
    closing = -float(r @ (b.v - a.v)) / float(np.linalg.norm(r)) > G.min_closing_m_s
    hold = guard_decisions({1: a, 2: b}, set(), G).hold
    if closing and predicted_min(a.p, a.v, b.p, b.v, G.lookahead_s) < G.keep_m + G.margin_m:
        assert len(hold) == 1
    else:
        assert hold == set()


@pytest.mark.parametrize("guard", [False, True])
def test_the_guard_keeps_two_crossing_vehicles_apart(tmp_path, guard):
    """Without the guard the two meet in the middle; with it one holds until the other has passed.
    Unguarded, vehicle 2 waits over the crossing and vehicle 1 starts 5 s later, so they meet there
    however far apart the two starts drift on a loaded machine (with both flying through the crossing
    at once, their starts drifted apart under load and kept them 1.7-3.2 m apart in 5 of 8 runs)."""
    from flight.planfile import read_plan
    from flight.runner import RunnerOptions
    from flight.session import CameraSource
    from flight.sim import SimConfig, SimVehicle, free_udp_port

    man = load_fleet(crossing_fleet(tmp_path, **({} if guard else {"wait_at_crossing_s": 30.0, "start_s": {1: 5.0}})))
    speedup = 5.0
    sims, links = [], {}
    for v in man.vehicles:
        home = read_plan(v.missions[0]).home
        port = free_udp_port()
        sims.append(SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(
            speedup=speedup, ekf_ready_s=2.0, home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2],
            sysid=v.sysid)).start())
        links[v.vehicle] = f"udpin:127.0.0.1:{port}"
    try:
        ff = fly_fleet(man, record=tmp_path / "run", links=links, camera_for=lambda v: CameraSource(),
                       options=RunnerOptions(), time_scale=speedup, guard=guard)
    finally:
        for s in sims:
            s.stop()
    assert ff.ok, ff.sorties
    if guard:
        assert ff.min_separation_m >= 3.0 and ff.holds and not ff.warnings, (ff.min_separation_m, ff.holds)
        import json

        holds = json.loads(ff.timeline_file.read_text())["holds"]  # when, where and at which item each hold came
        assert holds and all(h["mission_seq"] > 0 and h["at_s"] >= 0 and h["held_s"] > 0 and h["lat_deg"] for h in holds)
        from flight.bundle import Bundle

        for s in ff.sorties:  # the heading the mission set is back after the holds (BRAKE drops it)
            yaws = [np.degrees(m.yaw) % 360 for _, m in Bundle(s.record).iter_mavlink(["ATTITUDE"])]
            assert yaws and abs(((yaws[-1] - HEADING[s.vehicle]) + 180) % 360 - 180) < 15, (s.vehicle, yaws[-20:])
    else:
        assert ff.min_separation_m < 1.5 and not ff.holds and "came within" in ff.warnings[0]


def _gate_run(ready_at_s: dict[int, float], start_s: dict[int, float], leave_at_s: dict[int, float] | None = None,
              stop_at_s: float | None = None) -> tuple[float, dict[int, float]]:
    """Vehicles ready (or out) at the given seconds on a TakeoffGate: (when the last came, when each took off)."""
    import threading
    import time

    stop = threading.Event()
    gate = TakeoffGate([*ready_at_s, *(leave_at_s or {})], stop)
    t0 = time.monotonic()
    off: dict[int, float] = {}

    def vehicle(k: int) -> None:
        time.sleep(ready_at_s[k])
        gate.ready(k, start_s.get(k, 0.0))
        off[k] = time.monotonic() - t0

    def gone(k: int) -> None:
        time.sleep((leave_at_s or {})[k])
        gate.leave(k)

    threads = [threading.Thread(target=vehicle, args=(k,)) for k in ready_at_s]
    threads += [threading.Thread(target=gone, args=(k,)) for k in leave_at_s or {}]
    if stop_at_s is not None:
        threads.append(threading.Timer(stop_at_s, stop.set))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10.0)
    return max([*ready_at_s.values(), *(leave_at_s or {}).values()]), off


@pytest.mark.parametrize("ready_at_s, start_s, leave_at_s", [
    ({1: 0.0, 2: 0.6, 3: 0.3}, {1: 0.0, 2: 0.0, 3: 0.4}, None),  # the slowest checks set the start
    ({1: 0.6, 2: 0.0}, {1: 0.0, 2: 0.3}, None),  # 2 is ready first, still goes 0.3 s after 1
    ({1: 0.0, 2: 0.2}, {1: 0.0, 2: 0.3}, {3: 0.5}),  # 3 failed its checks at 0.5 s: none waits longer
])
def test_the_takeoff_gate_starts_every_vehicle_its_start_after_all_are_ready(ready_at_s, start_s, leave_at_s):
    """A fleet's start_s counts from the moment every vehicle is ready (or out), not from before the
    checks: two ArduCopter SITL instances whose EKFs took 40 s took off together, their 20 s apart gone."""
    go, off = _gate_run(ready_at_s, start_s, leave_at_s)
    assert set(off) == set(ready_at_s)
    for k, t in off.items():
        assert go + start_s.get(k, 0.0) - 0.02 <= t < go + start_s.get(k, 0.0) + 0.5, (k, t, go)


def test_a_stopped_fleet_leaves_the_takeoff_gate_at_once():
    """Ctrl-C while vehicle 1 waits for vehicle 2's checks: vehicle 1 does not wait on (the stop is
    what keeps it on the ground, in ``fly``)."""
    _, off = _gate_run({1: 0.0, 2: 5.0}, {}, stop_at_s=0.3)
    assert 0.25 <= off[1] < 1.0 and off[2] >= 5.0  # 2, ready later, passes straight through


def _takeoff_s(bundle_dir: Path, origin) -> float:
    """Ground-station seconds when the vehicle first reported 0.5 m above home."""
    t, xyz = telemetry_track(bundle_dir, origin)
    return float(t[np.argmax(xyz[:, 2] > 0.5)])


def test_a_vehicle_with_slow_checks_keeps_the_planned_gap_between_takeoffs(tmp_path):
    """Vehicle 1's EKF takes 15 s more than vehicle 2's; vehicle 2 is planned 10 s after vehicle 1. Held
    back from the fleet's start, vehicle 2 would take off first; the fleet starts once both are ready."""
    from flight.planfile import read_plan
    from flight.runner import RunnerOptions
    from flight.session import CameraSource
    from flight.sim import SimConfig, SimVehicle, free_udp_port
    from warehouse.geodetic import GeoOrigin

    man = load_fleet(crossing_fleet(tmp_path, start_s={2: 10.0}))
    speedup = 5.0
    sims, links = [], {}
    for v, ekf_s in zip(man.vehicles, (17.0, 2.0)):
        home = read_plan(v.missions[0]).home
        port = free_udp_port()
        sims.append(SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(
            speedup=speedup, ekf_ready_s=ekf_s, home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2],
            sysid=v.sysid)).start())
        links[v.vehicle] = f"udpin:127.0.0.1:{port}"
    try:
        ff = fly_fleet(man, record=tmp_path / "run", links=links, camera_for=lambda v: CameraSource(),
                       options=RunnerOptions(), time_scale=speedup)
    finally:
        for s in sims:
            s.stop()
    assert ff.ok, ff.sorties
    o = GeoOrigin(lat_deg=10.7769, lon_deg=106.7009, alt_m=10.0)
    up = {s.vehicle: _takeoff_s(Path(s.record), o) for s in ff.sorties}
    gap_vehicle_s = (up[2] - up[1]) * speedup
    assert 6.0 < gap_vehicle_s < 16.0, up  # 10 s planned; arming and the links' jitter either way


def test_separation_never_draws_a_vehicle_across_a_battery_change():
    """Vehicle 1 lands away from its pad (at a rally point) and is carried back for its second
    sortie; vehicle 2 flies between the two places meanwhile: no approach, nothing in the air together."""
    t = np.arange(0.0, 10.0, 0.5)
    s1 = (t, np.tile([0.0, 14.0, 0.0], (len(t), 1)) + np.outer(np.r_[np.ones(len(t) - 4), np.zeros(4)], [0, 0, 3.0]))
    s2 = (t + 20.0, np.tile([4.0, 0.0, 2.0], (len(t), 1)))
    v2 = (t[:16] + 11.0, np.tile([2.0, 7.0, 2.0], (16, 1)))  # 11-18.5 s, between the sorties
    assert telemetry_separation([(1, s1), (1, s2), (2, v2)]) == (None, None)
    joined = (np.r_[s1[0], s2[0]], np.r_[s1[1], s2[1]])
    d, _ = telemetry_separation({1: joined, 2: v2})  # drawn across the gap, vehicle 1 would pass vehicle 2
    assert d is not None and d < 3.0


@pytest.mark.parametrize("tracks, held, hold, let_go", [
    # side by side on pads 4 m apart, climbing: not closing, nothing held
    ({1: _t((0, 0, 1), (0, 0, 1.0)), 2: _t((4, 0, 1.5), (0.02, 0, 1.0))}, set(), set(), set()),
    # held side by side, each waiting for the other: the lower number goes first (its way keeps 3 m)
    ({1: _t((0, 0, 5), (0, 0, 0), intent=(0.3, 1.5, 0)), 2: _t((4, 0, 5), (0, 0, 0), intent=(-0.3, 1.5, 0))},
     {1, 2}, set(), {1}),
    # held, each clear of the other standing still, but their ways meet: only the lower number goes
    ({1: _t((-6, 0, 4), (0, 0, 0), intent=(3, 0, 0)), 2: _t((0, -6, 4), (0, 0, 0), intent=(0, 3, 0))},
     {1, 2}, set(), {1}),
    # ... unless its way leads straight into the other: both wait (the operator decides)
    ({1: _t((0, 0, 5), (0, 0, 0), intent=(1.5, 0, 0)), 2: _t((4, 0, 5), (0, 0, 0), intent=(-1.5, 0, 0))},
     {1, 2}, set(), set()),
])
def test_guard_decisions_never_wait_for_each_other_for_ever(tracks, held, hold, let_go):
    assert guard_decisions(tracks, held, G)[:2] == (hold, let_go)


def test_a_vehicle_let_go_past_a_held_one_is_not_held_again_at_each_look():
    """ArduCopter SITL, 2026-12-07: vehicle 2 held 3.5 m short of the crossing, vehicle 1 held before
    it; each waits for the other, so vehicle 1 goes first (its way keeps 3 m). Held again at
    keep + margin, it was let go and held again every second as it crept past (12 holds in 20 s).
    Passing, it is held again only within keep_m, and the pass ends once it no longer closes."""
    v2_held = _t((0, -3.5, 4), (0, 0, 0), intent=(0, 3, 0))
    first = guard_decisions({1: _t((-2, 0, 4), (0, 0, 0), intent=(3, 0, 0)), 2: v2_held}, {1, 2}, G)
    assert first == (set(), {1}, {1: {2}})  # 1 goes first, passing held 2
    moving = {1: _t((-1.5, 0, 4), (3, 0, 0)), 2: v2_held}
    assert guard_decisions(moving, {2}, G).hold == {1}  # as before: held again at 3.5 m < keep + margin
    assert guard_decisions(moving, {2}, G, first.passing) == (set(), set(), {1: {2}})  # passing: flies on
    closer = {1: _t((-1.5, 0, 4), (3, 0, 0)), 2: _t((0, -2.5, 4), (0, 0, 0), intent=(0, 3, 0))}
    assert guard_decisions(closer, {2}, G, first.passing) == ({1}, set(), {})  # within keep_m: held, the pass over
    past = {1: _t((1.0, 0, 4), (3, 0, 0)), 2: v2_held}
    assert guard_decisions(past, {2}, G, first.passing).passing == {}  # moving away from 2: the pass is over
    assert guard_decisions(moving, set(), G, first.passing) == ({1}, set(), {})  # 2 let go meanwhile: the usual limit


@pytest.mark.parametrize("tracks, held, hold, let_go", [
    # 2 held 12.6 m short of the crossing still coasts north at 3 m/s: seen stopping 7.4 m short
    # (ArduCopter stopped 10.3 m short), so 1 flies on through (seen flying on, 2 had 1 held too:
    # ArduCopter SITL, 2026-12-07)
    ({1: _t((-12.6, 0, 4), (3, 0, 0)), 2: _t((0, -12.6, 4), (0, 3, 0), intent=(0, 3, 0))}, {2}, set(), set()),
    # ... but held 4 m short it may not stop short of the crossing: 1 is held too (and 2, its own way
    # clear of 1 flying on, may go on ahead once it has been held its second)
    ({1: _t((-12.6, 0, 4), (3, 0, 0)), 2: _t((0, -4, 4), (0, 3, 0), intent=(0, 3, 0))}, {2}, {1}, {2}),
    # both held, 1 at rest, 2 still coasting toward 1's way: 2 goes on first, 1 waits (seen standing
    # where it was, 2 left 1's way clear: 1 was let go and held again a second later)
    ({1: _t((-6, 0, 4), (0, 0, 0), intent=(3, 0, 0)), 2: _t((0, -6, 4), (0, 3, 0), intent=(0, 3, 0))},
     {1, 2}, set(), {2}),
    # ... and with 2 at rest 6 m short of 1's way, 1's way is clear of it, and 2's own (back south): both go
    ({1: _t((-6, 0, 4), (0, 0, 0), intent=(3, 0, 0)), 2: _t((0, -6, 4), (0, 0, 0), intent=(0, -3, 0))},
     {1, 2}, set(), {1, 2}),
])
def test_a_held_vehicle_is_seen_braking_to_rest(tracks, held, hold, let_go):
    assert guard_decisions(tracks, held, G)[:2] == (hold, let_go)


def test_what_is_in_force_at_the_current_item_is_read_from_the_plan():
    """After a hold the runner sends again the speed and heading the mission set before its current
    item (BRAKE drops a CONDITION_YAW) and knows the waypoint it flies to."""
    from flight.mission import Mission, MissionItem, mission_to_mavlink
    from flight.runner import MissionRunner

    m = Mission(home=(10.0, 106.0, 5.0), items=(
        MissionItem(kind="takeoff", lat_deg=10.0, lon_deg=106.0, rel_alt_m=2.0),
        MissionItem(kind="change_speed", speed_m_s=1.5),
        MissionItem(kind="set_yaw", yaw_deg=180.0),
        MissionItem(kind="waypoint", lat_deg=10.0001, lon_deg=106.0, rel_alt_m=3.0),
        MissionItem(kind="change_speed", speed_m_s=0.6),
        MissionItem(kind="waypoint", lat_deg=10.0002, lon_deg=106.0, rel_alt_m=3.0)))
    r = MissionRunner("udpin:127.0.0.1:0")  # never connected: only the plan and the state are read
    assert r.speed_in_force() is None and r.heading_in_force() is None and r.next_waypoint() is None
    r.plan = mission_to_mavlink(m)
    r.state.mission_current = 4  # flying to the first waypoint
    assert r.speed_in_force() == 1.5 and r.heading_in_force()[0] == 180.0
    assert r.next_waypoint() == pytest.approx((10.0001, 106.0, 3.0))
    r.state.mission_current = 6  # the pass at 0.6 m/s
    assert r.speed_in_force() == pytest.approx(0.6) and r.next_waypoint() == pytest.approx((10.0002, 106.0, 3.0))
    assert r.current_command() == 16 and r.landing_point() is None


@pytest.mark.parametrize("at, comes_down_at", [
    ((10.0002, 106.0), (10.0003, 106.0)),  # the rally point at the aisle's end, not home
    ((10.00005, 106.0), (10.0, 106.0)),  # home is nearer
    ((10.0002, 106.0003), (10.0002, 106.0004)),  # the nearer of two rally points
])
def test_an_rtl_comes_down_at_the_nearest_of_home_and_the_rally_points(at, comes_down_at):
    """As ArduCopter picks (RALLY_INCL_HOME): the planner puts a rally point at each end of every
    aisle, so a sortie's closing RTL lands there, not on its pad (a simulated fleet's vehicles did)."""
    from flight.mission import Mission, MissionItem, RallyPoint, mission_to_mavlink
    from flight.runner import MissionRunner

    m = Mission(home=(10.0, 106.0, 5.0), items=(
        MissionItem(kind="takeoff", lat_deg=10.0, lon_deg=106.0, rel_alt_m=2.0),
        MissionItem(kind="waypoint", lat_deg=10.0002, lon_deg=106.0, rel_alt_m=3.0),
        MissionItem(kind="rtl")),
        rally=(RallyPoint(lat_deg=10.0003, lon_deg=106.0, rel_alt_m=2.0), RallyPoint(lat_deg=10.0002, lon_deg=106.0004, rel_alt_m=2.0)))
    r = MissionRunner("udpin:127.0.0.1:0")  # never connected: only the plan and the state are read
    assert r.current_command() is None and r.landing_point() is None
    r.plan = mission_to_mavlink(m)
    r.state.mission_current = 3
    r.state.lat_deg, r.state.lon_deg = at
    assert r.current_command() == 20 and r.next_waypoint() is None
    assert r.landing_point() == pytest.approx(comes_down_at)


def test_a_land_comes_down_at_its_own_place():
    """The planner's sorties end over the pad with a LAND there (an RTL would take the rally point)."""
    from flight.mission import Mission, MissionItem, RallyPoint, mission_to_mavlink
    from flight.runner import MissionRunner

    m = Mission(home=(10.0, 106.0, 5.0), items=(
        MissionItem(kind="takeoff", lat_deg=10.0, lon_deg=106.0, rel_alt_m=2.0),
        MissionItem(kind="waypoint", lat_deg=10.0002, lon_deg=106.0, rel_alt_m=3.0),
        MissionItem(kind="land", lat_deg=10.0001, lon_deg=106.0)),
        rally=(RallyPoint(lat_deg=10.0002, lon_deg=106.0, rel_alt_m=2.0),))
    r = MissionRunner("udpin:127.0.0.1:0")
    r.plan = mission_to_mavlink(m)
    r.state.lat_deg, r.state.lon_deg = 10.0002, 106.0
    r.state.mission_current = 2
    assert r.current_command() == 16 and r.landing_point() is None
    r.state.mission_current = 3
    assert r.current_command() == 21 and r.landing_point() == pytest.approx((10.0001, 106.0))


class _Runner:
    """What the guard reads of a runner: the reported state, and the hold it asks for."""

    def __init__(self, y_m: float) -> None:
        from types import SimpleNamespace

        self.state = SimpleNamespace(lat_deg=y_m, lon_deg=0.0, rel_alt_m=2.0, armed=True, mode="AUTO",
                                     vel_ned_m_s=(0.0, 1.5, 0.0), position_t_ns=1)
        self.commanded_mode = "AUTO"
        self.holds: list[str] = []

    def guard_hold(self, why: str) -> bool:
        self.holds.append(why)
        self.state.mode = self.commanded_mode = "BRAKE"
        return True

    def guard_release(self, why: str) -> None:
        self.state.mode = self.commanded_mode = "AUTO"

    def next_waypoint(self):
        return None

    def speed_in_force(self):
        return 1.5

    def current_command(self):
        return 16

    def landing_point(self):
        return None


class _Landing(_Runner):
    """A runner in its mission's closing RTL, coming down at ``rally`` (x, y m in the flat frame)."""

    def __init__(self, y_m: float, rally: tuple[float, float]) -> None:
        super().__init__(y_m)
        self.rally = rally

    def current_command(self):
        return 20

    def landing_point(self):
        return self.rally[1], self.rally[0]  # (lat, lon) of the flat frame: y, x


@pytest.mark.parametrize("at_xy, rally_xy, want", [
    ((22.6, 34.4), (22.6, 34.4), (0.0, 0.0, -0.5)),  # over its rally point: down at LAND_SPD_MS
    ((22.6, 30.0), (22.6, 34.4), (0.0, 1.5, 0.0)),  # on its way there at the speed in force
])
def test_a_held_vehicle_in_its_rtl_would_fly_to_its_rally_point_and_come_down(monkeypatch, at_xy, rally_xy, want):
    import flight.fleet_fly as ff

    to_site = lambda lat, lon, alt: np.array([lon, lat, alt])  # noqa: E731: a flat test frame, metres
    guard = ff.SeparationGuard(to_site, GuardOptions())
    r = _Landing(at_xy[1], rally_xy)
    r.state.lon_deg, r.state.rel_alt_m = at_xy[0], 8.0
    p = np.array([at_xy[0], at_xy[1], 8.0])
    assert guard._intent(r, p) == pytest.approx(np.array(want))


@pytest.mark.parametrize("intent_2, held_again", [((0.0, 0.0, -0.5), False), ((0.0, 0.0, 0.0), True)])
def test_a_vehicle_coming_down_beside_a_held_one_is_let_go_to_land(intent_2, held_again):
    """Vehicle 1 is held at the end of its pass, 3.8 m beside the rally point where vehicle 2, held over
    it, would come down; vehicle 1's way climbs straight at vehicle 2. Seen coming down, vehicle 2 goes
    first (its way keeps 3 m) and passes vehicle 1 to land; seen hovering (how the guard saw a vehicle
    in its RTL), it was let go with nothing to pass, and held again as it came down, 39 times in 25 s
    (simulated fleet of 4, 2026-12-07)."""
    tracks = {1: _t((22.1, 38.2, 2.6), (0, 0, 0), intent=(0.1, -0.9, 1.2)),
              2: _t((22.6, 34.4, 8.0), (0, 0, 0), intent=intent_2)}
    first = guard_decisions(tracks, {1, 2}, G)
    assert first.hold == set() and first.let_go == {2} and first.passing == ({2: {1}} if not held_again else {})
    # four seconds later: vehicle 2 comes down at 6 m, vehicle 1 still held
    after = {1: tracks[1], 2: _t((22.6, 34.4, 6.0), (0, 0, -0.5))}
    again = guard_decisions(after, {1}, G, first.passing)
    assert (2 in again.hold) is held_again, (first, again)


@pytest.mark.parametrize("reported_velocity, holds", [(True, False), (False, True)])
def test_parallel_passes_in_neighbouring_aisles_are_not_held(monkeypatch, reported_velocity, holds):
    """Two vehicles scanning side by side 5.2 m apart (a rack between them) never close in. With the
    velocity each reports (GLOBAL_POSITION_INT) the guard leaves them alone; velocity differenced
    from positions with a centimetre of noise sees them closing now and then and holds one
    mid-pass (the bench's guarded runs: holds in the middle of a pass, bins miscounted there)."""
    import flight.fleet_fly as ff

    clock = [0.0]
    monkeypatch.setattr(ff.time, "monotonic", lambda: clock[0])
    to_site = lambda lat, lon, alt: np.array([lon, lat, alt])  # noqa: E731: a flat test frame, metres
    R_site_ned = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # x east, y north, z up
    guard = ff.SeparationGuard(to_site, GuardOptions(), R_site_ned=R_site_ned if reported_velocity else None)
    runners = {1: _Runner(0.0), 2: _Runner(5.2)}
    for k, r in runners.items():
        guard.attach(k, r)
    rng = np.random.default_rng(3)
    for step in range(400):  # 20 s of looks every 0.05 s, positions reported at 10 Hz
        clock[0] = step * 0.05
        if step % 2 == 0:
            for k, r in runners.items():
                r.state.lon_deg = 1.5 * clock[0] + rng.normal(0, 0.01)
                r.state.lat_deg = (0.0 if k == 1 else 5.2) + rng.normal(0, 0.01)
        guard.step()
    held = [h for r in runners.values() for h in r.holds]
    assert bool(held) is holds, held


def test_a_record_folder_is_reused_only_after_a_refused_link_check(tmp_path):
    """Links with nothing on them: every link is checked before anything flies and the fleet is
    refused, leaving only its time line; the same --record folder then takes the next try, while a
    folder holding a bundle is still refused."""
    from flight.runner import RunnerOptions
    from flight.session import CameraSource
    from flight.sim import free_udp_port

    man = load_fleet(crossing_fleet(tmp_path))
    links = {v.vehicle: f"udpin:127.0.0.1:{free_udp_port()}" for v in man.vehicles}
    kw = dict(links=links, camera_for=lambda v: CameraSource(), options=RunnerOptions(heartbeat_timeout_s=0.5))
    rec = tmp_path / "night"
    ff = fly_fleet(man, record=rec, **kw)
    assert not ff.ok and ff.refused.startswith("link check: vehicle 1: ") and "vehicle 2: " in ff.refused
    assert [s.status for s in ff.sorties] == ["not flown"] * len(ff.sorties) and sorted(p.name for p in rec.iterdir()) == ["fleet_timeline.json"]
    assert fly_fleet(man, record=rec, **kw).refused == ff.refused
    (rec / "night-v1").mkdir()
    with pytest.raises(FlightError, match="exists and is not empty"):
        fly_fleet(man, record=rec, **kw)
