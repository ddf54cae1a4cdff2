"""How good a frame is as evidence, measured on the frame itself (so it works on real flights):
its brightness, its noise and its sharpness. Fusion lowers the confidence of a bin seen only in
poor frames (``slam_fusion.core.confidence``)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Immerkaer (1996): the image convolved with this mask keeps the noise and cancels smooth content
_NOISE_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
CROP_PX = 512


@dataclass(frozen=True)
class FrameQuality:
    brightness: float  # mean grey level, 0..255
    noise_sigma: float  # grey levels (Immerkaer's mask on the central crop; the median, so edges do not count)
    sharpness: float  # variance of the Laplacian at quarter resolution (lower: blurred or flat)


def frame_quality(image: np.ndarray) -> FrameQuality:
    g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = g.shape
    quarter = cv2.resize(g, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    y0, x0 = max(0, (h - CROP_PX) // 2), max(0, (w - CROP_PX) // 2)
    crop = g[y0 : y0 + CROP_PX, x0 : x0 + CROP_PX].astype(np.float32)
    resp = np.abs(cv2.filter2D(crop, -1, _NOISE_MASK))[1:-1, 1:-1]
    # Gaussian noise of sigma gives a response of sigma * 6 (the mask's norm); the median of its
    # absolute value is 0.6745 of that, and edges (labels, beams) are too few to move a median
    noise = float(np.median(resp)) / (0.6745 * 6.0) if resp.size else 0.0
    sharp = float(cv2.Laplacian(quarter, cv2.CV_32F).var())
    return FrameQuality(brightness=float(quarter.mean()), noise_sigma=noise, sharpness=sharp)
