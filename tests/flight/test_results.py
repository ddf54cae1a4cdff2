"""Typed vehicle outcomes: MAV_RESULT, MAV_MISSION_RESULT and MAV_PARAM_ERROR as enums, and the
one-line CommandError naming the command and the result."""

from __future__ import annotations

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.errors import FlightError
from flight.results import CommandError, CommandResult, MissionResult, ParamError, command_name


@pytest.mark.parametrize("value, name, refused", [
    (0, "ACCEPTED", False), (1, "TEMPORARILY_REJECTED", True), (2, "DENIED", True), (3, "UNSUPPORTED", True),
    (4, "FAILED", True), (5, "IN_PROGRESS", False), (6, "CANCELLED", True), (7, "COMMAND_LONG_ONLY", True),
    (9, "COMMAND_UNSUPPORTED_MAV_FRAME", True),
])
def test_command_results_are_mavlinks_numbers(value, name, refused):
    r = CommandResult.of(value)
    assert r.name == name and r.refused is refused and r == value
    known = mavlink.enums["MAV_RESULT"].get(value)  # 6 and 9 are newer than this pymavlink's common.xml
    assert known is None or known.name in (f"MAV_RESULT_{name}", "MAV_RESULT_ENUM_END")


def test_every_mavlink_result_has_a_member():
    assert {e.name.removeprefix("MAV_RESULT_") for v, e in mavlink.enums["MAV_RESULT"].items()
            if not e.name.endswith("ENUM_END")} <= {r.name for r in CommandResult}
    assert {e.name.removeprefix("MAV_MISSION_") for v, e in mavlink.enums["MAV_MISSION_RESULT"].items()
            if not e.name.endswith("ENUM_END")} <= {r.name for r in MissionResult}


@pytest.mark.parametrize("enum, value, message", [
    (CommandResult, 42, "COMMAND_ACK: result: 42; expected a MAV_RESULT (0-9)"),
    (MissionResult, 99, "MISSION_ACK: type: 99; expected a MAV_MISSION_RESULT (0-15)"),
])
def test_an_unknown_number_is_a_one_line_error(enum, value, message):
    with pytest.raises(FlightError) as err:
        enum.of(value)
    assert str(err.value) == message


@pytest.mark.parametrize("value, why", [(1, "the vehicle has no such parameter"), (2, "value out of range"),
                                        (5, "read only"), (7, "type mismatch")])
def test_param_errors_say_why(value, why):
    assert ParamError.of(value).why == why
    assert ParamError.of(250) is None


@pytest.mark.parametrize("cmd, name", [(400, "COMPONENT_ARM_DISARM"), (22, "NAV_TAKEOFF"), (176, "DO_SET_MODE"),
                                       (65000, "65000")])
def test_command_names(cmd, name):
    assert command_name(cmd) == name


@pytest.mark.parametrize("kw, text", [
    (dict(command=400, result=CommandResult.DENIED, what="arming", attempt=2, state="vehicle GUIDED, disarmed",
          reason="PreArm: Need Position Estimate"),
     "vehicle refused arming (COMPONENT_ARM_DISARM: DENIED, try 2; vehicle GUIDED, disarmed): PreArm: Need Position Estimate"),
    (dict(command=22, result=CommandResult.NO_ANSWER, attempt=6),
     "vehicle did not confirm NAV_TAKEOFF (NAV_TAKEOFF: NO_ANSWER) after 6 tries; link lost?"),
])
def test_command_error_is_one_line_naming_the_command_and_result(kw, text):
    err = CommandError(**kw)
    assert str(err) == text and isinstance(err, FlightError) and err.result is kw["result"]
