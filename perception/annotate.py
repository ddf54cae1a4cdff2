"""Drawing a frame's detections, the one way every view does (``rackscan detect --annotate``,
``rackscan replay``, the dashboard's Flights page): class colours and names defined once."""

from __future__ import annotations

import cv2
import numpy as np

from perception.detections import CLASS_NAMES, FrameDetections

CLASS_BGR = {0: (40, 200, 40), 1: (255, 120, 0), 2: (0, 0, 255)}  # tire, location label, product label
CODE_BGR = (255, 0, 255)


def annotate(image: np.ndarray, det: FrameDetections, *, names: bool = True, tracks: bool = True,
             codes: bool = True, thickness: int = 2) -> np.ndarray:
    """A copy of ``image`` with ``det``'s boxes (class colour, name and track id) and decoded codes."""
    im = image.copy()
    scale = max(0.5, im.shape[1] / 1920 * 0.6)
    for (x1, y1, x2, y2), c, t in zip(det.xyxy.astype(int), det.class_id, det.track_id):
        col = CLASS_BGR.get(int(c), (200, 200, 200))
        cv2.rectangle(im, (int(x1), int(y1)), (int(x2), int(y2)), col, thickness)
        text = " ".join(x for x in ((CLASS_NAMES[int(c)] if names and 0 <= int(c) < len(CLASS_NAMES) else ""),
                                    (f"#{int(t)}" if tracks and int(t) >= 0 else "")) if x)
        if text:
            cv2.putText(im, text, (int(x1) + 4, max(14, int(y1) - 6)), cv2.FONT_HERSHEY_SIMPLEX, scale, col, 2, cv2.LINE_AA)
    if codes:
        for txt, cs in zip(det.codes.text, det.codes.corners):
            cv2.polylines(im, [cs.astype(np.int32)], True, CODE_BGR, thickness)
            x, y = cs.min(axis=0).astype(int)
            cv2.putText(im, str(txt)[:30], (int(x), max(14, int(y) - 6)), cv2.FONT_HERSHEY_SIMPLEX, scale, CODE_BGR, 2,
                        cv2.LINE_AA)
    return im
