"""A plain stack of lying tires holds as many tires as its height has room for, given the tire size
the bin's label names; a laced stack, a column with a stray box above it, or a bin of unknown size
keeps its track count. Geometry from dev worlds 10019 and 10038 (A01, first face)."""

import pytest

from slam_fusion.core.fuse import TireTrack, fuse_bin, stack_counts
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
# a plain column of 3 (0.20 m) with a stray box half a tire above it: 3.5 sections tall, no whole number
STRAY = [_t(0.1, 0.7, 1.0, 1.2), _t(0.1, 0.7, 1.2, 1.4), _t(0.1, 0.7, 1.4, 1.6), _t(0.1, 0.7, 1.6, 1.7)]


@pytest.mark.parametrize("tracks,section_m,columns", [
    (SEAMS, 0.195, [(5, 4), (5, 4)]),
    (HIDDEN, 0.225, [(3, 3), (4, 6)]),
    (LACED, 0.195, []),
    (STRAY, 0.20, []),
    ([_t(0.1, 0.7, 1.0, 1.2)], 0.20, []),  # one box is no column
    ([_t(0.1, 0.3, 1.0, 1.6), _t(0.3, 0.5, 1.0, 1.6)], 0.20, []),  # standing tires are counted by their boxes
])
def test_a_lying_column_holds_its_height_in_tires(tracks, section_m, columns):
    assert [(len(c), n) for c, n in stack_counts(tracks, section_m)] == columns


@pytest.mark.parametrize("tracks,section_m,count,reason", [
    (SEAMS, 0.195, 8, True),
    (HIDDEN, 0.225, 11, True),
    (LACED, 0.195, 12, False),
    (SEAMS, None, 10, False),  # the catalogue gives no size for the SKU
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
