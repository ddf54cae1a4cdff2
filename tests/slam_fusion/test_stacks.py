"""A plain stack of lying tires holds as many tires as its height has room for, given the tire size
the bin's label names; a laced stack, a column with a stray box above it, or a bin of unknown size
keeps its track count. Geometry from dev worlds 10019 and 10038 (A01, first face)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slam_fusion.core.fuse import (PALLET_HEIGHT_M, ItemLabel, TireTrack, fuse_bin, in_stacks, stack_counts,
                                   tires_between_labels, tires_under_labels)
from slam_fusion.errors import FusionError
from slam_fusion.tools.io import read_catalogue, read_sections


def _t(u0, u1, v0, v1, n=11, expected=10, gtin=""):
    return TireTrack(face_id="F", u0_m=u0, u1_m=u1, v0_m=v0, v1_m=v1, frames=tuple(range(n)), gtins=(gtin,) * bool(gtin),
                     score=0.8, n_expected=expected, expected_frames=tuple(range(expected)))


# dev 10038 A01-B03-L5-P1: two columns of 4 lying 195 mm tires (4.77-5.61 m); a box over a seam in each
SEAMS = [_t(1.810, 2.440, 5.047, 5.232), _t(1.810, 2.442, 5.230, 5.441), _t(1.807, 2.447, 5.404, 5.609),
         _t(1.847, 2.458, 4.770, 4.984), _t(1.846, 2.463, 4.944, 5.161), _t(2.464, 3.121, 5.392, 5.596),
         _t(2.467, 3.122, 5.207, 5.417), _t(2.485, 3.112, 4.776, 4.986), _t(2.484, 3.117, 4.943, 5.184),
         _t(2.500, 3.112, 5.116, 5.250)]
# dev 10019 A01-B05-L3-P2 (a dim corner): a column of 6 lying 225 mm tires of which 4 were tracked,
# beside a column of 3 and a loose box 0.72 m tall over the top of that one (no lying tire's shape)
HIDDEN = [_t(0.16, 0.79, 3.79, 4.08), _t(0.17, 0.79, 4.02, 4.29), _t(0.18, 0.82, 4.24, 4.96), _t(0.19, 0.81, 3.59, 3.85),
          _t(0.81, 1.47, 3.75, 4.21), _t(0.84, 1.48, 3.58, 3.90), _t(0.85, 1.49, 4.24, 4.51), _t(0.88, 1.51, 4.68, 4.93),
          _t(0.92, 1.54, 4.36, 4.76)]
# dev 10038 A01-B03-L2-P2: two laced columns of 6 (195 mm), each tire nested into the one below
LACED = [_t(0.13, 0.78, 1.86, 2.08), _t(0.14, 0.79, 1.54, 1.76), _t(0.15, 0.78, 1.27, 1.50), _t(0.18, 0.83, 1.36, 1.63),
         _t(0.21, 0.84, 1.67, 1.90), _t(0.21, 0.85, 1.99, 2.19), _t(0.79, 1.44, 1.84, 2.07), _t(0.80, 1.44, 1.28, 1.52),
         _t(0.79, 1.46, 1.55, 1.79), _t(0.85, 1.48, 1.43, 1.65), _t(0.84, 1.49, 1.70, 1.91), _t(0.87, 1.50, 1.98, 2.19)]
# dev 10272 A01-B04-L4-P1: a plain column of 6 lying 295/80R22.5 tires (6.09-7.85 m) and a box 0.53 m tall over
# the seam of two of them (no lying tire's shape), counted as a seventh
SEAM_10272 = [_t(1.322, 2.104, 6.752, 7.282), _t(1.379, 2.290, 7.251, 7.574), _t(1.409, 2.360, 6.089, 6.379),
              _t(1.411, 2.338, 7.554, 7.851), _t(1.420, 2.373, 6.353, 6.680), _t(1.463, 2.375, 6.650, 6.970),
              _t(1.521, 2.365, 6.938, 7.252)]
# fresh dev 10364 A01-B01-L2-P1: a column of 3 lying tires 1.05 m wide (0.2794 m sections), and the left 0.57 m of
# the top one, boxed in the frames that cut its right side off (0.42 IoU with the tire's own box)
CUT_10364 = [_t(4.547, 5.112, 2.865, 3.144), _t(4.658, 5.620, 2.306, 2.605), _t(4.743, 5.613, 2.583, 2.903),
             _t(4.773, 5.613, 2.876, 3.182)]
# fresh dev 10372 A01-B01-L3-P1: a plain column of 2 lying tires (0.215 m sections, 3.226-3.656 m) and a box over their
# seam, all three within 0.03 m of one another across the face: it steps up 0.60 sections a box, as a laced stack
# does, but does not sway (counted 3 at 0.94)
SEAM_10372 = [_t(11.885, 12.683, 3.475, 3.693), _t(11.886, 12.687, 3.334, 3.503), _t(11.918, 12.685, 3.216, 3.427)]
# the same boxes swayed as a laced stack's, an eighth of a diameter to one side and the other
SWAYED_10372 = [_t(11.885, 12.683, 3.475, 3.693), _t(11.986, 12.787, 3.334, 3.503), _t(11.918, 12.685, 3.216, 3.427)]
# a plain column of 3 (0.20 m) with a stray box half a tire above it: 3.5 sections tall, no whole number
STRAY = [_t(0.1, 0.7, 1.0, 1.2), _t(0.1, 0.7, 1.2, 1.4), _t(0.1, 0.7, 1.4, 1.6), _t(0.1, 0.7, 1.6, 1.7)]


@pytest.mark.parametrize("tracks,section_m,columns", [
    (SEAMS, 0.195, [(5, 4), (5, 4)]),
    (HIDDEN, 0.225, [(3, 3), (4, 6)]),
    (LACED, 0.195, []),
    (SEAM_10372, 0.215, [(3, 2)]),  # steps up as laced ones do without swaying: a plain stack of 2
    (SWAYED_10372, 0.215, []),
    (STRAY, 0.20, []),
    ([_t(0.1, 0.7, 1.0, 1.2)], 0.20, []),  # one box is no column
    ([_t(0.1, 0.3, 1.0, 1.6), _t(0.3, 0.5, 1.0, 1.6)], 0.20, []),  # standing tires are counted by their boxes
])
def test_a_lying_column_holds_its_height_in_tires(tracks, section_m, columns):
    assert [(len(c), n) for c, n in stack_counts(tracks, section_m)] == columns


@pytest.mark.parametrize("tracks,section_m,count,reason", [
    (SEAMS, 0.195, 8, True),
    # the 0.46 m box in the column of 6 lies within it: 10, where the truth is 12 (the loose box over the column of
    # 3 hides three more); 11 before that box was dropped (``in_stacks``), wrong either way
    (HIDDEN, 0.225, 10, True),
    (SEAM_10272, 0.295, 6, False),
    (SEAM_10272, None, 7, False),
    (LACED, 0.195, 12, False),
    (SEAMS, None, 10, False),  # the catalogue gives no size for the SKU
    (CUT_10364, 0.2794, 3, False),  # the piece is within the stack: 3 of 3 (4 at 0.96 before)
    (SEAM_10372, 0.215, 2, True),  # 3 at 0.94 before
])
def test_fuse_bin_counts_a_stack_by_its_height_where_the_size_is_known(tracks, section_m, count, reason):
    tracks = [_t(t.u0_m, t.u1_m, t.v0_m, t.v1_m, gtin="04012345678901") for t in tracks]
    sections = {"SKU-1": section_m} if section_m else {}
    obs = fuse_bin("A01-B03-L5-P1", tracks, set(range(20)), gtin_to_sku={"04012345678901": "SKU-1"}, section_of=sections)
    assert obs.count == count and obs.sku == "SKU-1"
    assert ("stack_height" in obs.reason) is reason
    assert obs.evidence.count == count


def test_the_catalogue_gives_each_sku_its_section_width(tmp_path):
    p = tmp_path / "catalogue.csv"
    p.write_text("sku,gtin,size\nA,4012345678901,205/55R16\nB,4012345678902,7.50R16\nC,4012345678903,\n")
    assert read_sections(p) == {"A": pytest.approx(0.205), "B": pytest.approx(0.1905)}
    assert read_catalogue(p)["4012345678903"] == "C"
    (tmp_path / "plain.csv").write_text("sku,gtin\nA,4012345678901\n")
    assert read_sections(tmp_path / "plain.csv") == {} and read_sections(tmp_path / "none.csv") == {}


def test_a_bad_size_in_the_catalogue_names_its_row(tmp_path):
    p = tmp_path / "catalogue.csv"
    p.write_text("sku,gtin,size\nA,4012345678901,205/55R16\nB,4012345678902,205-55\n")
    with pytest.raises(FusionError, match=r"catalogue.csv: row 3: size: tire size '205-55': expected a size code"):
        read_sections(p)


@pytest.mark.parametrize("case, tracks, section_m, inside", [
    ("a box over a seam, within the stack", SEAM_10272, 0.295, [SEAM_10272[0]]),
    ("the same box above the stack", SEAM_10272[1:] + [_t(1.322, 2.104, 7.90, 8.43)], 0.295, []),
    ("the same box beside the stack", SEAM_10272[1:] + [_t(2.40, 3.18, 6.752, 7.282)], 0.295, []),
    ("a stack not counted by its height (laced)", LACED + [_t(0.15, 0.70, 1.40, 1.90)], 0.195, []),
    ("a tire's piece cut by the frame, 0.8 of it within the column", CUT_10364, 0.2794, [CUT_10364[0]]),
    ("the same piece over the next column, a tenth of it within", CUT_10364[1:] + [_t(5.56, 6.12, 2.865, 3.144)],
     0.2794, []),
])
def test_a_box_within_a_stack_counted_by_its_height_is_no_tire_of_its_own(case, tracks, section_m, inside):
    assert in_stacks(tracks, stack_counts(tracks, section_m)) == inside, case


def test_fuse_bin_says_it_left_a_box_within_the_stack_out():
    tracks = [_t(t.u0_m, t.u1_m, t.v0_m, t.v1_m, gtin="08939797483944") for t in SEAM_10272]
    obs = fuse_bin("A01-B04-L4-P1", tracks, set(range(20)), gtin_to_sku={"08939797483944": "427200003"},
                   section_of={"427200003": 0.295})
    assert obs.count == obs.evidence.count == 6 and "in_stack" in obs.reason.split(";")
    assert len(obs.counted) == 6 and tracks[0] not in obs.counted  # the seam box is no counted box


def _lab(u, v, serial, gtin="08943180000000"):
    return ItemLabel(face_id="F", gtin=gtin, serial=serial, u_m=u, v_m=v, frames=(1, 2, 3))


# dev 10318 A01-B05-L1-P1 (wrapped pallet, 0.255 m tires of 0.661 m): six tires, labels read on the two lowest
# and the two highest; dev 10267 A01-B03-L1-P1 (0.265 m of 0.804 m): four, labels read on the lowest and highest
LABELS_10318 = [_lab(2.78, 0.40, "1"), _lab(2.80, 0.65, "2"), _lab(2.87, 1.41, "3"), _lab(2.86, 1.66, "4")]
LABELS_10267 = [_lab(6.51, 0.41, "1"), _lab(6.56, 1.20, "2")]
# dev 10301 A01-B03-L1-P2 (0.195 m of 0.6345 m): two columns, 0.7 m apart
LABELS_10301 = [_lab(3.25, 0.77, "1"), _lab(3.30, 0.56, "2"), _lab(3.28, 1.15, "3"), _lab(3.33, 1.35, "4"),
                _lab(3.37, 1.55, "5"), _lab(3.99, 0.56, "6"), _lab(4.02, 0.77, "7"), _lab(4.12, 0.37, "8")]


@pytest.mark.parametrize("case, labels, section_m, diameter_m, between", [
    ("10318: two tires between the second label and the third", LABELS_10318, 0.255, 0.661, 2),
    ("10267: two tires between its two labels", LABELS_10267, 0.265, 0.804, 2),
    ("10301: one between 0.77 and 1.15 in the first column, none in the second", LABELS_10301, 0.195, 0.6345, 1),
    ("labels one section apart: none between", [_lab(1.0, 0.4, "1"), _lab(1.0, 0.6, "2")], 0.2, 0.6, 0),
    ("a laced stack steps 0.68 sections: no whole number", [_lab(1.0, 0.4, "1"), _lab(1.1, 0.536, "2"),
                                                           _lab(1.0, 0.808, "3")], 0.2, 0.6, 0),
    ("one step off a whole number spoils the column", [_lab(1.0, 0.4, "1"), _lab(1.0, 0.8, "2"),
                                                      _lab(1.0, 1.1, "3")], 0.2, 0.6, 0),
    ("two columns side by side, 0.6 diameters apart", [_lab(1.0, 0.4, "1"), _lab(1.36, 0.8, "2")], 0.2, 0.6, 0),
    ("one label", [_lab(1.0, 0.4, "1")], 0.2, 0.6, 0),
    ("no size", LABELS_10318, 0.0, 0.661, 0),
])
def test_tires_of_a_lying_stack_between_two_labels_read(case, labels, section_m, diameter_m, between):
    assert tires_between_labels(labels, section_m, diameter_m) == between, case


@settings(max_examples=200, deadline=None)
@given(section=st.floats(0.165, 0.3), ratio=st.floats(2.0, 4.4), n=st.integers(2, 9), base=st.floats(0.0, 6.0),
       data=st.data())
def test_a_column_of_labels_counts_every_tire_from_its_lowest_label_to_its_highest(section, ratio, n, base, data):
    """A stack of ``n`` lying tires (diameter ``ratio`` sections), a label on some of them, each in the middle
    two fifths of the tire's width: the labels and the tires between them are the tires from the lowest
    label to the highest; a standing row of the same tires, labelled in the middle two fifths of their
    height, has none between its labels."""
    diameter = ratio * section
    tires = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=2, max_size=n)))
    labels = [_lab(data.draw(st.floats(0.3, 0.7)) * diameter, base + (i + 0.5) * section, str(i)) for i in tires]
    assert len(labels) + tires_between_labels(labels, section, diameter) == tires[-1] - tires[0] + 1
    row = [_lab((i + data.draw(st.floats(0.45, 0.55))) * (section + 0.015), base + data.draw(st.floats(0.3, 0.7)) * diameter,
                str(i)) for i in tires]
    assert tires_between_labels(row, section, diameter) == 0


def test_fuse_bin_counts_the_tires_between_labels_and_sends_the_bin_to_recount():
    sku = {"08943180000000": "431800000"}
    obs = fuse_bin("A01-B05-L1-P1", [], set(range(20)), gtin_to_sku=sku, labels=LABELS_10318,
                   section_of={"431800000": 0.255}, diameter_of={"431800000": 0.661})
    assert obs.count == 6 and obs.sku == "431800000" and "labels_over_tires" in obs.reason.split(";")
    assert obs.evidence.labels_over_tires == 6 and obs.confidence <= 0.75
    no_size = fuse_bin("A01-B05-L1-P1", [], set(range(20)), gtin_to_sku=sku, labels=LABELS_10318)
    assert no_size.count == 4  # the labels alone, where the catalogue gives no size


# dev 10367 A01-B02-L1-P1: a wrapped pallet (its top at 0.264 m on a floor at 0.12) of three 0.255 m tires of
# 0.661 m, labels read on the upper two, no box counted; dev 10301 A01-B05-L1-P2: five 0.215 m tires of
# 0.6644 m on a pallet, labels read on the second, third and fifth
LABELS_10367 = [_lab(4.98, 0.665, "1"), _lab(4.975, 0.930, "2")]
LABELS_10301_B05 = [_lab(0.830, 0.612, "1"), _lab(0.661, 0.821, "2"), _lab(0.688, 1.236, "3")]
# dev 10329 A01-B05-L2-P4: two standing 0.2794 m tires of 1.052 m on a floor at 1.656, a label on each,
# one section apart in height, and the detector's two upright boxes
LABELS_10329 = [_lab(0.232, 2.067, "1"), _lab(0.510, 2.355, "2")]
BOXES_10329 = [_t(0.085, 0.369, 1.645, 2.704), _t(0.371, 0.664, 1.768, 2.702)]
ON_PALLET = (0.12, 0.12 + PALLET_HEIGHT_M)


@pytest.mark.parametrize("case, labels, section_m, diameter_m, bases, counted, under", [
    ("10367: one tire under the lowest label, on the pallet", LABELS_10367, 0.255, 0.661, ON_PALLET, [], 1),
    ("10301 B05: one under, on the pallet", LABELS_10301_B05, 0.215, 0.6644, ON_PALLET, [], 1),
    ("10301 B03: one under the first column, none under the second", LABELS_10301, 0.195, 0.6345, ON_PALLET, [], 1),
    ("10329 read alone: two standing tires would read as a stack over one more", LABELS_10329, 0.2794, 1.052,
     (1.656, 1.656 + PALLET_HEIGHT_M), [], 1),
    ("10329 with its upright boxes: a standing row, no stack", LABELS_10329, 0.2794, 1.052,
     (1.656, 1.656 + PALLET_HEIGHT_M), BOXES_10329, 0),
    ("a lying box in the column does not stop it", LABELS_10367, 0.255, 0.661, ON_PALLET,
     [_t(4.62, 5.28, 0.52, 0.77)], 1),
    ("no base known", LABELS_10367, 0.255, 0.661, (), [], 0),
    ("the floor alone, off the grid by 0.36 sections: nothing", LABELS_10367, 0.255, 0.661, (0.12,), [], 0),
    ("both bases fit (a pallet one section high): the fewer tires", [_lab(1.0, 0.5, "1"), _lab(1.0, 0.644, "2")],
     0.144, 0.5, (0.0, PALLET_HEIGHT_M), [], 2),
    ("one label: no column", [_lab(4.98, 0.665, "1")], 0.255, 0.661, ON_PALLET, [], 0),
    ("a label below both bases", LABELS_10367, 0.255, 0.661, (2.0, 2.144), [], 0),
])
def test_tires_of_a_lying_stack_under_its_lowest_label(case, labels, section_m, diameter_m, bases, counted, under):
    assert tires_under_labels(labels, section_m, diameter_m, bases, counted=counted) == under, case


@settings(max_examples=200, deadline=None)
@given(section=st.floats(0.165, 0.3), ratio=st.floats(2.0, 4.4), n=st.integers(2, 9), floor=st.floats(0.0, 6.0),
       pallet=st.booleans(), data=st.data())
def test_a_stack_counts_every_tire_up_to_its_highest_label_and_never_more(section, ratio, n, floor, pallet, data):
    """A stack of ``n`` lying tires on a floor or a pallet, labels read on some of them (read 0.02 m off at
    most): the labels and the tires between and under them are never more than the tires up to the highest
    label, and are all of them where only the true base puts the lowest label on the grid."""
    diameter = ratio * section
    base = floor + (PALLET_HEIGHT_M if pallet else 0.0)
    tires = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=2, max_size=n)))
    labels = [_lab(data.draw(st.floats(0.3, 0.7)) * diameter, base + (i + 0.5) * section + data.draw(st.floats(-0.02, 0.02)),
                   str(i)) for i in tires]
    bases = (floor, floor + PALLET_HEIGHT_M)
    counted = len(labels) + tires_between_labels(labels, section, diameter) + tires_under_labels(labels, section, diameter, bases)
    assert counted <= tires[-1] + 1
    v_low = min(lab.v_m for lab in labels)
    k_other = (v_low - (floor if pallet else floor + PALLET_HEIGHT_M)) / section - 0.5
    steps_whole = all(abs(s - round(s)) <= 0.2 for s in np.diff(sorted(lab.v_m for lab in labels)) / section)
    if steps_whole and not (round(k_other) >= 0 and abs(k_other - round(k_other)) <= 0.2):
        assert counted == tires[-1] + 1


def test_fuse_bin_counts_the_tires_under_the_labels_down_to_the_pallet():
    sku = {"08943180000000": "436700003"}
    size = dict(section_of={"436700003": 0.255}, diameter_of={"436700003": 0.661})
    obs = fuse_bin("A01-B02-L1-P1", [], set(range(20)), gtin_to_sku=sku, labels=LABELS_10367, stack_bases_v_m=ON_PALLET,
                   **size)
    assert obs.count == 3 and "labels_over_tires" in obs.reason.split(";") and obs.confidence <= 0.75
    assert fuse_bin("A01-B02-L1-P1", [], set(range(20)), gtin_to_sku=sku, labels=LABELS_10367, **size).count == 2


def test_fusion_knows_the_synthetic_worlds_pallet():
    from datasets.world import PALLET_HEIGHT_M as drawn

    assert PALLET_HEIGHT_M == drawn


@settings(max_examples=200, deadline=None)
@given(section=st.floats(0.165, 0.3), ratio=st.floats(2.0, 4.4), n=st.integers(2, 10), data=st.data())
def test_a_laced_stack_sways_and_a_plain_one_with_a_seam_box_does_not(section, ratio, n, data):
    """Boxes of a laced stack as the family lays one (each tire 0.72 of a section over the one below and
    0.12 of a diameter to one side of it), off by up to 2% of a diameter: never counted by its height.
    A plain stack of the same tires with a box over one seam: counted by its height, ``n``."""
    d = ratio * section
    jit = st.floats(-0.02 * d, 0.02 * d)
    laced = [_t(0.12 * d * (j % 2) + data.draw(jit), d + 0.12 * d * (j % 2) + data.draw(jit), 0.72 * section * j,
                0.72 * section * j + section) for j in range(n)]
    assert stack_counts(laced, section) == []
    plain = [_t(data.draw(jit), d + data.draw(jit), section * j, section * (j + 1)) for j in range(n)]
    seam = data.draw(st.integers(1, n - 1))
    plain.append(_t(data.draw(jit), d + data.draw(jit), section * (seam - 0.4), section * (seam + 0.4)))
    assert [(len(c), k) for c, k in stack_counts(plain, section)] == [(n + 1, n)]
