import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import DEFAULT_SITE
from tests.warehouse.factories import site_dict
from warehouse.errors import SiteError
from warehouse.site import convex_polygons_overlap, load_site, site_from_dict


@pytest.fixture(scope="module")
def site():
    return load_site(DEFAULT_SITE)


def test_default_site_summary(site):
    s = site.summary()
    assert (s.n_aisles, s.n_racks, s.n_faces, s.n_bins) == (2, 4, 4, 96)
    assert s.face_length_m == pytest.approx(4 * 10.8)


def test_bin_naming_odd_even_sides(site):
    ids = {b.bin_id for b in site.faces_of_aisle("A01")[0].bins}
    assert "A01-B01-L1-P1" in ids and "A01-B07-L3-P2" in ids
    ids2 = {b.bin_id for b in site.faces_of_aisle("A01")[1].bins}
    assert "A01-B02-L1-P1" in ids2 and "A01-B08-L3-P2" in ids2
    assert not ids & ids2


def test_face_normals_point_into_the_aisle(site):
    back, front = site.faces_of_aisle("A01")
    # R01 back face at y=1 looks +y, R02 front face at y=4 looks -y
    np.testing.assert_allclose(back.normal_site, [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(front.normal_site, [0, -1, 0], atol=1e-12)
    assert back.face_to_site([[0, 0, 0]])[0][1] == pytest.approx(1.0)
    assert front.face_to_site([[0, 0, 0]])[0][1] == pytest.approx(4.0)


def test_bays_are_numbered_along_the_rack_on_both_faces(site):
    back, front = site.faces_of_aisle("A01")
    # bay B01 (back face) and B02 (front face) are both at the rack's start (small site x)
    b1 = site.bin("A01-B01-L1-P1")
    b2 = site.bin("A01-B02-L1-P1")
    x1 = back.face_to_site([[*b1.center_uv_m, 0]])[0][0]
    x2 = front.face_to_site([[*b2.center_uv_m, 0]])[0][0]
    assert x1 < 2.7 and x2 < 2.7


def test_point_to_bin_and_locate(site):
    b = site.bin("A01-B03-L2-P2")
    face = site.face(b.face_id)
    u, v = b.center_uv_m
    assert face.point_to_bin(u, v) == b
    p = face.face_to_site([[u, v, 0.1]])[0]
    assert site.locate(p) == b
    assert face.point_to_bin(-0.1, v) is None
    assert site.locate(p + face.normal_site * 2.0) is None


def test_bin_rectangles_tile_each_face_without_overlap(site):
    for f in site.faces:
        for i, a in enumerate(f.bins):
            for b in f.bins[i + 1:]:
                overlap_u = min(a.u1_m, b.u1_m) - max(a.u0_m, b.u0_m)
                overlap_v = min(a.v1_m, b.v1_m) - max(a.v0_m, b.v0_m)
                assert overlap_u <= 1e-9 or overlap_v <= 1e-9


def test_location_labels_sit_on_the_beam_below_their_bin(site):
    for b in site.bins:
        u, v = b.label.center_uv_m
        assert b.u0_m < u < b.u1_m
        assert b.v0_m - 0.2 < v < b.v0_m
        assert b.label.content == b.bin_id


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 10.8), st.floats(0, 4.5), st.floats(-2, 2))
def test_face_transform_round_trip(u, v, n):
    site = load_site(DEFAULT_SITE)
    for f in site.faces:
        p = f.face_to_site([[u, v, n]])
        np.testing.assert_allclose(f.site_to_face(p)[0], [u, v, n], atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.05, 10.75), st.floats(0.2, 4.4), st.floats(0.5, 3.0))
def test_ray_hits_face_where_pointed(u, v, dist):
    site = load_site(DEFAULT_SITE)
    f = site.faces[0]
    target = f.face_to_site([[u, v, 0]])
    origin = f.face_to_site([[u + 0.3, v - 0.2, dist]])
    t, uv = f.intersect_rays(origin, target - origin)
    np.testing.assert_allclose(uv[0], [u, v], atol=1e-9)
    assert t[0] == pytest.approx(1.0)


def test_rays_away_from_face_never_hit(site):
    f = site.faces[0]
    o = f.face_to_site([[1, 1, 2]])
    t, _ = f.intersect_rays(o, f.normal_site[None])
    assert np.isinf(t[0])


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ([[0, 0], [1, 0], [1, 1], [0, 1]], [[0.5, 0.5], [2, 0.5], [2, 2], [0.5, 2]], True),
        ([[0, 0], [1, 0], [1, 1], [0, 1]], [[1, 0], [2, 0], [2, 1], [1, 1]], False),  # touching
        ([[0, 0], [1, 0], [1, 1], [0, 1]], [[3, 3], [4, 3], [4, 4], [3, 4]], False),
    ],
)
def test_convex_overlap(a, b, expected):
    assert convex_polygons_overlap(np.array(a, float), np.array(b, float)) is expected


def test_rotated_site_round_trip(tmp_path):
    d = site_dict()
    for r in d["racks"]:
        r["yaw_deg"] = 37.0
    d["racks"][1]["start_m"] = [-4.0 * np.sin(np.radians(37)) * -1, 4.0 * np.cos(np.radians(37))]
    site = site_from_dict(d)
    for b in site.bins:
        f = site.face(b.face_id)
        c = f.face_to_site([[*b.center_uv_m, 0.05]])[0]
        assert site.locate(c) == b


def test_to_yaml_round_trip(tmp_path, site):
    p = tmp_path / "site.yaml"
    p.write_text(site.to_yaml())
    again = load_site(p)
    assert [b.bin_id for b in again.bins] == [b.bin_id for b in site.bins]


def test_unknown_bin_error_names_the_file(site):
    with pytest.raises(SiteError, match="default_site.yaml: unknown bin 'Z9'"):
        site.bin("Z9")
