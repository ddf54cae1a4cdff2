"""A box the detector put over the seam of two packed tires is a piece of them, not a tire."""

import pytest

from slam_fusion.core.fuse import TireTrack, is_fragment, select_tracks


def _t(u0, u1, v0=1.62, v1=2.26, n=10, expected=10):
    return TireTrack(face_id="F", u0_m=u0, u1_m=u1, v0_m=v0, v1_m=v1, frames=tuple(range(n)), gtins=(), score=0.8,
                     n_expected=expected)


ROW = [_t(0.041, 0.318), _t(0.300, 0.562), _t(0.544, 0.798)]  # packed standing tires, 0.23-0.26 m wide


@pytest.mark.parametrize("track,fragment", [
    (_t(0.235, 0.345, n=3, expected=6), True),  # over the seam of the first two (the SITL A01 bin counted 6 of 5)
    (_t(0.80, 1.05), False),  # the next tire in the row: beside, not over
    (_t(0.30, 0.41), False),  # narrow, but half of it open space? no: inside the second tire only ... see below
    (_t(0.62, 0.70), True),  # a sliver inside one tire's box
    (_t(0.235, 0.345, v0=0.2, v1=0.8), False),  # another row
])
def test_fragments(track, fragment):
    row = ROW if track.u0_m != 0.30 else [ROW[0], _t(0.43, 0.69), ROW[2]]  # a gap at 0.318-0.43: the track half in it
    assert is_fragment(track, row + [track]) == fragment


def test_a_fragment_is_not_counted_but_a_tire_behind_a_crowded_row_still_is():
    counted, hidden, weak = select_tracks(ROW + [_t(0.235, 0.345, n=3, expected=6)])
    assert len(counted) == 3
    # a crowded row: front tires apart, the back one seen through the gap between them (hidden_in_row)
    front = [_t(0.00, 0.225), _t(0.40, 0.625)]
    back = _t(0.24, 0.385, n=3, expected=10)
    counted, hidden, _ = select_tracks(front + [back])
    assert len(counted) == 3 and hidden == [back]
