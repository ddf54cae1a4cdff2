"""Fusion over a long flight over a generated site of several aisles: every count right, and the
frames and faces fusion looks at per bin and per track (``view_radius_m``) are exactly the ones a
search of every frame against every face finds."""

import numpy as np
import pytest

from slam_fusion.core.fuse import group_sightings
from slam_fusion.pipeline import (MAX_RANGE_M, _bins_seen, _occluded, _project_sites, _tire_sightings,
                                  _with_expected_views, fuse_detections, view_radius_m)
from slam_fusion.synthetic import long_flight, make_camera


@pytest.fixture(scope="module")
def flight():
    return long_flight(1500, seed=3)


@pytest.fixture(scope="module")
def fused(flight):
    """The fusion of every face, once for the module (about 20 s on 2 cores): pure, so its result is shared."""
    site, cam, traj, frame_t_ns, dets, _ = flight
    return fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=frame_t_ns, detections=dets)


def test_a_long_flight_over_two_aisles_counts_every_bin(flight, fused):
    site, cam, traj, frame_t_ns, dets, truth = flight
    assert len(site.aisle_ids) >= 1 and len(dets) >= 1400
    got = {o.bin_id: o.count for o in fused.observations}
    assert {b: got.get(b) for b in truth} == truth


def _poses(site, traj, frame_t_ns):
    frames = sorted(frame_t_ns)
    return frames, traj.poses_at(np.array([frame_t_ns[f] for f in frames], np.int64))


def test_bins_seen_equals_every_frame_against_every_face(flight):
    site, cam, traj, frame_t_ns, _, _ = flight
    frames, T_sc = _poses(site, traj, frame_t_ns)
    bins = list(site.bins)
    faces = list(site.faces)
    centres = np.array([site.face(b.face_id).face_to_site(np.array([[*b.center_uv_m, 0.0]]))[0] for b in bins])
    normals = np.array([site.face(b.face_id).T_site_face[:3, 2] for b in bins])
    _, vis = _project_sites(cam, T_sc, centres)
    facing = np.einsum("fnk,nk->fn", T_sc[:, None, :3, 3] - centres[None, :, :], normals) > 0.3
    vis &= facing & ~_occluded(T_sc[:, :3, 3], centres, [b.face_id for b in bins], faces)
    brute = {b.bin_id: {frames[i] for i in np.nonzero(vis[:, j])[0]} for j, b in enumerate(bins)}
    assert _bins_seen(cam, T_sc, frames, bins, {f.face_id: f for f in faces}) == brute
    assert sum(map(len, brute.values())) > 0


def test_expected_views_equal_every_frame_against_every_face(flight):
    site, cam, traj, frame_t_ns, dets, _ = flight
    frames, T_sc = _poses(site, traj, frame_t_ns)
    faces = list(site.faces)
    face_of = {f.face_id: f for f in faces}
    tracks = group_sightings(_tire_sightings(cam, T_sc, {f: i for i, f in enumerate(frames)}, dets, faces, border_px=20.0))
    fast = _with_expected_views(cam, T_sc, tracks, face_of, frames)
    # every frame: a view radius past any flight's extent
    import slam_fusion.pipeline as pl

    keep = pl.view_radius_m
    pl.view_radius_m = lambda cam: float("inf")
    try:
        slow = _with_expected_views(cam, T_sc, tracks, face_of, frames)
    finally:
        pl.view_radius_m = keep
    assert [(t.n_expected, t.expected_frames) for t in fast] == [(t.n_expected, t.expected_frames) for t in slow]
    assert sum(t.n_expected for t in fast) > 0


@pytest.mark.parametrize("dist, expected", [((0.0,) * 5, MAX_RANGE_M / np.cos(np.arctan(np.hypot(960, 540) / 1400))),
                                            ((-0.3, 0.1, 0.0, 0.0, 0.0), None)])
def test_view_radius_bounds_the_widest_ray(dist, expected):
    cam = make_camera(dist)
    r = view_radius_m(cam)
    if expected is not None:
        assert r == pytest.approx(expected, rel=1e-6)
    assert r > MAX_RANGE_M


def test_fusing_some_faces_counts_them_as_the_whole_fusion_does(flight, fused):
    """Live counting fuses only the faces whose last pass was just flown: their bins' observations
    are exactly those the fusion of every face gives them (the clock and the drift still solved
    on every frame), and the frames far from those faces are not counted at all."""
    site, cam, traj, frame_t_ns, dets, _ = flight
    kw = dict(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=frame_t_ns, detections=dets)
    full = {o.bin_id: o for o in fused.observations}
    face_ids = sorted({b.face_id for b in site.bins})
    for faces in ({face_ids[0]}, {face_ids[1], face_ids[-1]}):
        part = fuse_detections(**kw, only_faces=faces)
        want = {b.bin_id for b in site.bins if b.face_id in faces}
        got = {o.bin_id: o for o in part.observations}
        assert set(got) <= want and got == {b: o for b, o in full.items() if b in want}
        assert len(got) > 0 and set(part.coverage) == want
    with pytest.raises(ValueError, match="not faces of the site"):
        fuse_detections(**kw, only_faces={"nowhere"})
