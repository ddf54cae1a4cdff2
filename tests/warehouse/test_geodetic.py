import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.geodetic import GeoOrigin, ecef_to_geodetic, geodetic_to_ecef

origins = st.builds(
    GeoOrigin,
    lat_deg=st.floats(-80, 80),
    lon_deg=st.floats(-179.9, 179.9),
    alt_m=st.floats(-100, 3000),
    heading_deg=st.floats(0, 360),
)
site_points = st.tuples(st.floats(-500, 500), st.floats(-500, 500), st.floats(-20, 100))


@settings(max_examples=300, deadline=None)
@given(origins, site_points)
def test_site_geodetic_round_trip_below_1mm_over_500m(origin, p):
    lat, lon, alt = origin.site_to_geodetic(np.array(p))
    back = origin.geodetic_to_site(lat, lon, alt)
    assert np.linalg.norm(back - np.array(p)) < 1e-3


@settings(max_examples=200, deadline=None)
@given(st.floats(-89.9, 89.9), st.floats(-180, 180), st.floats(-500, 9000))
def test_ecef_round_trip(lat, lon, alt):
    la, lo, al = ecef_to_geodetic(geodetic_to_ecef(lat, lon, alt))
    assert abs(la - lat) < 1e-9 and abs(al - alt) < 1e-4
    assert abs(((lo - lon + 180) % 360) - 180) < 1e-9


def test_heading_points_site_x_along_compass():
    # +x at heading 90 deg points east: 100 m along +x increases longitude, not latitude
    o = GeoOrigin(lat_deg=10.0, lon_deg=106.0, alt_m=0.0, heading_deg=90.0)
    lat, lon, _ = o.site_to_geodetic(np.array([100.0, 0.0, 0.0]))
    assert abs(lat - 10.0) < 1e-6 and lon > 106.0
    # +y is 90 deg counter-clockwise from +x: north
    lat, lon, _ = o.site_to_geodetic(np.array([0.0, 100.0, 0.0]))
    assert lat > 10.0 and abs(lon - 106.0) < 1e-6


def test_known_distance_one_arcsecond_of_latitude():
    o = GeoOrigin(lat_deg=45.0, lon_deg=0.0, alt_m=0.0, heading_deg=0.0)
    p = o.geodetic_to_site(45.0 + 1 / 3600, 0.0, 0.0)
    assert abs(p[0] - 30.87) < 0.02  # one arcsecond of latitude at 45 deg is ~30.87 m


def test_ned_rotation_maps_north_to_heading_axis():
    o = GeoOrigin(lat_deg=0, lon_deg=0, alt_m=0, heading_deg=0.0)
    R = o.ned_to_site_rotation()
    np.testing.assert_allclose(R @ [1, 0, 0], [1, 0, 0], atol=1e-12)  # north is +x at heading 0
    np.testing.assert_allclose(R @ [0, 1, 0], [0, -1, 0], atol=1e-12)  # east is -y
    np.testing.assert_allclose(R @ [0, 0, 1], [0, 0, -1], atol=1e-12)  # down is -z
