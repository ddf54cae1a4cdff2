"""flight.mission.resume_from: the continuation of an interrupted mission as a mission of its own."""

import pytest

from datasets.world import build_world
from flight.errors import FlightError
from flight.mission import Mission, MissionItem, resume_from
from flight.planner import PlanOptions, plan


def _mission():
    wp = lambda x, bins=(): MissionItem(kind="waypoint", lat_deg=x, lon_deg=0.0, rel_alt_m=2.0, bin_ids=bins)
    items = (MissionItem(kind="takeoff", rel_alt_m=2.0), MissionItem(kind="change_speed", speed_m_s=1.5),
             MissionItem(kind="gimbal", gimbal_pitch_deg=-10.0), wp(1.0, ("A",)), wp(2.0, ("A",)),
             wp(3.0), wp(4.0, ("B",)), wp(5.0, ("B",)), MissionItem(kind="rtl"))
    return Mission(home=(0.0, 0.0, 10.0), items=items)


def test_resume_reflies_the_interrupted_leg_with_takeoff_and_state():
    m = _mission()
    r = resume_from(m, 7)  # seq 7 = items[6] reached: the leg to items[7] was under way
    assert [it.kind for it in r.items] == ["takeoff", "change_speed", "gimbal", "waypoint", "waypoint", "rtl"]
    assert r.items[3].lat_deg == 4.0 and r.items[-1].kind == "rtl"
    assert r.meta["seq_map"] == [0, 1, 2, 3, 7, 8, 9] and r.meta["resumed_after_seq"] == 7


def test_resume_before_any_pass_keeps_everything():
    m = _mission()
    assert [it.kind for it in resume_from(m, 1).items] == [it.kind for it in m.items]


def test_nothing_left_to_resume_is_one_clear_error():
    with pytest.raises(FlightError, match="resume after item 8: every leg that covers bins was flown"):
        resume_from(_mission(), 8)


@pytest.fixture(scope="module")
def a01():
    from pathlib import Path

    world = build_world(Path(__file__).resolve().parents[2] / "datasets" / "scenarios" / "default.yaml")
    return plan(world.site, world.camera, PlanOptions(aisles=("A01",))).missions[0]


def _face_first_passes(items):
    """Item indexes of the bin legs that open a face (after a CONDITION_YAW and an aisle entry), and of the others."""
    passes = [i for i, it in enumerate(items) if it.kind == "waypoint" and it.bin_ids]
    first = [p for p in passes if items[p - 5].kind == "set_yaw"]
    return passes, first, [p for p in passes if p not in first]


def test_a_planned_pass_is_resumed_from_its_condition_yaw_at_the_slow_speed(a01):
    items = a01.items
    passes, first, _ = _face_first_passes(items)
    assert len(first) == 2  # A01's two faces; the passes after the first on a face are reached along it
    p = first[1]
    r = resume_from(a01, p)  # seq p = items[p - 1], the pass's start, was reached: its bin leg was under way
    kinds = [it.kind for it in r.items]
    j = r.meta["seq_map"].index(p + 1) - 1  # the interrupted leg in the continuation
    # the pass's own CONDITION_YAW, aisle entry at the transit altitude, start, gimbal and slow speed
    assert kinds[j - 5:j + 1] == ["set_yaw", "waypoint", "waypoint", "gimbal", "change_speed", "waypoint"]
    assert r.items[j - 5] is items[p - 5] and r.items[j - 1].speed_m_s == items[p - 1].speed_m_s < 2.0
    # first the takeoff, the speed / gimbal / heading in force, the climb over home to the transit altitude
    assert kinds[0] == "takeoff" and kinds.index("waypoint") < j - 5
    assert r.items[kinds.index("waypoint")] is items[2]
    assert items[2].rel_alt_m == max(it.rel_alt_m for it in items if it.kind == "waypoint")
    # every bin leg from the interrupted one on, none before it
    k = passes.index(p)
    assert [r.meta["seq_map"][k + 1] - 1 for k, it in enumerate(r.items) if it.bin_ids] == passes[k:]


def test_a_pass_chained_at_the_face_is_reached_from_straight_above_its_start(a01):
    """A pass reached along the face from the one before has no aisle entry of its own: its
    continuation comes down to the pass's start from the transit altitude right above it, never on a
    slant from the climb over home (that line would cut through the racks)."""
    items = a01.items
    passes, _, chained = _face_first_passes(items)
    transit = items[2].rel_alt_m
    for p in chained[1:4]:
        r = resume_from(a01, p)  # the pass's start was reached: its bin leg was under way
        j = r.meta["seq_map"].index(p + 1) - 1
        start = j - 3  # start waypoint, gimbal, slow speed, bin leg
        assert [it.kind for it in r.items[start:j + 1]] == ["waypoint", "gimbal", "change_speed", "waypoint"]
        above = r.items[start - 1]
        assert above.kind == "waypoint" and above.rel_alt_m == transit > r.items[start].rel_alt_m + 0.5
        assert (above.lat_deg, above.lon_deg) == (r.items[start].lat_deg, r.items[start].lon_deg)
        before = [it for it in r.items[:start - 1] if it.kind == "waypoint"]
        assert before == [items[2]]  # only the climb over home comes before it
        assert [it.yaw_deg for it in r.items[:start] if it.kind == "set_yaw"] == \
            [next(it.yaw_deg for it in reversed(items[:p]) if it.kind == "set_yaw")]
        # in the plan's numbering, the approach counts as the item before the start
        assert r.meta["seq_map"][start] == r.meta["seq_map"][start + 1] - 1
        assert [r.meta["seq_map"][k + 1] - 1 for k, it in enumerate(r.items) if it.bin_ids] == passes[passes.index(p):]


def test_a_plan_with_a_do_jump_is_not_resumed():
    m = _mission()
    jump = MissionItem(kind="command", command=177, frame=2, params=(4.0, 1.0, 0.0, 0.0))
    m = Mission(home=m.home, items=m.items[:-1] + (jump, m.items[-1]))
    with pytest.raises(FlightError, match="the plan has a DO_JUMP"):
        resume_from(m, 5)
