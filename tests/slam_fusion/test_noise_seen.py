"""The noise fusion judges a frame by: the one left in the detector's input, the frame shrunk to it by area."""

from __future__ import annotations

import numpy as np
import pytest

from perception.detector import letterbox
from perception.quality import frame_quality
from slam_fusion.pipeline import noise_seen_by_detector


@pytest.mark.parametrize("image_wh, kept", [((1920, 1080), 1 / 3), ((3840, 2160), 1 / 6), ((1280, 720), 1 / 2),
                                            ((640, 360), 1.0), ((320, 240), 1.0), ((0, 0), 1.0)])
def test_the_noise_the_detector_sees_is_the_frames_shrunk_by_the_input_scale(image_wh, kept):
    assert noise_seen_by_detector(12.0, image_wh) == pytest.approx(12.0 * kept)


@pytest.mark.parametrize("sigma", [4.0, 12.0, 20.0])
def test_it_is_the_noise_measured_on_the_network_input(sigma):
    """Measured on a noisy 1080p frame, then on the network input the detector letterboxes from it."""
    rng = np.random.default_rng(1)
    frame = np.clip(rng.normal(110, sigma, (1080, 1920)), 0, 255).astype(np.uint8)
    measured = frame_quality(frame).noise_sigma
    net, lb = letterbox(frame)
    inner = net[int(lb.pad_y): int(lb.pad_y) + 360, :]
    assert measured == pytest.approx(sigma, rel=0.1)
    assert frame_quality(inner).noise_sigma == pytest.approx(noise_seen_by_detector(measured, (1920, 1080)), rel=0.15)
