"""Passes registered to one another on the tires they both saw (slam_fusion.core.passes)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slam_fusion.core.fuse import Sighting, TireTrack
from slam_fusion.core.passes import PassShift, clock_error_s, pair_shift, pass_corrections_u, pass_shifts_u
from slam_fusion.pipeline import _pass_translations
from slam_fusion.tools.io import pass_shift_line
from tests.slam_fusion.factories import make_site


def _track(u0, w, v0=0.0, h=0.5):
    return TireTrack(face_id="F", u0_m=u0, u1_m=u0 + w, v0_m=v0, v1_m=v0 + h, frames=(0, 1, 2), gtins=(), score=0.9)


def _rows(widths_by_row, gap_m=0.3):
    """Packed rows of standing tires, one row per width, a bin's gap between rows: (u0, w) each."""
    out, u = [], 0.0
    for w, n in widths_by_row:
        for _ in range(n):
            out.append((u, w))
            u += w
        u += gap_m
    return out


ROWS = [(0.165, 5), (0.205, 4), (0.245, 3), (0.295, 2), (0.185, 6)]


@pytest.mark.parametrize("shift_m", [-0.12, -0.05, 0.0, 0.04, 0.086, 0.11])
def test_the_shift_between_two_passes_is_found_on_rows_of_many_sizes(shift_m):
    rng = np.random.default_rng(3)
    boxes = _rows(ROWS)
    lower = [_track(u0, w, v0=0.0) for u0, w in boxes]  # the lower pass saw the tires' lower parts
    upper = [_track(u0 + shift_m + rng.normal(0, 0.004), w, v0=0.3) for u0, w in boxes]
    got = pair_shift(lower, upper)
    assert got is not None
    assert got[0] == pytest.approx(shift_m, abs=0.006)
    assert got[1] == len(boxes)


def test_one_row_of_like_tires_half_a_tire_off_names_no_shift():
    """Every tire width along, the row looks the same: two shifts line it up all but one box."""
    boxes = _rows([(0.2, 8)])
    got = pair_shift([_track(u0, w) for u0, w in boxes], [_track(u0 + 0.09, w, v0=0.3) for u0, w in boxes])
    assert got is None


def test_passes_that_saw_no_height_in_common_name_no_shift():
    boxes = _rows(ROWS)
    got = pair_shift([_track(u0, w, v0=0.0, h=0.4) for u0, w in boxes],
                     [_track(u0 + 0.05, w, v0=0.5, h=0.4) for u0, w in boxes])
    assert got is None


@settings(max_examples=60, deadline=None)
@given(widths=st.lists(st.tuples(st.floats(0.15, 0.35), st.integers(1, 6)), min_size=1, max_size=6),
       shift_m=st.floats(-0.15, 0.15), gap_m=st.floats(0.05, 0.5))
def test_a_shift_named_is_the_true_one(widths, shift_m, gap_m):
    """Every box of the one pass has its own tire in the other at the true shift, so no other shift
    can gather twice its votes: the answer is the truth or none."""
    boxes = _rows(widths, gap_m)
    got = pair_shift([_track(u0, w) for u0, w in boxes], [_track(u0 + shift_m, w, v0=0.3) for u0, w in boxes])
    assert got is None or abs(got[0] - shift_m) <= 0.02


def _sightings(boxes, frames, shift_m, v0):
    return [Sighting(frame_idx=f, face_id="F", u0_m=u0 + shift_m, u1_m=u0 + w + shift_m, v0_m=v0, v1_m=v0 + 0.5)
            for f in frames for u0, w in boxes]


def test_flown_both_ways_with_a_clock_error_the_passes_line_up_again():
    """A camera clock 0.08 s off at 0.55 m/s puts each pass 0.044 m along its way: passes flown
    back and forth are 0.088 m apart, and their corrections undo it."""
    boxes = _rows(ROWS)
    off = 0.044
    s = (_sightings(boxes, range(0, 4), +off, 0.0) + _sightings(boxes, range(10, 14), -off, 0.3)
         + _sightings(boxes, range(20, 24), +off, 0.6))
    pass_of = {**{f: 0 for f in range(4)}, **{f: 1 for f in range(10, 14)}, **{f: 2 for f in range(20, 24)}}
    shifts = pass_shifts_u(s, pass_of)
    assert {(x.a, x.b) for x in shifts} >= {(0, 1), (1, 2)}
    corr = pass_corrections_u(shifts)
    placed = {p: (off if p != 1 else -off) + corr["F", p] for p in (0, 1, 2)}
    assert max(placed.values()) - min(placed.values()) < 0.005
    assert sum(corr.values()) == pytest.approx(0.0, abs=1e-9)


