"""Live cameras for `rackscan fly`: a real H.264 MPEG-TS stream over UDP (PyAV's libx264 sending,
FFmpeg's demuxer receiving) recorded with each frame's own time; the `--camera` names; and the
MAVLink camera protocol, from the command that starts it to the photos imported at the times of
their CAMERA_IMAGE_CAPTURED."""

from __future__ import annotations

import os
import socket
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from flight.bundle import Bundle, BundleWriter, FlightMeta
from flight.errors import FlightError
from flight.livecam import (MAV_CMD_IMAGE_START_CAPTURE, StreamCamera, TimedFrame, captured_image, image_start_capture,
                            image_stop_capture, parse_camera_source)
from flight.recorder import FlightRecorder, VehiclePose


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send_stream(url: str, n: int, fps: float, started: threading.Event) -> None:
    import av

    c = av.open(url, "w", format="mpegts")
    s = c.add_stream("libx264", rate=int(fps))
    s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
    s.codec_context.time_base = Fraction(1, int(fps))
    s.options = {"tune": "zerolatency", "preset": "ultrafast"}
    started.set()
    t0 = time.monotonic()
    for i in range(n):
        img = np.full((240, 320, 3), (i * 7) % 255, np.uint8)
        f = av.VideoFrame.from_ndarray(img, format="bgr24")
        f.pts = i
        for p in s.encode(f):
            c.mux(p)
        time.sleep(max(0.0, t0 + (i + 1) / fps - time.monotonic()))
    for p in s.encode():
        c.mux(p)
    c.close()


def test_a_udp_stream_is_recorded_with_each_frames_own_time(tmp_path):
    port = _free_udp_port()
    fps = 10.0
    started = threading.Event()
    cam = StreamCamera(f"udp://127.0.0.1:{port}", open_timeout_s=10)
    sender = threading.Thread(target=_send_stream, args=(f"udp://127.0.0.1:{port}?pkt_size=1316", 50, fps, started))
    sender.start()
    cam.start()
    pose = VehiclePose(lat_deg=0, lon_deg=0, alt_amsl_m=0, rel_alt_m=2, roll_rad=0, pitch_rad=0, yaw_rad=0)
    w = BundleWriter(tmp_path / "b", FlightMeta(flight_id="stream"))
    rec = FlightRecorder(w, camera=cam, fps=fps / 2, pose=lambda: pose).start()
    sender.join(timeout=30)
    sent_end_s = time.time()
    time.sleep(0.5)
    rec.stop("complete")
    cam.close()
    t = Bundle(tmp_path / "b").frame_times_ns
    assert cam.frames_read >= 30 and len(t) >= 10, (cam.frames_read, len(t), cam.error, rec.errors)
    steps_ms = np.diff(t) / 1e6
    # the stream's pts set the spacing (whole frames of 100 ms), not when the recorder asked; the first
    # steps may move by the few ms the anchor settles as less-delayed frames arrive
    off = np.abs(steps_ms - 100.0 * np.round(steps_ms / 100.0))
    assert np.all(off < 50.0) and np.all(off[3:] < 1.0), steps_ms
    assert abs(t[-1] / 1e9 - sent_end_s) < 1.0  # on the ground station's clock, the last frames sent


def test_a_stream_frame_time_is_anchored_by_the_least_delayed_frame():
    cam = StreamCamera("udp://127.0.0.1:1")
    base = 1_800_000_000_000_000_000
    # frames 0..2 arrive in a burst 300 ms late, frame 3 on time (50 ms after capture)
    times = [cam.frame_time_ns(k * 0.1, base + 300_000_000 + k * 1000) for k in range(3)]
    t3 = cam.frame_time_ns(0.3, base + 350_000_000)
    assert times[0] == base + 300_000_000 and t3 == base + 350_000_000  # the burst is stamped late only until
    assert all(t <= base + 300_000_000 + 2000 for t in times)  # a less-delayed frame sets the anchor
    assert cam.frame_time_ns(0.4, base + 900_000_000) == base + 450_000_000  # a late frame keeps its place
    v4l2_s = 1_790_000_000.25  # a V4L2 device's own wall-clock stamp
    assert cam.frame_time_ns(v4l2_s, base) == int(round(v4l2_s * 1e9))


