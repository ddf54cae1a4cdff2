"""`perception.bench.agreement`: the backend-agreement figure the GPU speed rows carry."""

from __future__ import annotations

import numpy as np
import pytest

from perception.bench import agreement
from perception.detections import FrameDetections


def _fd(boxes, cls):
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return FrameDetections(frame_idx=0, t_ns=0, xyxy=b, confidence=np.full(len(b), 0.9, np.float32),
                           class_id=np.asarray(cls, np.int32), image_wh=(1920, 1080))


A = [[0, 0, 100, 100], [200, 200, 300, 260]]


@pytest.mark.parametrize(
    ("other", "cls", "expected"),
    [
        (A, [0, 1], 1.0),  # the same boxes
        ([[1, 1, 101, 101], [200, 200, 300, 260]], [0, 1], 1.0),  # IoU 0.96
        ([[0, 0, 100, 100], [200, 200, 300, 260]], [0, 0], 0.5),  # second box: other class
        ([[0, 0, 100, 100]], [0], 0.5),  # one missed
        (A + [[500, 500, 600, 600]], [0, 1, 0], 2 / 3),  # one extra
        ([[0, 0, 100, 100], [230, 200, 330, 260]], [0, 1], 0.5),  # shifted: IoU 0.54
        ([], [], 0.0),
    ],
)
def test_agreement_table(other, cls, expected):
    assert agreement([_fd(A, [0, 1])], [_fd(other, cls)]) == pytest.approx(expected)


def test_agreement_of_empty_frames_is_full_and_lengths_must_match():
    assert agreement([_fd([], [])], [_fd([], [])]) == 1.0
    with pytest.raises(ValueError):
        agreement([_fd(A, [0, 1])], [])