def test_corrections_solve_every_pair_and_each_group_of_passes_stays_put_on_average():
    shifts = [PassShift("F", 0, 1, 0.08, 10), PassShift("F", 1, 2, -0.08, 9), PassShift("F", 0, 2, 0.0, 5),
              PassShift("F", 5, 6, -0.04, 6), PassShift("G", 0, 1, 0.02, 4)]
    c = pass_corrections_u(shifts)
    for s in shifts:
        assert s.shift_m + c[s.face_id, s.b] - c[s.face_id, s.a] == pytest.approx(0.0, abs=1e-9)
    assert c["F", 0] + c["F", 1] + c["F", 2] == pytest.approx(0.0, abs=1e-9)
    assert c["F", 5] + c["F", 6] == pytest.approx(0.0, abs=1e-9)
    assert c["G", 1] - c["G", 0] == pytest.approx(-0.02)
    assert pass_corrections_u([]) == {}


def test_a_pass_moves_its_cameras_along_its_face_and_a_climb_between_follows_in_time():
    site = make_site()
    face = site.faces[0]
    u = face.T_site_face[:3, 0]  # the face's u axis in the site
    frames = [0, 1, 2, 3, 4]
    pass_of = {0: 0, 1: 0, 2: 1, 3: 2, 4: 2}  # frame 2: the climb between the two passes
    t_ns = np.array([0, 1, 2, 3, 4]) * 1_000_000_000
    moved = _pass_translations({(face.face_id, 0): 0.04, (face.face_id, 2): -0.04}, {face.face_id: face}, pass_of,
                               frames, t_ns)
    np.testing.assert_allclose(moved[0], 0.04 * u, atol=1e-12)
    np.testing.assert_allclose(moved[4], -0.04 * u, atol=1e-12)
    np.testing.assert_allclose(moved[2], 0.0, atol=1e-12)  # halfway in time between +0.04 and -0.04
    assert _pass_translations({}, {face.face_id: face}, pass_of, frames, t_ns) is None


@pytest.mark.parametrize("shifts, says", [
    ([], "no two passes of a face saw enough tires in common"),
    ([PassShift("R01/back", 0, 1, -0.086, 10), PassShift("R01/back", 1, 2, 0.04, 7)],
     "2 pairs on 1 face, the largest 8.6 cm apart (R01/back, passes 0 and 1, 10 tires)"),
])
def test_the_fuse_verb_says_how_far_apart_the_passes_were(shifts, says):
    assert says in pass_shift_line(shifts)


@pytest.mark.parametrize("err_s", [0.221, 0.077, -0.13, 0.0])
def test_the_camera_clock_error_is_read_off_passes_flown_back_and_forth(err_s):
    """A frame placed ``e`` late sees each box ``v e`` along the way the camera flew: passes at
    +-0.55 m/s are 1.1 e apart; what drift added (a few millimetres a pass) barely moves it."""
    rng = np.random.default_rng(7)
    speed = {("F", p): 0.55 * (-1) ** p for p in range(8)}
    shifts = [PassShift("F", p, p + 1, (speed["F", p + 1] - speed["F", p]) * err_s + rng.normal(0, 0.004), 10)
              for p in range(7)]
    assert clock_error_s(shifts, speed) == pytest.approx(err_s, abs=0.01)


def test_no_clock_error_is_read_where_the_passes_flew_alike():
    speed = {("F", 0): 0.5, ("F", 1): 0.5, ("F", 2): -0.5}
    assert clock_error_s([PassShift("F", 0, 1, 0.04, 9)], speed) is None  # same way: drift, not the clock
    assert clock_error_s([PassShift("F", 1, 2, 0.04, 9)], speed) is None  # one pair is not enough
    assert clock_error_s([PassShift("F", 1, 2, 0.04, 9), PassShift("F", 0, 2, 0.05, 6)], speed) == \
        pytest.approx(-(9 * 0.04 + 6 * 0.05) / (15 * 1.0))
