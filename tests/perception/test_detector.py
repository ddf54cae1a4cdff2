"""The shipped detector on rendered frames: ONNX Runtime and PyTorch agree; tires are found."""

from __future__ import annotations

import numpy as np
import pytest

from perception.detector import Detector, letterbox
from perception.errors import PerceptionError


@pytest.fixture(scope="module")
def frames():
    from datasets.render import Renderer
    from datasets.synth import gallery_poses
    from datasets.world import build_world

    w = build_world("datasets/scenarios/default.yaml")
    r = Renderer(w)
    out = []
    for i, (_, T, Tp) in enumerate(gallery_poses(w, 3, 7)):
        res = r.render(T, T_site_camera_prev=Tp, rng_seed=i, frame_idx=i)
        out.append((res.image_bgr, res.objects))
    return out


def _iou(a, b):
    x1, y1 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x2, y2 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_onnx_and_torch_backends_agree_and_find_the_tires(frames):
    imgs = [f for f, _ in frames]
    a = Detector(backend="onnx", batch=2).detect(imgs)
    b = Detector(backend="torch").detect(imgs)
    for da, db, (_, truth) in zip(a, b, frames):
        assert len(da) == len(db) > 0
        iou = _iou(da.xyxy, db.xyxy)
        assert np.all(iou.max(axis=1) > 0.98)
        np.testing.assert_allclose(np.sort(da.confidence), np.sort(db.confidence), atol=0.02)
        tires = truth[(truth.kind == "tire") & (truth.visible_frac >= 0.5)][["x1", "y1", "x2", "y2"]].to_numpy(np.float32)
        found = da.of_class("tire").xyxy
        if len(tires):
            assert (_iou(tires, found).max(axis=1) >= 0.5).mean() >= 0.9 if len(found) else False


def test_letterbox_maps_1080p_to_640x384():
    img, lb = letterbox(np.zeros((1080, 1920, 3), np.uint8))
    assert img.shape == (384, 640, 3) and lb.scale == pytest.approx(1 / 3) and lb.pad_y == 12


@pytest.mark.parametrize("hw_in, noise_left", [((1080, 1920), 1 / 3), ((720, 1280), 1 / 2), ((360, 640), 1.0)])
def test_letterbox_averages_the_sensor_noise_away_as_the_training_images_had_it(hw_in, noise_left):
    """The training images were shrunk by area (``perception.trainset``); a frame shrunk for the network
    is too, so its noise is the one the detector learned on: a third at 1080p, not the whole of it
    (bilinear at a third reads one pixel in nine)."""
    import cv2

    from perception.detector import interpolation

    rng = np.random.default_rng(0)
    h, w = hw_in
    frame = np.clip(rng.normal(100, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    img, lb = letterbox(frame)
    nh, nw = round(h * lb.scale), round(w * lb.scale)
    inner = img[int(lb.pad_y): int(lb.pad_y) + nh, int(lb.pad_x): int(lb.pad_x) + nw]
    if noise_left < 1:
        assert interpolation(h, w, nh, nw) == cv2.INTER_AREA
        np.testing.assert_array_equal(inner, cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA))
    assert inner.astype(float).std() == pytest.approx(frame.astype(float).std() * noise_left, rel=0.1)


def test_the_detector_finds_the_tires_of_a_dim_noisy_store():
    """Dev world 10138 of the tire-store family (18 lux: long exposure, gain and sensor noise), rendered
    as the planner would fly it: the wholly seen tires are found. With a bilinear shrink the same
    frames lost about half of them (the flight's frames: 91 of 192)."""
    from datasets.family import load_family, world_scenario
    from datasets.render import Renderer
    from datasets.synth import gallery_poses
    from datasets.synthflight import plan_world
    from datasets.world import build_world

    w = build_world(world_scenario(load_family("datasets/families/tire-stores.yaml"), 10138))
    exposure_s = plan_world(w, allow_dark=True).exposure_s
    r = Renderer(w)
    det = Detector()
    found = total = false_boxes = 0
    for i, (_, T, Tp) in enumerate(gallery_poses(w, 8, 3, exposure_s=exposure_s)):
        res = r.render(T, T_site_camera_prev=Tp, rng_seed=i, frame_idx=i, exposure_s=exposure_s)
        truth = res.objects[res.objects.kind == "tire"]
        tires = truth[truth.visible_frac >= 0.7][["x1", "y1", "x2", "y2"]].to_numpy(np.float32)
        boxes = det.detect([res.image_bgr])[0].of_class("tire")
        boxes = boxes.xyxy[boxes.confidence >= 0.5]
        if len(tires):
            total += len(tires)
            found += int((_iou(tires, boxes).max(axis=1, initial=0) >= 0.5).sum()) if len(boxes) else 0
        every = truth[["x1", "y1", "x2", "y2"]].to_numpy(np.float32)
        if len(boxes):
            false_boxes += int((_iou(boxes, every).max(axis=1, initial=0) < 0.3).sum()) if len(every) else len(boxes)
    assert total >= 10 and found >= 0.9 * total, (found, total)
    assert false_boxes <= 2


def test_missing_weights_and_unknown_backend_are_one_line_errors(tmp_path):
    with pytest.raises(PerceptionError, match="weights not found"):
        Detector(tmp_path / "none.onnx")
    with pytest.raises(PerceptionError, match="expected onnx or torch"):
        Detector(backend="tensorflow")


def test_device_side_letterbox_and_nms_match_the_host_path(frames):
    """The GPU path (letterbox, inference, NMS on the device) run here on the CPU agrees with the NumPy path."""
    imgs = [f for f, _ in frames]
    det = Detector(backend="torch", batch=4)
    host = det._detect_on_host(imgs)
    dev = det._detect_on_device(imgs)
    for (ha, hs, hc), (da, ds, dc) in zip(host, dev):
        assert len(ha) == len(da) > 0
        iou = _iou(ha, da)
        assert np.all(iou.max(axis=1) > 0.98)
        np.testing.assert_array_equal(dc[iou.argmax(axis=1)], hc)
        np.testing.assert_allclose(np.sort(hs), np.sort(ds), atol=0.02)
        assert np.all(np.diff(ds) <= 0)  # score order, as the host path keeps


def test_grey_frames_for_grey_weights_give_the_colour_frames_boxes(frames):
    import cv2

    det = Detector()
    assert det.gray and det.takes_grey  # the shipped weights see grey
    for bgr, _ in frames[:3]:
        ref, d = det.detect([bgr])[0], det.detect([cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)])[0]
        assert d.image_wh == ref.image_wh and len(d) == len(ref) > 0
        assert np.all(_iou(np.asarray(ref.xyxy), np.asarray(d.xyxy)).max(axis=1) > 0.95)
        assert np.abs(np.sort(d.confidence) - np.sort(ref.confidence)).max() < 0.05


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_grey_bgra_16bit_and_float_frames_are_converted_not_fatal(frames, backend):
    bgr = frames[0][0]
    grey = bgr[:, :, 1]
    variants = [grey, np.dstack([bgr, np.full(grey.shape, 255, np.uint8)]), bgr.astype(np.uint16) * 257,
                bgr.astype(np.float32) / 255]
    det = Detector(backend=backend)
    ref = det.detect([bgr])[0]
    for d in det.detect(variants):
        assert d.image_wh == (bgr.shape[1], bgr.shape[0]) and len(d) > 0
    assert len(det.detect([variants[2]])[0]) == len(ref)  # 16-bit scaled back to the same image
