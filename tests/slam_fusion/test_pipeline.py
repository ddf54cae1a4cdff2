import numpy as np
import pytest

from slam_fusion.pipeline import fuse_detections
from tests.slam_fusion.factories import sweep_scene


@pytest.mark.parametrize("offset_s", [0.0, 0.37, -0.5])
def test_counts_exact_and_clock_offset_estimated(offset_s):
    site, cam, traj, ft, dets, truth = sweep_scene(clock_offset_s=offset_s)
    res = fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, detections=dets)
    assert abs(res.clock_offset_s - offset_s) < 0.020
    got = {o.bin_id: o.count for o in res.observations}
    for bin_id, n in truth.items():
        assert got.get(bin_id) == n, bin_id
    assert max(res.label_residuals_px.values()) < 5.0
    for o in res.observations:
        assert (o.sku != "") == (o.count > 0)


def test_permuting_frames_does_not_change_observations():
    site, cam, traj, ft, dets, _ = sweep_scene(seed=3)
    kw = dict(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, clock_offset_s=0.0)
    a = fuse_detections(detections=dets, **kw)
    perm = [dets[i] for i in np.random.default_rng(1).permutation(len(dets))]
    b = fuse_detections(detections=perm, **kw)
    assert a.observations == b.observations


def _wrong_bins(res, truth):
    got = {o.bin_id: o.count for o in res.observations}
    return sum(got.get(b) != n for b, n in truth.items())


def test_label_drift_correction_keeps_bins_right():
    site, cam, traj, ft, dets, truth = sweep_scene(drift_m_per_min=2.0, seed=5)
    kw = dict(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, detections=dets, clock_offset_s=0.0)
    raw = fuse_detections(drift_correction=False, **kw)
    fixed = fuse_detections(drift_correction=True, **kw)
    assert _wrong_bins(raw, truth) > 0  # the drift is large enough to matter
    assert _wrong_bins(fixed, truth) == 0
    assert fixed.drift_residual_after_m < fixed.drift_residual_before_m / 3


@pytest.mark.parametrize("offset_s", [0.25, -0.15])
def test_clock_offset_found_under_drift(offset_s):
    """Drift bends to absorb a clock error (the label residuals fit either way); the offset whose
    drift solve costs least is the true one."""
    site, cam, traj, ft, dets, truth = sweep_scene(clock_offset_s=offset_s, drift_m_per_min=2.0, seed=5,
                                                   serpentine=True)
    res = fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, detections=dets)
    assert abs(res.clock_offset_s - offset_s) < 0.020
    assert _wrong_bins(res, truth) == 0
    assert res.warnings == ()


def test_a_clock_not_told_from_drift_is_said():
    """Every pass flown the same way: no label moves both ways, so the clock is not observable."""
    site, cam, traj, ft, dets, _ = sweep_scene(clock_offset_s=0.25, drift_m_per_min=2.0, seed=5)
    res = fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, detections=dets)
    assert len(res.warnings) == 1 and "passes flown both ways" in res.warnings[0]
    assert "--clock-offset-s" in res.warnings[0]


@pytest.mark.parametrize("box, kept", [
    ((800, 200, 1000, 800), True),  # whole in view
    ((0, 200, 240, 800), True),  # cut by the left border, still wider than a tire's narrowest side
    ((0, 126, 30, 800), False),  # a 30 px sliver on the left border: its top edge is a guess
    ((1890, 126, 1920, 800), False),  # the same on the right border
    ((800, 1050, 1000, 1080), False),  # a sliver along the bottom border
])
def test_slivers_on_the_image_border_are_not_sightings(box, kept):
    from slam_fusion.pipeline import _tire_sightings
    from tests.slam_fusion.factories import camera_facing, make_camera, make_site

    site = make_site()
    face = site.faces_of_aisle(site.aisle_ids[0])[0]
    cam = make_camera()
    T = camera_facing(face, 1.0, 1.0, 1.5)[None]
    x1, y1, x2, y2 = box
    from perception.detections import FrameDetections

    dets = [FrameDetections(frame_idx=0, t_ns=0, xyxy=np.array([[x1, y1, x2, y2]], np.float32),
                            confidence=np.array([0.9], np.float32), class_id=np.array([0], np.int32))]
    got = _tire_sightings(cam, T, {0: 0}, dets, [face], border_px=20)
    assert (len(got) == 1) == kept
    if kept:
        assert got[0].edge_ok[0] == (x1 > 20)


@pytest.mark.parametrize("tire_top_m,whole", [(0.5, True), (0.82, False)])
def test_a_bin_whose_top_was_never_in_view_is_whole_only_with_clear_space_above_its_tires(tire_top_m, whole):
    """One low view of a 1.5 m tall bin: its bottom is seen, its top is not. Tires ending well under
    the highest part seen leave the bin countable; a stack reaching it may go on out of view."""
    from datasets.render import camera_pose_facing
    from slam_fusion.core.fuse import TireTrack
    from slam_fusion.pipeline import _bins_seen_whole
    from tests.conftest import DEFAULT_SITE
    from warehouse.camera import CameraSpec
    from warehouse.site import load_site

    site = load_site(DEFAULT_SITE)
    face = site.face("R01/back")
    b = next(x for x in face.bins if x.level == 1)
    cam = CameraSpec().model()
    T_sc = camera_pose_facing(face, (b.u0_m + b.u1_m) / 2, 0.45, 1.49)[None]  # sees up to about 0.88 m
    tr = TireTrack(face_id=face.face_id, u0_m=b.u0_m + 0.2, u1_m=b.u0_m + 0.4, v0_m=0.0, v1_m=tire_top_m, frames=(0,),
                   gtins=("",), score=0.9)
    got = _bins_seen_whole(cam, T_sc, [0], [b], {face.face_id: face}, {b.bin_id: {0}}, {b.bin_id: [tr]})
    assert got == {b.bin_id: whole}
    # seen from the pass above too: whole whatever its tires
    T2 = np.concatenate([T_sc, camera_pose_facing(face, (b.u0_m + b.u1_m) / 2, 1.2, 1.49)[None]])
    assert _bins_seen_whole(cam, T2, [0, 1], [b], {face.face_id: face}, {b.bin_id: {0}}, {b.bin_id: [tr]}) == {b.bin_id: True}


@pytest.mark.parametrize("noise_sigma, poor", [(4.0, False), (14.0, False), (29.0, False), (31.0, True), (45.0, True)])
def test_frames_are_judged_poor_on_the_noise_the_detector_saw(noise_sigma, poor):
    """1080p frames are shrunk by area to the network's input: a third of their noise is left, and a bin
    goes to recount for noisy frames only when that third is over MAX_FRAME_NOISE."""
    from dataclasses import replace

    from perception.quality import FrameQuality
    from slam_fusion.core.confidence import MAX_FRAME_NOISE, RECOUNT_CAP

    site, cam, traj, ft, dets, truth = sweep_scene(seed=3)
    q = FrameQuality(brightness=120.0, noise_sigma=noise_sigma, sharpness=80.0)
    dets = [replace(d, quality=q) for d in dets]
    assert {d.image_wh for d in dets} == {(1920, 1080)}
    res = fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, detections=dets)
    counted = [o for o in res.observations if o.count]
    assert counted and {o.count for o in counted} <= set(truth.values())
    for o in counted:
        assert o.evidence.noise == pytest.approx(noise_sigma / 3)
        assert ("poor_frames" in o.reason) == poor == (noise_sigma / 3 > MAX_FRAME_NOISE)
        if poor:
            assert o.confidence <= RECOUNT_CAP
