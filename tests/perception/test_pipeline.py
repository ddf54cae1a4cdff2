"""`run_perception` reading codes on threads beside the detector gives what the inline run gives."""

from __future__ import annotations

import numpy as np
import pytest

from perception.detector import Detector
from perception.pipeline import default_decode_threads, run_perception


@pytest.fixture(scope="module")
def frames():
    from datasets.render import Renderer
    from datasets.synth import gallery_poses
    from datasets.world import build_world

    w = build_world("datasets/scenarios/default.yaml")
    r = Renderer(w)
    return [r.render(T, T_site_camera_prev=Tp, rng_seed=i, frame_idx=i).image_bgr
            for i, (_, T, Tp) in enumerate(gallery_poses(w, 3, 7))]


@pytest.mark.parametrize(("batch", "threads"), [(1, 2), (2, 3), (4, 1)])
def test_threaded_code_reading_keeps_results_order_and_tracks(frames, batch, threads):
    items = [(i, 1_000 * i, img) for i, img in enumerate(frames * 2)]
    det = Detector(batch=batch)
    inline_seen, threaded_seen = [], []
    inline = run_perception(iter(items), det, on_frame=lambda d, img: inline_seen.append(d.frame_idx))
    threaded = run_perception(iter(items), det, decode_threads=threads,
                              on_frame=lambda d, img: threaded_seen.append(d.frame_idx))
    assert inline_seen == threaded_seen == [i for i, _, _ in items]
    assert sum(len(d.codes) for d in inline) > 0
    for a, b in zip(inline, threaded, strict=True):
        assert (a.frame_idx, a.t_ns) == (b.frame_idx, b.t_ns)
        assert list(a.codes.text) == list(b.codes.text)
        np.testing.assert_array_equal(a.track_id, b.track_id)
        np.testing.assert_array_equal(a.xyxy, b.xyxy)


def test_a_failing_frame_source_stops_the_threads_and_raises():
    class Boom(RuntimeError):
        pass

    def items():
        yield 0, 0, np.zeros((1080, 1920, 3), np.uint8)
        raise Boom("frame 1 unreadable")

    with pytest.raises(Boom):
        run_perception(items(), Detector(), decode_threads=2)


def test_tracks_follow_a_box_across_frames_and_keep_apart_two():
    from perception.detections import FrameDetections
    from perception.pipeline import Tracker

    t = Tracker(frame_rate=5.0)
    ids = []
    for k in range(6):  # two tires drifting right, a third seen once
        boxes = [[100 + 8 * k, 100, 300 + 8 * k, 700], [400 + 8 * k, 100, 600 + 8 * k, 700]]
        if k == 3:
            boxes.append([1500, 500, 1600, 600])
        d = t.update(FrameDetections(frame_idx=k, t_ns=k, xyxy=np.array(boxes, np.float32),
                                     confidence=np.full(len(boxes), 0.9, np.float32), class_id=np.zeros(len(boxes), np.int32)))
        ids.append(d.track_id.tolist())
    # a track is confirmed on its second sighting; from then on one id per tire, two tires apart
    assert len({i[0] for i in ids[1:]}) == 1 and len({i[1] for i in ids[1:]}) == 1 and ids[1][0] != ids[1][1]
    assert ids[1][0] >= 0 and len(ids[3]) == 3 and ids[3][2] == -1
    empty = t.update(FrameDetections(frame_idx=9, t_ns=9))
    assert len(empty.track_id) == 0


@pytest.mark.parametrize("cores, device, threads", [(1, "cpu", 1), (2, "cpu", 1), (16, "cpu", 8), (2, "cuda", 2), (16, "cuda", 16)])
def test_default_decode_threads(monkeypatch, cores, device, threads):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert default_decode_threads(device) == threads
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # a bench pinned to ``cores`` of a larger machine
    assert default_decode_threads(device, cores) == threads
