"""Flight bundle: written as it goes, readable after a crash, one-line errors for bad content."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink2  # noqa: E402

from flight.bundle import Bundle, BundleWriter, FlightMeta  # noqa: E402
from flight.errors import FlightError  # noqa: E402


def _mav():
    class _F:  # a file-like sink; we only need packed bytes
        def write(self, b):
            pass

    m = mavlink2.MAVLink(_F(), srcSystem=1, srcComponent=1)
    return m


def _frame(i: int) -> np.ndarray:
    img = np.full((48, 64, 3), 40, np.uint8)
    img[10:20, 5 + i : 15 + i] = 250
    return img


def _write_bundle(path, n=5, meta=None):
    mav = _mav()
    with BundleWriter(path, meta or FlightMeta(flight_id="f1", site_name="s"), site_yaml_text="name: s\n") as w:
        for i in range(n):
            t_ns = 1_700_000_000_000_000_000 + i * 200_000_000
            msg = mav.attitude_encode(i * 200, 0.01, 0.02, 0.3 + i * 0.01, 0, 0, 0)
            msg.pack(mav)
            w.write_mavlink(msg, t_ns)
            w.write_frame(_frame(i), t_ns + 5_000_000)
    return path


def test_round_trip_frames_and_telemetry(tmp_path):
    b = Bundle(_write_bundle(tmp_path / "b", n=5))
    assert b.meta.status == "complete" and b.meta.flight_id == "f1"
    assert len(b) == 5
    assert np.all(np.diff(b.frame_times_ns) == 200_000_000)
    img = b.read_frame(3)
    assert img.shape == (48, 64, 3) and img[15, 12, 0] > 200 and img[15, 40, 0] < 80
    msgs = list(b.iter_mavlink(["ATTITUDE"]))
    assert len(msgs) == 5
    t_ns, m = msgs[2]
    assert m.time_boot_ms == 400 and abs(m.yaw - 0.32) < 1e-6
    assert abs(t_ns - (1_700_000_000_000_000_000 + 400_000_000)) < 2_000


def test_grey_frames_are_the_colour_frames_luma(tmp_path):
    import cv2

    b = Bundle(_write_bundle(tmp_path / "b", n=3))
    colour, grey = b.read_frame(2), b.read_frame(2, grey=True)
    assert grey.shape == colour.shape[:2] and grey.dtype == np.uint8
    assert np.abs(grey.astype(int) - cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)).max() <= 2
    assert [img.ndim for _, img in b.iter_frames(grey=True)] == [2, 2, 2]
    assert [img.ndim for _, img in b.iter_frames(grey=True, prefetch=2)] == [2, 2, 2]


def test_jpeg_bytes_are_stored_verbatim(tmp_path):
    import cv2

    ok, enc = cv2.imencode(".jpg", _frame(0))
    with BundleWriter(tmp_path / "b", FlightMeta(flight_id="x")) as w:
        w.write_frame(enc.tobytes(), 1)
    assert (tmp_path / "b/frames/000000.jpg").read_bytes() == enc.tobytes()


def test_refuses_to_overwrite_a_bundle(tmp_path):
    _write_bundle(tmp_path / "b", n=1)
    with pytest.raises(FlightError, match="already holds a flight bundle"):
        BundleWriter(tmp_path / "b", FlightMeta(flight_id="again"))


def test_killed_recorder_bundle_opens_up_to_the_kill(tmp_path):
    """A real recorder process is killed with SIGKILL mid-flight; the bundle still opens."""
    out = tmp_path / "killed"
    code = f"""
import numpy as np, time, sys
sys.path.insert(0, {str(os.getcwd())!r})
from flight.bundle import BundleWriter, FlightMeta
w = BundleWriter({str(out)!r}, FlightMeta(flight_id='k'), fsync_every=2)
i = 0
while True:
    w.write_frame(np.full((32, 32, 3), i % 255, np.uint8), 1_000 + i)
    i += 1
    if i == 8:
        print('ready', flush=True)
    time.sleep(0.01)
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=os.getcwd())
    assert p.stdout.readline().strip() == b"ready"
    time.sleep(0.1)
    p.send_signal(signal.SIGKILL)
    p.wait()
    b = Bundle(out)
    assert b.meta.status == "recording"
    assert len(b) >= 8
    frames = list(b.iter_frames())
    assert len(frames) >= len(b) - 1  # at most the last frame can be lost


def test_partial_last_line_is_dropped_with_a_warning(tmp_path):
    p = _write_bundle(tmp_path / "b", n=3)
    with open(p / "frames.csv", "a") as f:
        f.write("3,17000")
    with pytest.warns(UserWarning, match="partial"):
        b = Bundle(p)
    assert len(b) == 3


@pytest.mark.parametrize("prefetch", [0, 1, 3, 8])
def test_missing_and_corrupt_frames_are_skipped_with_warnings(tmp_path, prefetch):
    p = _write_bundle(tmp_path / "b", n=4)
    (p / "frames/000001.jpg").unlink()
    (p / "frames/000002.jpg").write_bytes(b"\xff\xd8garbage")
    b = Bundle(p)
    with pytest.warns(UserWarning) as rec:
        got = [r.frame_idx for r, _ in b.iter_frames(prefetch=prefetch)]
    assert got == [0, 3]
    msgs = " ".join(str(w.message) for w in rec)
    assert "000001.jpg: frame 1 is missing" in msgs and "000002.jpg: frame 2 is not a readable image" in msgs
    with pytest.raises(FlightError, match="frame 1 is missing"):
        b.read_frame(1)


