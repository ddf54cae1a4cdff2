import cv2
import numpy as np
import pytest

from perception.frames import FrameSkip, load_frame


def _write(path, img, ext=".png"):
    ok, buf = cv2.imencode(ext, img)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.full((40, 60, 3), 128, np.uint8),
        lambda: np.full((40, 60), 77, np.uint8),
        lambda: np.full((40, 60), 40000, np.uint16),
        lambda: np.full((40, 60, 3), 65535, np.uint16),
        lambda: np.full((40, 60, 4), 200, np.uint8),
    ],
)
def test_good_frames_become_bgr8(tmp_path, make):
    src = make()
    out = load_frame(_write(tmp_path / "f.png", src))
    assert not isinstance(out, FrameSkip)
    assert out.dtype == np.uint8 and out.shape == (40, 60, 3)
    expected = (src >> 8 if src.dtype == np.uint16 else src).reshape(40, 60, -1)[..., 0].astype(np.uint8)
    assert np.array_equal(out[..., 0], expected)


def test_bad_frames_are_skipped_with_reason(tmp_path):
    good = _write(tmp_path / "g.jpg", np.full((64, 64, 3), 90, np.uint8), ".jpg").read_bytes()
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "trunc.jpg").write_bytes(good[:20])
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all" * 10)
    for name, why in [("empty.jpg", "empty"), ("trunc.jpg", "corrupt"), ("junk.jpg", "corrupt"),
                      ("missing.jpg", "cannot read")]:
        out = load_frame(tmp_path / name)
        assert isinstance(out, FrameSkip), name
        assert name in out.message() and why in out.reason
