"""The one ArduCopter storage rule, ``flight.mission.as_stored``: a table of what AP_Mission,
AP_Rally and the fence loader keep (checked against real ArduCopter SITL in
``test_sitl.py::test_arducopter_keeps_each_item_as_as_stored_says``), the runner's verification built
on it, and the simulated vehicle storing random items exactly as the rule says (hypothesis, over
real MAVLink on loopback UDP)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil  # noqa: E402

from flight.mission import MavItem, as_stored, f32, same_stored, stored_differences  # noqa: E402
from flight.sim import SimConfig, SimVehicle  # noqa: E402

LAT, LON = 107769000, 1067009000
NAN = float("nan")


def _it(cmd, p=(0.0, 0.0, 0.0, 0.0), *, frame=6, x=LAT, y=LON, z=0.0, mtype=0, seq=1) -> MavItem:
    return MavItem(seq=seq, frame=frame, command=cmd, current=1, autocontinue=1, param1=p[0], param2=p[1],
                   param3=p[2], param4=p[3], x=x, y=y, z=z, mission_type=mtype)


def _cm(alt_m: float) -> float:
    """A whole-centimetre altitude as ArduCopter sends it back (``alt_cm * 0.01f``)."""
    return f32(f32(round(alt_m * 100)) * f32(0.01))


@pytest.mark.parametrize("sent, kept", [
    # waypoint: the delay in whole seconds, no yaw or radii; altitude cut to the centimetre; non-INT frame
    (_it(16, (2.7, 1.5, 3.0, 90.0), z=7.999), dict(frame=3, param1=2.0, param2=0.0, param3=0.0, param4=0.0, z=_cm(7.99))),
    (_it(16, (0.4, 0, 0, NAN), frame=5, z=20.37), dict(frame=0, param1=0.0, param4=0.0, z=_cm(20.37))),
    (_it(16, (-3.0, 0, 0, 0), frame=6, z=3.0), dict(frame=3, param1=0.0, z=3.0)),  # uint16: clamped
    (_it(22, (0.0, 0, 0, NAN), z=2.345), dict(frame=3, param4=0.0, z=_cm(2.34))),
    # land: param4 comes back as its loiter direction
    (_it(21, (0, 0, 0, -0.5)), dict(frame=3, param4=-1.0)), (_it(21, (0, 0, 0, 0.0)), dict(frame=3, param4=1.0)),
    (_it(21, (0, 0, 0, NAN)), dict(frame=3, param4=1.0)),
    # items without a location: frame 0, no x, y, z
    (_it(20, frame=2, z=5.0), dict(frame=0, x=0, y=0, z=0.0)),
    (_it(115, (90.5, 10.25, -1.7, 1.9), frame=2), dict(frame=0, x=0, y=0, param3=-1.0, param4=1.0)),
    (_it(178, (1.6, 1.25, -1.0, 7.0), frame=2), dict(frame=0, x=0, y=0, param1=1.0, param4=0.0)),
    (_it(205, (-30.5, 1.5, 0, 9.0), frame=2, z=0.0), dict(frame=0, x=0, y=0, param4=0.0, z=2.0)),
    (_it(1000, (-20.7, 135.9, 5.5, -3.2), frame=2, x=0x1FF, z=1.9),
     dict(frame=0, param1=-20.0, param2=135.0, param3=5.0, param4=-3.0, x=0xFF, y=0, z=1.0)),
    # what a QGroundControl plan may add (measured on SITL by test_sitl.py's probe): loiter radii and
    # directions packed, turns in 256ths below one, delays and jump counts as integers, ROI locations kept
    (_it(17, (0, 0, -12.7, 0), z=4.0), dict(frame=3, param3=-12.0, z=4.0)),
    (_it(18, (2.6, 0, -300.0, 0.5), z=4.0), dict(frame=3, param1=2.0, param3=-300.0, param4=1.0, z=4.0)),
    (_it(18, (0.5, 0, 3.7, 0), z=4.0), dict(frame=3, param1=0.5, param3=3.0, z=4.0)),
    (_it(19, (5.9, 1.0, -0.2, 0), z=4.0), dict(frame=3, param1=5.0, param2=0.0, param3=-1.0, param4=0.0, z=4.0)),
    (_it(82, (1.9, 0, 0, 0), z=4.0), dict(frame=3, param1=1.0, z=4.0)),
    (_it(93, (2.5, -1.0, -1.7, 30.9), frame=2), dict(frame=0, x=0, y=0, param3=-1.0, param4=30.0)),
    (_it(177, (3.7, -1.0, 5, 5), frame=2), dict(frame=0, x=0, y=0, param1=3.0, param3=0.0, param4=0.0)),
    (_it(195, (1.6, 2, 3, 4), z=1.234), dict(frame=3, param1=1.0, param2=0.0, param3=0.0, param4=0.0, z=_cm(1.23))),
    (_it(203, (1.0, 2.9, -1.0, 1.0), frame=2, x=1, y=300), dict(frame=0, param2=2.0, x=1, y=44)),
    (_it(2000, (0.0, 1.5, 10.9, 3.0), frame=2), dict(frame=0, x=0, y=0, param3=10.0)),
    # fence: vertex count (uint8) or radius, frame 0, no z, autocontinue 0
    (_it(5001, (4.7, 1, 1, 1), frame=5, z=3.0, mtype=1),
     dict(frame=0, param1=4.0, param2=0.0, param3=0.0, param4=0.0, z=0.0, autocontinue=0)),
    (_it(5004, (12.5, 0, 0, 0), frame=5, mtype=1), dict(frame=0, autocontinue=0)),
    # rally: whole metres (int16), non-INT frame
    (_it(5100, (1, 2, 3, 4), z=3.7, mtype=2), dict(frame=3, param1=0.0, param2=0.0, param3=0.0, param4=0.0, z=3.0,
                                                   autocontinue=0)),
    (_it(5100, z=-2.5, frame=5, mtype=2), dict(frame=0, z=-2.0, autocontinue=0)),
])
def test_what_arducopter_keeps(sent, kept):
    got = asdict(as_stored(sent))
    want = {**{k: f32(v) if isinstance(v, float) else v for k, v in asdict(sent).items()}, "current": 0, **kept}
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == want[k] or (got[k] != got[k] and want[k] != want[k]), (k, got[k], want[k])


@pytest.mark.parametrize("sent, back_change, phrase", [
    (_it(16, (2.5, 0, 0, 0), z=3.0), {}, "param1 2.5 is kept as 2 (a whole number)"),
    (_it(16, z=3.0), {"x": LAT + 1}, f"x {LAT + 1}, expected {LAT}"),
    (_it(16, z=3.0), {"z": 3.5}, "z 3.5, expected 3"),
    (_it(16, z=3.0), {"command": 22}, "command 22, expected 16"),
    (_it(5100, z=3.5, mtype=2), {}, "z 3.5 m is kept as 3 m"),
    (_it(115, (90.0, 0, 0.5, 0), frame=2), {}, "param3 0.5 is kept as 0 (a whole number)"),
])
def test_the_runner_sees_what_the_vehicle_did_not_keep(sent, back_change, phrase):
    back = replace(as_stored(sent), **back_change)
    assert phrase in stored_differences(sent, back) and not same_stored(sent, back)


@pytest.mark.parametrize("sent", [_it(16, (2.0, 0, 0, NAN), z=2.345), _it(21, z=0.0), _it(115, (90.0, 0, 0, 0), frame=2),
                                  _it(5100, z=3.0, mtype=2), _it(5001, (4, 0, 0, 0), frame=5, mtype=1)])
def test_an_item_the_vehicle_keeps_verifies(sent):
    assert stored_differences(sent, as_stored(sent)) == []


# -- the simulated vehicle stores random items by the rule ---------------------------------------
_F32 = st.floats(-1e5, 1e5, width=32, allow_nan=False)
_TENTH = f32(0.1)
_MISSION_CMDS = (16, 20, 21, 22, 115, 178, 205, 1000,
                 # what a QGroundControl plan may add: loiters, spline, delays, jump, ROI, camera, video
                 17, 18, 19, 82, 93, 112, 177, 195, 197, 201, 203, 206, 2000, 2001, 2500, 2501)


@st.composite
def _mission_item(draw, seq: int) -> MavItem:
    cmd = draw(st.sampled_from(_MISSION_CMDS))
    p = [draw(_F32) for _ in range(4)]
    if cmd in (16, 21, 22) and draw(st.booleans()):
        p[3] = NAN  # ArduCopter accepts NaN ("unchanged") in param4 of these
    return _it(cmd, tuple(p), frame=draw(st.sampled_from((0, 2, 3, 5, 6))), seq=seq,
               x=LAT + draw(st.integers(-10**6, 10**6)) if cmd not in (203, 1000) else draw(st.integers(0, 2**31 - 1)),
               y=LON + draw(st.integers(-10**6, 10**6)) if cmd != 203 else draw(st.integers(0, 2**31 - 1)),
               z=draw(st.floats(-500, 5000, width=32)))


@st.composite
def _fence_or_rally(draw, seq: int, mtype: int) -> MavItem:
    cmd = 5100 if mtype == 2 else draw(st.sampled_from((5001, 5002, 5003, 5004)))
    p1 = draw(st.floats(0, 255, width=32)) if cmd in (5001, 5002) else draw(st.floats(_TENTH, 1e4, width=32))
    return _it(cmd, (p1, draw(_F32), 0.0, 0.0), frame=draw(st.sampled_from((0, 3, 5, 6))), seq=seq, mtype=mtype,
               x=LAT + draw(st.integers(-10**6, 10**6)), y=LON + draw(st.integers(-10**6, 10**6)),
               z=draw(st.floats(-3000, 3000, width=32)))


@st.composite
def _upload(draw):
    mtype = draw(st.sampled_from((0, 1, 2)))
    n = draw(st.integers(1, 5))
    if mtype == 0:
        home = _it(16, frame=0, seq=0, z=10.0)
        return mtype, [home] + [draw(_mission_item(seq)) for seq in range(1, n + 1)]
    return mtype, [draw(_fence_or_rally(seq, mtype)) for seq in range(n)]


@pytest.fixture(scope="module")
def vehicle():
    gcs = mavutil.mavlink_connection("udpin:127.0.0.1:0", source_system=255, source_component=190, dialect="ardupilotmega")
    veh = SimVehicle(f"udpout:127.0.0.1:{gcs.port.getsockname()[1]}", SimConfig(speedup=10)).start()
    assert gcs.recv_match(type="HEARTBEAT", blocking=True, timeout=10) is not None
    yield gcs
    veh.stop()
    gcs.close()


def _recv(gcs, kind: str, cond, timeout_s: float = 5.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        m = gcs.recv_match(type=kind, blocking=True, timeout=0.2)
        if m is not None and cond(m):
            return m
    raise AssertionError(f"no {kind} within {timeout_s} s")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(upload=_upload())
def test_the_simulated_vehicle_stores_random_items_as_the_rule_says(vehicle, upload):
    gcs, (mtype, items) = vehicle, upload
    gcs.mav.mission_count_send(1, 1, len(items), mtype)
    while True:
        m = _recv(gcs, ["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], lambda m: m.mission_type == mtype)
        if m.get_type() == "MISSION_ACK":
            assert m.type == 0
            break
        it = items[m.seq]
        gcs.mav.mission_item_int_send(1, 1, it.seq, it.frame, it.command, it.current, it.autocontinue, it.param1,
                                      it.param2, it.param3, it.param4, it.x, it.y, it.z, it.mission_type)
    for it in items[1:] if mtype == 0 else items:  # the vehicle keeps its own home in slot 0
        gcs.mav.mission_request_int_send(1, 1, it.seq, mtype)
        back = MavItem.from_message(_recv(gcs, "MISSION_ITEM_INT", lambda m: m.seq == it.seq and m.mission_type == mtype))
        want, got = asdict(as_stored(it)), asdict(back)
        assert {k: v for k, v in got.items() if k != "current"} == pytest.approx(
            {k: v for k, v in want.items() if k != "current"}, nan_ok=True, rel=0, abs=0), (it, got, want)
        assert stored_differences(it, back) == [] or any("is kept as" in d for d in stored_differences(it, back))
