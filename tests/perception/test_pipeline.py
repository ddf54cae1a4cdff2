"""`run_perception` reading codes on threads beside the detector gives what the inline run gives."""

from __future__ import annotations

import numpy as np
import pytest

from perception.detector import Detector
from perception.pipeline import run_perception


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
