"""A standing tire boxed in two is one tire, and so is a tire cut by the frame's edge in two passes; a
tire boxed twice a little apart is one tire; a box over a seam or spanning two tires is not a tire, nor
is an upright; a stack of lying tires and a packed row keep their count. Geometry from dev worlds
10004/10005 (R01/back), 10021, 10033 and 10038 (A01, first face)."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perception.detections import box_iou
from slam_fusion.pipeline import _export_tracks
from slam_fusion.core.fuse import (ItemLabel, TireTrack, _same_row, _v_overlap, drop_copies, drop_covered, fuse_bin,
                                   is_counted, join_frame_cut, join_standing_halves, merge_cut_tires, pieces_of_whole,
                                   row_copies, select_tracks, tire_shaped)


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


# dev 10038 A01-B01-L3-P1: 7 standing tires of 0.20 m; the last one boxed twice, 6 cm apart
STANDING_COPY = [_t(5.01, 5.22, 2.49, 3.10, 22, 14), _t(5.23, 5.42, 2.48, 3.10, 27, 14), _t(5.44, 5.63, 2.48, 3.09, 28, 15),
                 _t(5.64, 5.83, 2.50, 3.10, 17, 13), _t(5.86, 6.05, 2.49, 3.11, 20, 13), _t(6.07, 6.26, 2.48, 3.10, 26, 14),
                 _t(6.24, 6.43, 2.49, 3.09, 9, 14), _t(6.30, 6.50, 2.46, 3.10, 15, 13)]
# dev 10033 A01-B05-L3-P1: two laced columns of 3 lying tires; the right column's bottom tire boxed twice
LACED_COPY = [_t(2.90, 3.80, 2.46, 2.75, 54, 47), _t(2.97, 3.82, 2.07, 2.35, 23, 25), _t(3.05, 3.92, 2.24, 2.54, 23, 26),
              _t(3.83, 4.76, 2.08, 2.33, 16, 25), _t(3.99, 4.89, 2.45, 2.76, 66, 49), _t(4.03, 4.89, 2.08, 2.34, 23, 27),
              _t(4.05, 4.98, 2.25, 2.54, 30, 26)]
# dev 10038 A01-B03-L2-P2: two laced columns of 6, each tire nested into the one below (IoU up to 0.35)
LACED_TIGHT = [_t(0.13, 0.78, 1.86, 2.08, 17, 17), _t(0.14, 0.79, 1.54, 1.76, 17, 14), _t(0.15, 0.78, 1.27, 1.50, 24, 14),
               _t(0.18, 0.83, 1.36, 1.63, 23, 14), _t(0.21, 0.84, 1.67, 1.90, 29, 21), _t(0.21, 0.85, 1.99, 2.19, 18, 14),
               _t(0.79, 1.44, 1.84, 2.07, 33, 21), _t(0.80, 1.44, 1.28, 1.52, 33, 14), _t(0.79, 1.46, 1.55, 1.79, 19, 14),
               _t(0.85, 1.48, 1.43, 1.65, 18, 14), _t(0.84, 1.49, 1.70, 1.91, 37, 26), _t(0.87, 1.50, 1.98, 2.19, 18, 14)]


# dev 10009 A01-B01-L3-P2 (26 lux): two crowded tires 0.25 m wide, 0.18 m apart, boxed loosely
CROWDED_LOOSE = [_t(4.79, 5.08, 3.85, 4.52, 13, 23), _t(4.89, 5.25, 3.86, 4.52, 22, 23)]


@pytest.mark.parametrize("tracks,count,dropped", [
    (STANDING_COPY, 7, STANDING_COPY[6]),  # the copy seen in fewer frames goes
    (LACED_COPY, 6, LACED_COPY[3]),
    (LACED_TIGHT, 12, None),
    (CROWDED_LOOSE, 2, None),
])
def test_a_tire_boxed_twice_half_a_tire_apart_counts_once_a_laced_stack_keeps_its_count(tracks, count, dropped):
    out = drop_copies(tracks)
    assert len(out) == count
    assert dropped is None or dropped not in out
    assert len(select_tracks(tracks)[0]) == count


def _iou(a: TireTrack, b: TireTrack) -> float:
    xyxy = np.array([[t.u0_m, t.v0_m, t.u1_m, t.v1_m] for t in (a, b)])
    return float(box_iou(xyxy[:1], xyxy[1:])[0, 0])


def test_distinct_tires_overlap_less_than_copies_of_one():
    worst_distinct = max(_iou(a, b) for ts in (LACED_TIGHT, CROWDED_LOOSE) for a in ts for b in ts if a is not b)
    copies = [_iou(STANDING_COPY[6], STANDING_COPY[7]), _iou(LACED_COPY[3], LACED_COPY[5])]
    assert worst_distinct < min(copies)


@pytest.mark.parametrize("score,counted", [(0.36, False), (0.47, False), (0.53, True), (0.84, True)])
def test_a_box_the_detector_scores_low_in_many_frames_is_not_a_tire(score, counted):
    # dev 10017 A01-B03-L2-P1: an empty bin at 38 lux where a box was drawn in 9 of 16 frames at 0.36
    box = TireTrack(**{**_t(7.57, 8.34, 1.59, 2.06, 9, 16).__dict__, "score": score})
    assert is_counted(box) is counted
    assert fuse_bin("A01-B03-L2-P1", [box], set(range(16))).count == int(counted)


# dev 10042 A01-B01-L1-P2: six crowded standing tires 0.20 m wide and, at the bay's edge, an upright
# 10 cm wide boxed in two pieces of 0.6 m that ``merge_cut_tires`` joins into one 1.2 m tall
UPRIGHT_ROW = [_t(6.19, 6.29, 0.60, 1.22, 18, 26), _t(6.19, 6.29, 0.03, 0.69, 15, 26),
               _t(6.52, 6.73, 0.14, 0.77, 51, 26), _t(6.67, 6.85, 0.15, 0.76, 41, 25), _t(6.79, 7.00, 0.14, 0.77, 53, 25),
               _t(6.94, 7.12, 0.15, 0.77, 44, 26), _t(7.06, 7.28, 0.14, 0.77, 53, 26), _t(7.22, 7.40, 0.14, 0.77, 47, 26)]
# dev 10038 A01-B01-L2-P1: five crowded tires 0.21 m wide, 0.15 m apart; one loose box 0.27 m wide spans
# the second and third and lies over their own boxes (the bin counted 4 at 0.92 before)
CROWDED_SPANNED = [_t(5.70, 5.92, 1.30, 1.95, 25, 15), _t(5.83, 6.03, 1.31, 1.94, 16, 14), _t(5.91, 6.18, 1.30, 1.94, 23, 14),
                   _t(6.05, 6.27, 1.31, 1.95, 19, 14), _t(6.19, 6.38, 1.32, 1.94, 15, 13), _t(6.31, 6.54, 1.31, 1.95, 23, 13)]
# dev 10038 A01-B03-L3-P1: six packed tires 0.24 m wide; a box over the seam of the last two, seen
# in 12 frames against their 29, lies 85% under them
SEAM_ROW = [_t(1.73, 1.96, 2.46, 3.16, 34, 14), _t(1.97, 2.20, 2.47, 3.17, 36, 15), _t(2.22, 2.45, 2.47, 3.17, 38, 15),
            _t(2.47, 2.70, 2.48, 3.17, 30, 13), _t(2.72, 2.96, 2.48, 3.17, 29, 14), _t(2.92, 3.12, 2.46, 3.16, 12, 14),
            _t(2.99, 3.22, 2.47, 3.18, 29, 13)]
# dev 10038 A01-B03-L3-P2: laced columns of 6 and 2; the tires of a column lie over one another across
# the face (92%), the lower ones seen in fewer frames: all count
LACED_EIGHT = [_t(0.11, 0.76, 2.71, 2.94, 18, 14), _t(0.12, 0.78, 2.97, 3.22, 37, 22), _t(0.16, 0.79, 2.50, 2.79, 35, 15),
               _t(0.17, 0.82, 2.84, 3.06, 17, 14), _t(0.19, 0.83, 3.14, 3.36, 35, 18), _t(0.79, 1.42, 2.43, 2.66, 37, 27),
               _t(0.86, 1.51, 2.59, 2.79, 18, 14), _t(0.11, 0.75, 2.44, 2.66, 17, 26)]


@pytest.mark.parametrize("tracks,count,gone", [
    (UPRIGHT_ROW, 6, UPRIGHT_ROW[:2]),  # 1.2 m by 0.1 m: no tire is that shape
    (CROWDED_SPANNED, 5, [CROWDED_SPANNED[2]]),  # the spanning box goes, not the two tires under it
    (SEAM_ROW, 6, [SEAM_ROW[5]]),
    (LACED_EIGHT, 8, []),
])
def test_uprights_spanning_boxes_and_seam_boxes_are_not_tires_laced_stacks_keep_their_count(tracks, count, gone):
    counted = select_tracks(tracks)[0]
    assert len(counted) == count
    assert not any(c.u0_m == g.u0_m and c.v0_m == g.v0_m for g in gone for c in counted)


@pytest.mark.parametrize("w_m,h_m,shaped", [
    (0.165, 0.57, True),  # 165/65R14 standing: 3.45
    (0.19, 0.80, True),  # 7.50R16 standing: 4.2
    (0.63, 0.20, True),  # lying
    (0.10, 1.18, False),  # an upright
    (0.09, 0.30, False),  # a sliver
    (1.20, 0.12, False),  # a beam's edge
])
def test_only_a_box_shaped_as_some_tire_can_count(w_m, h_m, shaped):
    box = _t(1.0, 1.0 + w_m, 0.2, 0.2 + h_m)
    assert tire_shaped(box) is shaped
    assert is_counted(box) is shaped


def _piece(u0, u1, v0, v1, frames, expected, real_v):
    """A track whose bottom / top edge (``real_v``) its sightings saw off the image border or not."""
    return TireTrack(face_id="F", u0_m=u0, u1_m=u1, v0_m=v0, v1_m=v1, frames=tuple(frames), gtins=(), score=0.85,
                     n_expected=expected, edges_real=(0.9, 0.9, *real_v))


LOWER, UPPER = (1.0, 0.0), (0.0, 1.0)  # a tire's lower part at the top edge of a pass's frames; its upper part
# dev 10021 A01-B03-L7-P1: two standing tires of 0.76 m on the top level (7.2-8.4 m); the pass below saw
# each one's lower part, the pass above its upper part, shifted 5 cm across by the drift between them
TOP_LEVEL = [_piece(2.425, 2.696, 7.759, 8.251, range(807, 817), 10, UPPER),
             _piece(2.480, 2.740, 7.465, 7.931, range(768, 778), 10, LOWER),
             _piece(2.707, 2.975, 7.761, 8.251, range(808, 819), 9, UPPER),
             _piece(2.756, 3.021, 7.462, 7.933, range(766, 776), 10, LOWER)]
# dev 10021 A01-B03-L3-P3: one tire whose middle no pass saw (pieces 9 cm apart, u IoU 0.96)
GAP = [_piece(0.946, 1.218, 2.583, 3.046, range(249, 269), 9, LOWER), _piece(0.951, 1.227, 3.140, 3.366, range(381, 392), 18, UPPER)]
# dev 10021 A01-B01-L7-P2: the drift shifted the pieces 9 cm apart across the face (u IoU 0.49)
SHIFTED = [_piece(8.243, 8.510, 7.753, 8.245, range(843, 853), 10, UPPER), _piece(8.336, 8.601, 7.462, 7.943, range(731, 742), 9, LOWER)]
# dev 10059 A01-B03-L5-P2: a standing tire 1.05 m tall, taller than a frame sees: the passes above saw
# its top in half their frames and its bottom in none, the pass below its bottom and never its top
TALLER_THAN_A_FRAME = [_piece(8.540, 8.840, 6.594, 7.173, range(957, 978), 10, (0.0, 0.48)),
                       _piece(8.562, 8.847, 6.117, 6.528, range(843, 853), 18, (1.0, 0.0))]
# dev 10135 A01-B05-L3-P1: two lying tires (0.265 m) of a stack of four, each seen whole in 43 frames and at
# a frame's edge in the others; joined, they would make a box 0.55 m tall and 0.81 m wide, no lying tire's shape
STACKED = [_piece(4.628, 5.438, 3.620, 3.927, range(788, 831), 23, (1.0, 0.49)),
           _piece(4.624, 5.433, 3.867, 4.170, range(898, 941), 16, (0.49, 1.0))]
# dev 10004 A01-B02-L2-P1 (dim): two stray boxes, each seen in under half the frames that had it in view
STRAYS = [_piece(3.271, 3.674, 1.401, 1.835, range(126, 130), 9, LOWER), _piece(3.397, 3.701, 1.900, 2.569, (168, 169), 10, UPPER)]


@pytest.mark.parametrize("tracks,count", [
    (TOP_LEVEL, 2),
    (GAP, 1),
    (SHIFTED, 1),
    (TALLER_THAN_A_FRAME, 1),
    (STRAYS, 0),  # joined, still too weakly seen: the frames that had it in view are both pieces'
    # the same pieces, their clipped edges seen: two tires (one above the other), not pieces of one
    ([replace(t, edges_real=(0.9, 0.9, 1.0, 1.0)) for t in GAP], 2),
    # pieces of two tires side by side (u IoU 0.2): not joined
    ([TOP_LEVEL[0], replace(TOP_LEVEL[1], u0_m=2.62, u1_m=2.88)], 2),
    # a lying tire's pieces 9 cm apart: only standing tires are joined across a gap
    ([_piece(0.10, 0.80, 1.40, 1.55, range(10), 10, LOWER), _piece(0.10, 0.80, 1.64, 1.80, range(40, 50), 10, UPPER)], 2),
    # a lying tire's pieces overlapping: one tire, as wide as a lying tire for its height
    ([_piece(0.10, 0.80, 1.40, 1.55, range(10), 10, LOWER), _piece(0.10, 0.80, 1.50, 1.65, range(40, 50), 10, UPPER)], 1),
    (STACKED, 2),
])
def test_a_tire_cut_by_the_frame_edge_in_two_passes_counts_once(tracks, count):
    assert len(select_tracks(tracks)[0]) == count


def test_a_joined_tire_spans_both_pieces_at_their_mean_width():
    (one,) = join_frame_cut(SHIFTED)
    assert (one.v0_m, one.v1_m) == (7.462, 8.245)
    assert one.u0_m == pytest.approx((8.243 + 8.336) / 2) and one.u1_m == pytest.approx((8.510 + 8.601) / 2)
    assert len(one.frames) == 21 and one.n_expected == 19 and one.edges_real[2:] == (1.0, 1.0)


def test_each_piece_joins_once_the_best_column_first():
    # a crowded neighbour's upper piece (u IoU 0.45) beside the tire's own (0.84)
    low = _piece(2.48, 2.74, 7.46, 7.93, range(10), 10, LOWER)
    own, other = _piece(2.46, 2.72, 7.76, 8.25, range(20, 30), 10, UPPER), _piece(2.62, 2.88, 7.76, 8.25, range(20, 30), 10, UPPER)
    out = join_frame_cut([low, other, own])
    assert len(out) == 2 and other in out


# dev 10051 A01-B03-L5-P1: three standing tires (0.195 m), each seen as a lower piece on one pass and
# an upper piece on the next, 5 cm apart across the face; one more upper box seen once
ROW_IN_PIECES = [_piece(2.102, 2.291, 5.249, 5.710, range(306, 312), 7, UPPER), _piece(2.153, 2.346, 5.089, 5.451, range(285, 291), 11, LOWER),
                 _piece(2.305, 2.494, 5.247, 5.704, range(307, 312), 7, UPPER), _piece(2.357, 2.548, 5.080, 5.442, range(284, 290), 10, LOWER),
                 _piece(2.374, 2.563, 5.297, 5.751, (312,), 6, UPPER), _piece(2.523, 2.722, 5.258, 5.715, range(308, 314), 6, UPPER),
                 _piece(2.564, 2.755, 5.069, 5.432, range(283, 289), 9, LOWER)]
# dev 10051 A01-B01-L3-P1: three standing tires seen whole; the lower 0.16 m of the middle one at the
# top edge of three frames, lying in the row's gap between the boxes of the two others' sides
ROW_AND_PIECE = [_piece(7.781, 8.003, 2.609, 3.280, range(10), 6, (1.0, 0.6)), _piece(8.007, 8.240, 2.623, 3.279, range(7), 6, (1.0, 0.86)),
                 _piece(8.050, 8.280, 2.544, 2.702, range(20, 23), 12, LOWER), _piece(8.262, 8.494, 2.609, 3.286, range(11), 6, (0.82, 0.73))]
# dev 10050 A01-B03-L3-P1: a standing tire 0.75 m tall seen in 21 frames and a box seen once over its top
PILLAR = [_piece(3.901, 4.123, 2.728, 3.467, range(21), 9, (0.52, 0.48)), _piece(3.935, 4.121, 3.272, 3.992, (30,), 10, (1.0, 1.0))]


@pytest.mark.parametrize("tracks,count", [
    (ROW_IN_PIECES, 3),  # the box seen once joins nothing: each tire's own pieces join
    (ROW_AND_PIECE, 3),  # the piece of a counted tire is not a tire hidden in the row
    (PILLAR, 1),  # the two would make a 1.26 m pillar: not joined, the tire counts
])
def test_pieces_of_counted_tires_and_boxes_seen_once_do_not_add_tires(tracks, count):
    assert len(select_tracks(tracks)[0]) == count


# dev 10166 A01-B01-L7-P1 (18 lux): a standing row of tires 0.77 m tall; the first one boxed as its
# upper 0.31 m and its lower 0.48 m, 0.02 m into each other
HALVES = [_t(3.079, 3.358, 12.30, 12.61), _t(3.090, 3.380, 11.84, 12.32)]
ROW = [_t(3.356, 3.663, 11.84, 12.61), _t(3.631, 3.945, 11.84, 12.61), _t(3.912, 4.224, 11.83, 12.61)]


@pytest.mark.parametrize("tracks,count", [
    (HALVES + ROW, 4),  # the halves make one tire of the row's height
    (HALVES + ROW[:2], 4),  # one other tire clear of the halves: too few to say the row's height
    (HALVES, 2),  # no row to say how tall its tires are
    # beside tires 0.5 m tall, the two boxes (0.77 m together) are no tire of the row: they stay two
    (HALVES + [_t(3.631, 3.945, 11.84, 12.34), _t(3.912, 4.224, 11.84, 12.34)], 4),
])
def test_a_standing_tire_boxed_as_two_halves_counts_once_where_its_row_says_how_tall(tracks, count):
    assert len(select_tracks(tracks)[0]) == count


# dev 10219 A01-B03-L2-P1 (24 lux): three standing 295/80R22.5 tires (1.04 m) in a row, each boxed as a
# lower and an upper piece overlapping by 0.15 m; one pair was already joined, two were counted twice
PIECES = [_t(2.311, 2.648, 2.226, 2.869), _t(2.392, 2.717, 2.716, 3.252), _t(2.612, 2.957, 2.234, 2.870),
          _t(2.683, 3.014, 2.668, 3.246), _t(2.956, 3.294, 2.228, 3.261)]
TRUCK_M = 1.0435  # 22.5 in rim + 2 x 80% of 295 mm


@pytest.mark.parametrize("tracks,diameter_m,count,joined", [
    (PIECES, TRUCK_M, 3, 2),  # every tire of the row in pieces: the SKU's size says how tall one is
    (PIECES, 0.632, 5, 0),  # a 205/55R16 SKU: pieces of 0.64 m are no pieces of it
    (PIECES, 2.0, 5, 0),  # together 1.03 m, half of such a tire: two tires, not one
    # lying tires stacked in one column: wider than tall, never one standing tire
    ([_t(0.10, 1.14, 1.00, 1.30), _t(0.10, 1.14, 1.30, 1.60), _t(0.10, 1.14, 1.60, 1.90)], TRUCK_M, 3, 0),
    # two standing tires side by side, each whole: nothing to join
    ([_t(0.0, 0.3, 1.0, 2.04), _t(0.3, 0.6, 1.0, 2.04)], TRUCK_M, 2, 0),
    # pieces of two neighbouring columns (IoU across the face 0.19): not one tire
    ([_t(2.612, 2.957, 2.234, 2.870), _t(2.392, 2.717, 2.716, 3.252)], TRUCK_M, 2, 0),
])
def test_a_standing_tire_in_pieces_counts_once_where_its_size_says_how_tall(tracks, diameter_m, count, joined):
    got, n = join_standing_halves(tracks, diameter_m)
    assert (len(got), n) == (count, joined)
    if joined:  # each tire whole: as tall as its size says, within a tenth
        assert all(abs(t.h_m - diameter_m) <= 0.1 * diameter_m for t in got)


def test_fuse_bin_joins_the_pieces_where_the_catalogue_gives_the_size():
    tracks = [replace(t, gtins=("08937900435163",)) for t in PIECES]
    g2s = {"08937900435163": "421900001"}
    obs = fuse_bin("A01-B03-L2-P1", tracks, set(range(20)), gtin_to_sku=g2s, diameter_of={"421900001": TRUCK_M})
    assert obs.count == obs.evidence.count == 3 and "halves_joined" in obs.reason and obs.sku == "421900001"
    obs = fuse_bin("A01-B03-L2-P1", tracks, set(range(20)), gtin_to_sku=g2s)  # no size known: as before
    assert obs.count == 5 and "halves_joined" not in obs.reason


# dev 10337 A01-B01-L2-P1 (495 lux): four 295/80R22.5 tires packed in a row; the second boxed as a lower 0.65 m
# piece and, weakly, its top 0.20 m, which stood in the row's gap between the first and third at the top's
# height and was counted as a tire hidden behind them (5 of 4 at 0.98)
ROW_10337 = [_t(10.454, 10.780, 1.783, 2.852), _t(10.784, 11.079, 1.845, 2.491),
             replace(_t(10.770, 11.070, 2.652, 2.849, n=6, expected=10), score=0.39),
             _t(11.080, 11.387, 1.781, 2.846), _t(11.388, 11.691, 1.784, 2.830)]


@pytest.mark.parametrize("diameter_of, count, reason", [
    ({"433700002": TRUCK_M}, 4, "halves_joined"),
    ({}, 5, "hidden_in_row"),  # no size known: the top still fills the gap
])
def test_a_tire_hidden_in_the_row_that_completes_a_counted_piece_is_that_tire(diameter_of, count, reason):
    tracks = [replace(t, gtins=("08937900435163",)) for t in ROW_10337]
    obs = fuse_bin("A01-B01-L2-P1", tracks, set(range(20)), gtin_to_sku={"08937900435163": "433700002"},
                   diameter_of=diameter_of)
    assert obs.count == obs.evidence.count == count
    assert reason in obs.reason and ("hidden_in_row" in obs.reason) == (count == 5)
    assert obs.evidence.n_hidden == (count == 5)


# dev 10166 A01-B01-L6-P1 (18 lux): eight standing tires 0.75 m tall in a packed row; the fourth boxed as a
# lower and an upper piece 0.23 m apart, its label read between them (counted 9 of 8 at 0.93)
ROW_10166 = [_t(3.428, 3.694, 9.878, 10.630), _t(3.687, 3.956, 9.877, 10.630), _t(3.948, 4.215, 9.879, 10.631),
             _t(4.207, 4.470, 9.881, 10.223), _t(4.214, 4.480, 10.454, 10.635), _t(4.469, 4.741, 9.879, 10.624),
             _t(4.727, 4.999, 9.879, 10.628), _t(4.988, 5.255, 9.879, 10.628), _t(5.244, 5.515, 9.878, 10.629)]
GTIN_10166 = "08930646216119"


def _item(u, v):
    return ItemLabel(face_id="F", gtin=GTIN_10166, serial="000412", u_m=u, v_m=v, frames=(3, 4, 5))


@pytest.mark.parametrize("case, drop, label, count, hidden", [
    ("the label between the two pieces of a tire: its own", (), _item(4.344, 10.34), 8, False),
    ("the same label on the lower piece", (), _item(4.344, 10.10), 8, False),
    # the pieces not counted: the column is an open gap of 0.25 m between tires 0.27 m wide, the
    # look of a crowded row whose back tire's label alone was read
    ("no box in the gap: a tire behind the row", (3, 4), _item(4.344, 10.34), 8, True),
])
def test_a_label_between_the_pieces_of_a_counted_tire_is_no_tire_behind_the_row(case, drop, label, count, hidden):
    tracks = [replace(t, gtins=(GTIN_10166,) * 3) for i, t in enumerate(ROW_10166) if i not in drop]
    obs = fuse_bin("A01-B01-L6-P1", tracks, set(range(20)), labels=[label],
                   gtin_to_sku={GTIN_10166: "416600002"}, diameter_of={"416600002": 0.752})
    assert obs.count == count, case
    assert ("hidden_in_row" in obs.reason) == hidden, case
    assert ("halves_joined" in obs.reason) == (not drop), case


# dev 10219 A01-B01-L2-P1 (24 lux): four standing 295/80R22.5 tires counted whole, and the lower 0.24 m of
# the last one boxed on its own as well (counted 5 of 4 at 0.86)
WHOLE_10219 = [_t(4.208, 4.537, 2.227, 3.242), _t(4.482, 4.868, 2.240, 3.248), _t(4.799, 5.173, 2.243, 3.239),
               _t(5.125, 5.471, 2.279, 3.255)]
PIECE_10219 = _t(5.112, 5.437, 2.216, 2.451)
# dev 10209 A01-B07-L1-P1 (13 lux): a 215/60R16 tire (0.66 m) counted whole and its upper 0.18 m again
WHOLE_10209, PIECE_10209 = _t(0.491, 0.705, 0.129, 0.746), _t(0.540, 0.754, 0.605, 0.789)
D_215_60R16 = 0.6644
# dev 10329 A01-B01-L6-P2: two 295/80R22.5 tires side by side, the second boxed whole but 0.12 m short of its
# bottom, and its lowest 0.17 m boxed as well, a third of it within the whole box (counted 3 of 2 at 0.96)
PAIR_10329 = [_t(7.373, 7.672, 7.792, 8.862), _t(7.674, 7.979, 7.907, 8.862)]
PIECE_10329 = _t(7.682, 7.980, 7.790, 7.960)


@pytest.mark.parametrize("case, tracks, diameter_m, pieces", [
    ("the lower part of a whole truck tire", WHOLE_10219 + [PIECE_10219], TRUCK_M, [PIECE_10219]),
    ("the upper part of a whole car tire", [WHOLE_10209, PIECE_10209], D_215_60R16, [PIECE_10209]),
    ("a size twice as tall: nothing counted whole", WHOLE_10219 + [PIECE_10219], 2 * TRUCK_M, []),
    ("the piece beside the tire, not in its column", [WHOLE_10209, replace(PIECE_10209, u0_m=0.72, u1_m=0.93)],
     D_215_60R16, []),
    ("the piece only touching the tire's top", [WHOLE_10209, replace(PIECE_10209, v0_m=0.70, v1_m=0.88)],
     D_215_60R16, []),
    # a lying tire of the size (as wide as the tire is tall) in a standing tire's column is a tire
    ("a lying tire of the size", [WHOLE_10209, _t(0.30, 0.95, 0.60, 0.81)], D_215_60R16, []),
    ("whole tires only", WHOLE_10219, TRUCK_M, []),
    ("the lowest part of a tire boxed whole but short, mostly below it", PAIR_10329 + [PIECE_10329], TRUCK_M,
     [PIECE_10329]),
    # 0.09 m lower, the two boxes together are taller than one tire has room for (1.16 m of 1.04 m)
    ("the same box further down", PAIR_10329 + [replace(PIECE_10329, v0_m=7.700, v1_m=7.870)], TRUCK_M, []),
])
def test_a_piece_of_a_standing_tire_counted_whole_is_no_tire(case, tracks, diameter_m, pieces):
    assert pieces_of_whole(tracks, diameter_m) == pieces, case


@pytest.mark.parametrize("boxes, diameter_of, count", [
    (WHOLE_10219 + [PIECE_10219], {"421900001": TRUCK_M}, 4), (WHOLE_10219 + [PIECE_10219], {}, 5),
    (PAIR_10329 + [PIECE_10329], {"421900001": TRUCK_M}, 2), (PAIR_10329 + [PIECE_10329], {}, 3),
])
def test_fuse_bin_drops_the_piece_where_the_catalogue_gives_the_size(boxes, diameter_of, count):
    tracks = [replace(t, gtins=("08937900435163",)) for t in boxes]
    obs = fuse_bin("A01-B01-L2-P1", tracks, set(range(20)), gtin_to_sku={"08937900435163": "421900001"},
                   diameter_of=diameter_of)
    assert obs.count == obs.evidence.count == count
    assert ("piece_of_whole" in obs.reason) == bool(diameter_of)


# boxes near one standing tire of the size (0.25-0.45 m wide, 0.91-1.09 of the diameter tall at u 1.0, v 1.0: inside
# the 0.1 tolerance, not on its edge, where rounding decides whether the tire counts whole)
_near = st.tuples(st.floats(0.6, 1.6), st.floats(0.05, 1.2), st.floats(0.4, 2.2), st.floats(0.05, 1.2))


@settings(max_examples=150, deadline=None)
@given(st.floats(0.4, 1.2), st.floats(0.25, 0.45), st.floats(0.91, 1.09), st.lists(_near, max_size=6))
def test_pieces_of_whole_are_only_ever_parts_of_a_whole_standing_tire(diameter_m, w_m, tall, boxes):
    tracks = [_t(1.0, 1.0 + w_m, 1.0, 1.0 + tall * diameter_m)] + [_t(u, u + w, v, v + h) for u, w, v, h in boxes]
    pieces = pieces_of_whole(tracks, diameter_m)
    for p in pieces:  # no tire of the size itself, and inside the height of one that is, or with it no taller than one
        assert p in tracks and p.h_m < 0.9 * diameter_m and p.w_m < 0.9 * diameter_m
        assert any(abs(t.h_m - diameter_m) <= 0.1 * diameter_m and t.h_m >= 1.2 * t.w_m and t not in pieces
                   and (min(p.v1_m, t.v1_m) - max(p.v0_m, t.v0_m) >= 0.5 * p.h_m
                        or max(p.v1_m, t.v1_m) - min(p.v0_m, t.v0_m) <= 1.1 * diameter_m) for t in tracks)
    small = [t for t in tracks[1:] if t.h_m < 0.9 * diameter_m and t.w_m < 0.9 * diameter_m]
    inside = [t for t in small if 1.0 <= t.u0_m and t.u1_m <= 1.0 + w_m and t.w_m >= 0.5 * w_m
              and 1.0 <= t.v0_m and t.v1_m <= 1.0 + tall * diameter_m]
    if tall * diameter_m >= 1.25 * w_m:  # the tire's box is a standing tire's (1.2 times taller than wide, and a margin)
        assert all(t in pieces for t in inside)  # a small box wholly within it is a piece of it


@given(st.floats(-3, 3), st.floats(0.05, 2), st.floats(-3, 3), st.floats(0.05, 2))
def test_v_overlap_is_the_shared_height_or_minus_the_gap(v0a, ha, v0b, hb):
    a, b = _t(0.0, 0.3, v0a, v0a + ha), _t(0.5, 0.8, v0b, v0b + hb)
    o = _v_overlap(a, b)
    assert o == _v_overlap(b, a) and o <= min(a.h_m, b.h_m) + 1e-12
    inside = [v for v in np.linspace(-3, 5, 801) if a.v0_m <= v <= a.v1_m and b.v0_m <= v <= b.v1_m]
    if o > 0.02:  # boxes sharing height share the grid's heights there, and no others
        assert inside and abs((max(inside) - min(inside)) - o) <= 0.0201  # two grid steps
    elif o < -0.02:  # apart: the gap is the space between the lower box's top and the upper's bottom
        assert not inside and abs(-o - (max(a.v0_m, b.v0_m) - min(a.v1_m, b.v1_m))) < 1e-12
    assert _same_row(a, b) == (o > 0.5 * min(a.h_m, b.h_m))


# dev 10266 A01-B03-L2-P1 (20 lux): five standing 215/75R17.5 tires, the last boxed again 0.11 m to its right
# in 14 frames of its 44 (and scored 0.62 against 0.85), counted as a sixth tire
ROW_10266 = [_t(6.899, 7.114, 2.110, 2.851, 54), _t(7.129, 7.344, 2.110, 2.852, 54), _t(7.363, 7.574, 2.106, 2.855, 54),
             _t(7.588, 7.801, 2.115, 2.853, 53), _t(7.802, 8.012, 2.101, 2.853, 44), _t(7.904, 8.106, 2.093, 2.859, 14)]
# the crowded row above: neighbours a third to four tenths of a width into each other
CROWDED = [_t(7.58, 7.80, 1.87, 2.60), _t(7.73, 7.93, 1.86, 2.60), _t(7.88, 8.10, 1.86, 2.60), _t(8.01, 8.22, 1.87, 2.59),
           _t(8.17, 8.40, 1.86, 2.60), _t(8.31, 8.54, 1.89, 2.59)]


@pytest.mark.parametrize("case, tracks, copies", [
    ("a tire boxed again half a width aside", ROW_10266, [(ROW_10266[-1], ROW_10266[-2])]),
    ("the better seen box stays whichever side", [ROW_10266[-1], replace(ROW_10266[-2], frames=tuple(range(8)))],
     [(replace(ROW_10266[-2], frames=tuple(range(8))), ROW_10266[-1])]),
    ("a crowded row", CROWDED, []),
    ("the same boxes in two rows", [ROW_10266[4], replace(ROW_10266[5], v0_m=3.0, v1_m=3.75)], []),
    ("lying tires overlapping in a laced stack", [_t(0.13, 0.78, 1.86, 2.08), _t(0.21, 0.85, 1.99, 2.19)], []),
])
def test_two_boxes_of_a_standing_row_more_than_half_a_tire_into_each_other_are_one_tire(case, tracks, copies):
    assert row_copies(tracks) == copies, case


def test_fuse_bin_drops_the_row_copy_and_doubts_the_count():
    obs = fuse_bin("A01-B03-L2-P1", ROW_10266, set(range(60)))
    assert obs.count == obs.evidence.count == 5 and obs.evidence.n_row_copies == 1
    assert "row_copy" in obs.reason.split(";") and obs.confidence <= 0.89  # counted, not trusted at 0.9
    assert fuse_bin("A01-B03-L2-P1", CROWDED, set(range(60))).count == 6
    # the exported tracks (tracks.parquet, the replay's boxes) say so too: the copy is not counted
    exported = _export_tracks({"A01-B03-L2-P1": ROW_10266}, {obs.bin_id: obs.counted})
    assert [counted for _, _, counted in exported] == [True] * 5 + [False]


def test_a_row_copys_label_reads_are_its_tires():
    # the only label read in the bin was read on the copy: the tire's SKU all the same
    tracks = ROW_10266[:-1] + [replace(ROW_10266[-1], gtins=("04012345678901",) * 3)]
    obs = fuse_bin("A01-B03-L2-P1", tracks, set(range(60)), gtin_to_sku={"04012345678901": "SKU-1"})
    assert obs.count == 5 and obs.sku == "SKU-1" and "no_label_read" not in obs.reason


_row_box = st.tuples(st.floats(0.0, 3.0), st.floats(0.13, 0.35), st.floats(0.0, 0.1), st.integers(1, 60))


@given(st.lists(_row_box, max_size=8))
def test_a_row_copy_is_the_weaker_of_two_standing_boxes_of_a_row_over_half_into_each_other(boxes):
    tracks = [_t(u, u + w, dv, dv + 0.6, n) for u, w, dv, n in boxes]
    pairs = row_copies(tracks)
    copies = [c for c, _ in pairs]
    kept = [t for t in tracks if all(t is not c for c in copies)]
    for c, twin in pairs:  # each dropped box overlaps the box kept for it by more than half the narrower, and is weaker
        assert twin is not c and min(c.u1_m, twin.u1_m) - max(c.u0_m, twin.u0_m) > 0.5 * min(c.w_m, twin.w_m)
        assert (len(c.frames), c.support, c.score) <= (len(twin.frames), twin.support, twin.score)
    for i, a in enumerate(kept):  # and no two kept boxes do
        assert all(min(a.u1_m, b.u1_m) - max(a.u0_m, b.u0_m) <= 0.5 * min(a.w_m, b.w_m) for b in kept[i + 1:])
