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