@pytest.mark.parametrize("text,kind,where", [
    ("none", "none", ""), ("synthetic", "synthetic", ""), ("mavlink", "mavlink", ""), ("opencv:0", "opencv", "0"),
    ("v4l2:/dev/video2", "v4l2", "/dev/video2"), ("/dev/video0", "v4l2", "/dev/video0"),
    ("rtsp://10.0.0.5:8554/cam", "stream", "rtsp://10.0.0.5:8554/cam"), ("udp://0.0.0.0:5600", "stream", "udp://0.0.0.0:5600"),
])
def test_camera_names(text, kind, where):
    s = parse_camera_source(text)
    assert (s.kind, s.where) == (kind, where)


@pytest.mark.parametrize("text,what", [
    ("gst:udpsrc port=5600 ! rtph264depay ! avdec_h264 ! appsink", "GStreamer pipeline"),
    ("webcam", "expected none, synthetic, mavlink"),
])
def test_a_camera_that_cannot_be_opened_here_is_refused_in_one_line(text, what):
    with pytest.raises(FlightError) as e:
        parse_camera_source(text)
    assert what in str(e.value) and "\n" not in str(e.value)


def test_a_stream_that_does_not_open_stops_before_the_flight():
    with pytest.raises(FlightError, match="cannot open"):
        StreamCamera("rtsp://127.0.0.1:9/none", open_timeout_s=1).start()


def _mav():
    os.environ.setdefault("MAVLINK20", "1")
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    class _Sink:
        def write(self, b):
            pass

    return mavlink2, mavlink2.MAVLink(_Sink(), srcSystem=1, srcComponent=100)


def test_the_mavlink_camera_protocol_start_stop_and_captures():
    mavlink2, mav = _mav()
    start = image_start_capture(mav, 1, 100, interval_s=0.5, count=0, first_seq=1)
    assert start.command == MAV_CMD_IMAGE_START_CAPTURE and start.param2 == 0.5 and start.param3 == 0
    assert image_stop_capture(mav, 1, 100).command == 2001
    with pytest.raises(FlightError, match="interval"):
        image_start_capture(mav, 1, 100, interval_s=0)
    m = mav.camera_image_captured_encode(1234, 1_790_000_000_250_000, 0, 0, 0, 0, 0, [1, 0, 0, 0], 7, 1,
                                         b"/DCIM/IMG_0007.JPG")
    m.pack(mav)
    got = captured_image(mav.decode(bytearray(m.get_msgbuf())))
    assert got is not None and got.index == 7 and got.t_ns == 1_790_000_000_250_000_000 and got.ok
    assert got.file_url == "/DCIM/IMG_0007.JPG"


def test_photos_of_a_camera_on_the_autopilot_are_placed_at_their_captured_messages(tmp_path):
    """A tlog as `rackscan fly --camera mavlink` records it (positions, attitude, a CAMERA_IMAGE_CAPTURED
    per photo) and the camera's card (EXIF times 0.25 s fast): the import puts each photo at its message."""
    from imports.importer import ImportOptions, import_flight
    from tests.imports.helpers import photos_at, site_at, small_camera

    _, mav = _mav()
    t0 = 1_790_000_000_000_000_000
    w = BundleWriter(tmp_path / "flown", FlightMeta(flight_id="cam"))
    shots = []
    for k in range(200):  # 20 s at 10 Hz
        t = t0 + k * 100_000_000
        ms = k * 100
        for m in (mav.system_time_encode(t // 1000, ms), mav.attitude_encode(ms, 0.0, 0.0, 0.3, 0, 0, 0),
                  mav.global_position_int_encode(ms, int(10.8231 * 1e7) + k * 5, int(106.6297 * 1e7), 12000, 3000,
                                                 0, 0, 0, 0)):
            m.pack(mav)
            w.write_mavlink(m, t)
        if k % 5 == 2:
            idx = len(shots) + 1
            m = mav.camera_image_captured_encode(ms, t // 1000, 0, 0, 0, 0, 0, [1, 0, 0, 0], idx, 1, b"")
            m.pack(mav)
            w.write_mavlink(m, t + 30_000_000)
            shots.append(t)
    w.close()
    photos = photos_at(tmp_path / "card", [t + 250_000_000 for t in shots], "+07:00")
    r = import_flight(ImportOptions(logs=(tmp_path / "flown" / "telemetry.tlog",), images=photos,
                                    camera=small_camera(tmp_path / "cam.yaml"),
                                    site=site_at(tmp_path / "site.yaml", 10.8231, 106.6297, 9.0), out=tmp_path / "b"))
    ft = r.frame_timing
    assert ft["source"].startswith("camera triggers: CAMERA_IMAGE_CAPTURED") and ft["matched"] == len(shots) == 40
    assert abs(ft["offset_s"] + 0.25) < 1e-3
    assert Bundle(tmp_path / "b").frame_times_ns.tolist() == shots
