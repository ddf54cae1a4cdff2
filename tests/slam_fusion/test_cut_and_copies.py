"""A standing tire boxed in two is one tire; a tire boxed twice a little apart is one tire; a stack
of lying tires and a packed row keep their count. Geometry from dev world 10004/10005 (R01/back)."""

import pytest

from slam_fusion.core.fuse import TireTrack, drop_covered, fuse_bin, merge_cut_tires, select_tracks


def _t(u0, u1, v0, v1, n=11, expected=10):
    return TireTrack(face_id="F", u0_m=u0, u1_m=u1, v0_m=v0, v1_m=v1, frames=tuple(range(n)), gtins=(), score=0.8,
                     n_expected=expected, expected_frames=tuple(range(expected)))


@pytest.mark.parametrize("tracks,count", [
    # three standing tires of 1.0 m: the first boxed whole, the other two as top and bottom halves
    ([_t(4.63, 4.94, 1.42, 2.43, 21, 17), _t(4.94, 5.25, 1.42, 2.09), _t(4.94, 5.25, 1.94, 2.44),
      _t(5.25, 5.56, 1.43, 2.09), _t(5.25, 5.56, 1.90, 2.44)], 3),
    # three standing tires, each in halves overlapping by half of the shorter
    ([_t(5.80, 6.08, 2.71, 3.34), _t(5.80, 6.09, 3.03, 3.71), _t(6.09, 6.37, 2.70, 3.35), _t(6.10, 6.38, 3.04, 3.72),
      _t(6.38, 6.67, 2.70, 3.35), _t(6.39, 6.69, 3.07, 3.72)], 3),
    # three lying tires stacked, seen from below: wider than tall, overlapping by a third
    ([_t(0.13, 0.93, 1.40, 1.64), _t(0.23, 0.99, 1.56, 1.80), _t(0.13, 0.91, 1.74, 2.01)], 3),
    # standing tires side by side, their sides overlapping in projection
    ([_t(7.58, 7.80, 1.87, 2.60), _t(7.73, 7.93, 1.86, 2.60), _t(7.88, 8.10, 1.86, 2.60), _t(8.01, 8.22, 1.87, 2.59),
      _t(8.17, 8.40, 1.86, 2.60), _t(8.31, 8.54, 1.89, 2.59)], 6),
])
def test_cut_tires_are_joined_and_stacks_and_rows_are_not(tracks, count):
    assert len(merge_cut_tires(tracks)) == count
    assert len(select_tracks(tracks)[0]) == count


def test_a_joined_tire_spans_both_halves_and_keeps_every_frame():
    top, bottom = _t(4.94, 5.25, 1.94, 2.44, n=5), TireTrack(**{**_t(4.94, 5.25, 1.42, 2.09).__dict__, "frames": (4, 7, 9)})
    (one,) = merge_cut_tires([top, bottom])
    assert (one.v0_m, one.v1_m) == (1.42, 2.44) and one.frames == (0, 1, 2, 3, 4, 7, 9)


@pytest.mark.parametrize("extra,kept", [
    (_t(8.35, 8.55, 3.59, 4.39, n=3, expected=6), False),  # a second box of the last tire, 6 cm aside
    (_t(8.74, 8.96, 3.59, 4.39), True),  # the next tire
    (_t(8.20, 8.45, 3.59, 4.39, n=20, expected=20), True),  # a box over a seam seen best: the weaker box it hides goes, five stay
])
def test_a_copy_under_the_others_is_dropped_the_better_seen_stays(extra, kept):
    row = [_t(7.72, 8.01, 3.59, 4.39), _t(7.92, 8.16, 3.59, 4.39), _t(8.09, 8.38, 3.59, 4.39), _t(8.29, 8.50, 3.59, 4.39),
           _t(8.46, 8.74, 3.59, 4.39)]
    out = drop_covered(row + [extra])
    assert (extra in out) is kept
    assert len(out) >= 5 if kept else len(out) == 5


def test_an_empty_bin_full_of_tire_like_boxes_goes_to_recount():
    strays = [_t(0.15 + 0.1 * i, 0.30 + 0.1 * i, 0.3, 0.5, n=1, expected=10) for i in range(6)]  # seen once each
    clean = fuse_bin("A01-B03-L1-P2", [], set(range(20)))
    unsure = fuse_bin("A01-B03-L1-P2", strays, set(range(20)))
    assert clean.count == unsure.count == 0
    assert clean.confidence >= 0.9 > 0.8 > unsure.confidence
