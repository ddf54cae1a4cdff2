"""``flight.session``: the camera option parser and the bad requests refused before anything is
recorded (the flights themselves are flown in tests/rackscan/test_cmd_fly.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.errors import FlightError
from flight.runner import RunnerOptions
from flight.session import FlyRequest, fly, parse_camera


@pytest.mark.parametrize("text, parsed", [("none", ("none", None)), ("synthetic", ("synthetic", None)),
                                          ("opencv:0", ("opencv", 0)), ("opencv:12", ("opencv", 12))])
def test_camera_option(text, parsed):
    assert parse_camera(text) == parsed


@given(st.text(max_size=20))
def test_any_camera_text_parses_or_is_one_line_error(text):
    try:
        kind, index = parse_camera(text)
    except FlightError as exc:
        assert str(exc).startswith("--camera: ") and "expected none, opencv:INDEX" in str(exc) and "\n" not in str(exc)
    else:
        assert kind in ("none", "synthetic", "opencv") and (index is None) == (kind != "opencv")


@pytest.mark.parametrize("change, message", [
    (dict(options=replace(RunnerOptions(), abort_mode="HOVER")), "--abort-mode: 'HOVER'; expected RTL or LAND"),
    (dict(resume=True, resume_from="x"), "--resume and --resume-from: give one"),
    (dict(options=replace(RunnerOptions(), signing_key=b"short")), "signing key: 5 bytes; expected 32"),
])
def test_bad_requests_are_refused_before_recording(tmp_path, change, message):
    req = replace(FlyRequest(plan_file=tmp_path / "m.plan", record=tmp_path / "b"), **change)
    with pytest.raises(FlightError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fly(req)
    assert not (tmp_path / "b").exists()