@pytest.mark.parametrize("prefetch", [2, 5])
def test_prefetched_frames_come_in_order_identical_and_bad_ones_raise_when_not_skipped(tmp_path, prefetch):
    p = _write_bundle(tmp_path / "b", n=9)
    b = Bundle(p)
    plain = list(b.iter_frames())
    ahead = list(b.iter_frames(prefetch=prefetch))
    assert [r.frame_idx for r, _ in ahead] == [r.frame_idx for r, _ in plain] == list(range(9))
    assert all(np.array_equal(a, c) for (_, a), (_, c) in zip(plain, ahead))
    first_two = []
    for r, _ in b.iter_frames(prefetch=prefetch):  # a consumer stopping early leaves no thread behind
        first_two.append(r.frame_idx)
        if len(first_two) == 2:
            break
    assert first_two == [0, 1]
    assert not [t for t in threading.enumerate() if t.name.startswith("read-frames")]
    (p / "frames/000004.jpg").unlink()
    with pytest.raises(FlightError, match="frame 4 is missing"):
        list(Bundle(p).iter_frames(skip_bad=False, prefetch=prefetch))


def test_truncated_telemetry_ends_cleanly(tmp_path):
    p = _write_bundle(tmp_path / "b", n=5)
    data = (p / "telemetry.tlog").read_bytes()
    (p / "telemetry.tlog").write_bytes(data[: len(data) - 7])
    msgs = list(Bundle(p).iter_mavlink(["ATTITUDE"]))
    assert len(msgs) == 4


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda p: (p / "flight.json").unlink(), "flight.json: missing"),
        (lambda p: (p / "flight.json").write_text("{nope"), "flight.json:1: malformed JSON"),
        (lambda p: (p / "flight.json").write_text("{}"), "flight_id: required field is missing"),
        (lambda p: (p / "frames.csv").write_text("idx,time\n0,1\n"), "frames.csv:1: header must be frame_idx,t_ns,file"),
        (lambda p: (p / "frames.csv").write_text("frame_idx,t_ns,file\n0,abc,f.jpg\n"), "frames.csv:2: frame_idx and t_ns must be integers"),
        (lambda p: (p / "frames.csv").write_text("frame_idx,t_ns,file\n0,5,a.jpg\n1,3,b.jpg\n"), "frames.csv:3: t_ns 3 goes back in time"),
        (lambda p: (p / "telemetry.tlog").unlink(), "telemetry.tlog: missing"),
        (lambda p: (p / "frames.csv").write_text("frame_idx,t_ns,file,camera\n0,5,a.jpg,1\n"),
         "frames.csv:2: camera 1: flight.json's T_body_cameras holds 1 camera"),
        (lambda p: (p / "frames.csv").write_text("frame_idx,t_ns,file,camera\n0,5,a.jpg\n"), "frames.csv:2: expected 4 fields"),
    ],
)
def test_bad_bundles_give_one_line_errors(tmp_path, mutate, fragment):
    p = _write_bundle(tmp_path / "b", n=2)
    mutate(p)
    with pytest.raises(FlightError) as e:
        b = Bundle(p)
        list(b.iter_mavlink())
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_meta_records_camera_and_extrinsic(tmp_path):
    from warehouse.camera import CameraSpec, T_body_camera

    spec = CameraSpec()
    meta = FlightMeta(flight_id="c", camera=spec.model_dump(mode="json"), T_body_camera=T_body_camera(spec).tolist())
    b = Bundle(_write_bundle(tmp_path / "b", n=1, meta=meta))
    assert b.camera_spec() == spec
    np.testing.assert_allclose(b.T_body_camera, T_body_camera(spec))
    assert json.loads((tmp_path / "b/flight.json").read_text())["software_version"]


def test_poses_csv(tmp_path):
    with BundleWriter(tmp_path / "b", FlightMeta(flight_id="p")) as w:
        w.write_pose(10, [1, 2, 3], [1, 0, 0, 0])
        w.write_pose(20, [1.5, 2, 3], [1, 0, 0, 0])
    df = Bundle(tmp_path / "b").read_poses_csv()
    assert df["x_m"].tolist() == [1.0, 1.5] and df["t_ns"].tolist() == [10, 20]


def test_a_bundle_of_two_cameras_keeps_each_frames_camera(tmp_path):
    from warehouse.camera import CameraSpec, T_body_camera

    spec = CameraSpec(mounts_yaw_deg=(-90.0, 90.0))
    Ts = [T_body_camera(spec, k) for k in range(2)]
    meta = FlightMeta(flight_id="pair", camera=spec.model_dump(mode="json"), T_body_camera=Ts[0].tolist(),
                      T_body_cameras=[T.tolist() for T in Ts])
    img = np.zeros((8, 8, 3), np.uint8)
    with BundleWriter(tmp_path / "b", meta) as w:
        for k in range(3):
            w.write_frame(img, 1_000 + k, camera=0)
            w.write_frame(img, 1_000 + k, camera=1)
        with pytest.raises(FlightError, match="camera 2: the bundle has 2 camera"):
            w.write_frame(img, 2_000, camera=2)
    b = Bundle(tmp_path / "b")
    assert [f.camera for f in b.frames] == [0, 1] * 3
    per_frame = b.frame_T_body_camera()
    np.testing.assert_allclose(per_frame[3], Ts[1])
    np.testing.assert_allclose(per_frame[4], Ts[0])
    assert b.camera_spec().is_pair
