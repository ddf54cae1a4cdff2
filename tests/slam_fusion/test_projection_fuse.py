import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slam_fusion.core.clock import estimate_offset_s, label_reprojection_cost
from slam_fusion.core.fuse import Sighting, fuse_bin
from slam_fusion.core.projection import face_to_pixels, pixels_to_face, project_to_faces
from tests.slam_fusion.factories import camera_facing, make_camera, make_site


@settings(max_examples=60, deadline=None)
@given(st.floats(-0.6, 0.6), st.floats(-0.4, 0.4), st.floats(1.0, 4.0), st.floats(-0.2, 0.2))
def test_reprojection_round_trip(fu, fv, standoff, k1):
    """face point -> pixel -> ray -> face comes back to the same point (within the FOV where
    the distortion model is one-to-one)."""
    site = make_site()
    face = site.faces_of_aisle(site.aisle_ids[0])[0]
    cam = make_camera((k1, 0, 0, 0, 0))
    uc, vc = face.length_m / 2, face.height_m / 2
    T = camera_facing(face, uc, vc, standoff)
    uv_face = np.array([[uc + fu * standoff, vc + fv * standoff]])
    px, front = face_to_pixels(cam, T, uv_face, face)
    assert front.all()
    rng, uv_back = pixels_to_face(cam, T, px, face)
    assert np.isfinite(rng).all()
    assert np.allclose(uv_back, uv_face, atol=1e-4)


def test_projection_finds_the_bin_under_the_pixel():
    site = make_site()
    face = site.faces_of_aisle(site.aisle_ids[0])[0]
    b = face.bins[0]
    cam = make_camera()
    u, v = b.center_uv_m
    T = camera_facing(face, u, v, 2.5)
    hit = project_to_faces(cam, T, np.array([[960.0, 540.0]]), [face])[0]
    assert hit is not None and hit.bin_id == b.bin_id
    assert np.isclose(hit.range_m, 2.5)


def _sightings(n_tires, n_frames, seed):
    rng = np.random.default_rng(seed)
    out = []
    for f in range(n_frames):
        for k in range(n_tires):
            out.append(Sighting(frame_idx=f, bin_id="B", u_m=0.3 + 0.25 * k + rng.normal(0, 0.01),
                                v_m=0.5 + rng.normal(0, 0.01), gtin="0001" if k % 3 else "0001"))
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 5), st.integers(1, 8), st.randoms(use_true_random=False))
def test_permuting_detections_does_not_change_counts(n_tires, n_frames, rnd):
    s = _sightings(n_tires, n_frames, 1)
    shuffled = list(s)
    rnd.shuffle(shuffled)
    a = fuse_bin("B", s, set(range(n_frames)), cluster_radius_m=0.1)
    b = fuse_bin("B", shuffled, set(range(n_frames)), cluster_radius_m=0.1)
    assert a == b
    assert a.count == n_tires


def test_single_view_ghost_is_not_counted_and_flagged():
    s = _sightings(3, 6, 2) + [Sighting(frame_idx=0, bin_id="B", u_m=1.5, v_m=0.2)]
    obs = fuse_bin("B", s, set(range(6)), cluster_radius_m=0.1)
    assert obs.count == 3 and "occluded" in obs.reason and obs.sku == "0001"


def test_conflicting_reads_lower_confidence():
    good = _sightings(2, 4, 3)
    bad = [Sighting(frame_idx=i.frame_idx, bin_id="B", u_m=i.u_m, v_m=i.v_m,
                    gtin="0002" if n % 2 else "0001") for n, i in enumerate(good)]
    a = fuse_bin("B", good, set(range(4)), cluster_radius_m=0.1)
    b = fuse_bin("B", bad, set(range(4)), cluster_radius_m=0.1)
    assert "conflicting_reads" in b.reason and b.confidence < a.confidence


@settings(max_examples=10, deadline=None)
@given(st.floats(-0.5, 0.5))
def test_clock_offset_recovered_within_20_ms(true_offset_s):
    # a camera sweeping along x at 1 m/s, 4 m from a row of labels; frames stamped late
    cam = make_camera()
    labels = np.array([[x, 4.0, 0.0] for x in np.arange(0, 20, 0.5)])

    def pose_x(t_ns):
        return np.asarray(t_ns) / 1e9 * 1.0

    def project(t_ns, p):
        x = pose_x(t_ns)
        p_cam = np.stack([p[:, 0] - x, np.zeros(len(p)), p[:, 1]], axis=1)
        return cam.project(p_cam)[0]

    t = np.arange(1, 18, 0.1)
    sight_t, sight_p, lab = [], [], []
    for tt in t:
        for L in labels:
            if abs(L[0] - tt) < 1.2:
                sight_t.append(int(round((tt - true_offset_s) * 1e9)))
                lab.append(L)
    sight_t = np.array(sight_t)
    lab = np.array(lab)
    sight_p = project(sight_t + int(round(true_offset_s * 1e9)), lab)
    est = estimate_offset_s(lambda o: label_reprojection_cost(o, sight_t, sight_p, lab, project))
    assert abs(est - true_offset_s) < 0.020
