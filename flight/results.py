"""What a vehicle answers, as typed outcomes (as MAVSDK-Python's ``ActionResult.Result`` and
``ActionError``): MAV_RESULT for commands (COMMAND_ACK), MAV_MISSION_RESULT for the mission
protocol (MISSION_ACK), MAV_PARAM_ERROR for parameters (PARAM_ERROR), and ``CommandError``, the
one-line error that names the command and the result.

The numbers are MAVLink's (common.xml); the enums are IntEnums, so they go on the wire as they are.
"""

from __future__ import annotations

from enum import IntEnum

from flight.errors import FlightError


class CommandResult(IntEnum):
    """MAV_RESULT, plus NO_ANSWER (not on the wire) for a command nobody confirmed."""

    NO_ANSWER = -1  # no COMMAND_ACK and no sign of the command taking effect within the tries
    ACCEPTED = 0
    TEMPORARILY_REJECTED = 1
    DENIED = 2
    UNSUPPORTED = 3
    FAILED = 4
    IN_PROGRESS = 5
    CANCELLED = 6  # common.xml (newer than this pymavlink)
    COMMAND_LONG_ONLY = 7
    COMMAND_INT_ONLY = 8
    COMMAND_UNSUPPORTED_MAV_FRAME = 9  # common.xml (newer than this pymavlink)

    @classmethod
    def of(cls, value: int) -> "CommandResult":
        """The result for a COMMAND_ACK's ``result`` field; FlightError for a number MAVLink does not define."""
        try:
            return cls(int(value))
        except ValueError:
            raise FlightError(f"COMMAND_ACK: result: {value}; expected a MAV_RESULT (0-9)") from None

    @property
    def refused(self) -> bool:
        """The vehicle said no (trying the same command again will not help)."""
        return self in _REFUSED


_REFUSED = frozenset({CommandResult.TEMPORARILY_REJECTED, CommandResult.DENIED, CommandResult.UNSUPPORTED,
                      CommandResult.FAILED, CommandResult.CANCELLED, CommandResult.COMMAND_LONG_ONLY,
                      CommandResult.COMMAND_INT_ONLY, CommandResult.COMMAND_UNSUPPORTED_MAV_FRAME})


class MissionResult(IntEnum):
    """MAV_MISSION_RESULT (MISSION_ACK.type)."""

    ACCEPTED = 0
    ERROR = 1
    UNSUPPORTED_FRAME = 2
    UNSUPPORTED = 3
    NO_SPACE = 4
    INVALID = 5
    INVALID_PARAM1 = 6
    INVALID_PARAM2 = 7
    INVALID_PARAM3 = 8
    INVALID_PARAM4 = 9
    INVALID_PARAM5_X = 10
    INVALID_PARAM6_Y = 11
    INVALID_PARAM7 = 12
    INVALID_SEQUENCE = 13
    DENIED = 14
    OPERATION_CANCELLED = 15

    @classmethod
    def of(cls, value: int) -> "MissionResult":
        try:
            return cls(int(value))
        except ValueError:
            raise FlightError(f"MISSION_ACK: type: {value}; expected a MAV_MISSION_RESULT (0-15)") from None


class ParamError(IntEnum):
    """MAV_PARAM_ERROR (PARAM_ERROR.error)."""

    NO_ERROR = 0
    DOES_NOT_EXIST = 1
    VALUE_OUT_OF_RANGE = 2
    PERMISSION_DENIED = 3
    COMPONENT_NOT_FOUND = 4
    READ_ONLY = 5
    TYPE_UNSUPPORTED = 6
    TYPE_MISMATCH = 7
    READ_FAIL = 8

    @classmethod
    def of(cls, value: int) -> "ParamError | None":
        try:
            return cls(int(value))
        except ValueError:
            return None

    @property
    def why(self) -> str:
        return {ParamError.DOES_NOT_EXIST: "the vehicle has no such parameter",
                ParamError.VALUE_OUT_OF_RANGE: "value out of range",
                ParamError.PERMISSION_DENIED: "permission denied",
                ParamError.READ_ONLY: "read only"}.get(self, self.name.lower().replace("_", " "))


def command_name(command: int) -> str:
    """``MAV_CMD_COMPONENT_ARM_DISARM`` -> ``COMPONENT_ARM_DISARM``; the number when MAVLink has no name."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    entry = mavlink.enums.get("MAV_CMD", {}).get(int(command))
    name = getattr(entry, "name", "")
    return name.removeprefix("MAV_CMD_") if name else str(int(command))


class CommandError(FlightError):
    """A command the vehicle refused or never confirmed: ``command`` (MAV_CMD), ``result``, ``what``
    (the operator's word for it, e.g. "arming"), ``attempt`` (1-based) and the vehicle's own reason."""

    def __init__(self, *, command: int, result: CommandResult, what: str = "", attempt: int = 1, state: str = "",
                 reason: str = "") -> None:
        self.command, self.result, self.what, self.attempt, self.reason = int(command), result, what, attempt, reason
        label = what or command_name(command)
        if result is CommandResult.NO_ANSWER:
            text = (f"vehicle did not confirm {label} ({command_name(command)}: {result.name}) after {attempt} tries; "
                    "link lost?")
        else:
            text = (f"vehicle refused {label} ({command_name(command)}: {result.name}, try {attempt}"
                    + (f"; {state}" if state else "") + ")" + (f": {reason}" if reason else ""))
        super().__init__(text)


__all__ = ["CommandResult", "MissionResult", "ParamError", "CommandError", "command_name"]
