"""A simulated ArduCopter that speaks real MAVLink 2 (pymavlink, ardupilotmega) over UDP/TCP.

A test double for the runner and the demo, built to behave as ArduCopter does (DESIGN.md
"Flight behaviour") and to start from ArduCopter's real parameter defaults
(``flight.sim.params.ARDUCOPTER_DEFAULTS``): 1 Hz HEARTBEAT with Copter's custom modes, little
telemetry until REQUEST_DATA_STREAM / SET_MESSAGE_INTERVAL, EKF_STATUS_REPORT flags and a pre-arm
bit that turn healthy only after an EKF ready delay and a 3D/RTK fix (indoors: vision >= 4 Hz and
an EKF origin), arming rules with "PreArm:"/"Arm:" STATUSTEXTs and auto-disarm, the mission
protocol for mission, fence and rally, AUTO, RTL and LAND, the battery / GCS / EKF / fence
failsafes as their parameters say, and injected faults (packet drop, RTK or GPS loss, battery
voltage, link cut, refused arm) at set times or through SITL's own SIM_ parameters.
"""

from flight.sim.config import Faults, SimConfig, VehicleSnapshot
from flight.sim.params import ARDUCOPTER_DEFAULTS, SITL_DEFAULTS
from flight.sim.vehicle import SimVehicle, free_udp_port

__all__ = ["Faults", "SimConfig", "SimVehicle", "VehicleSnapshot", "free_udp_port", "ARDUCOPTER_DEFAULTS",
           "SITL_DEFAULTS"]
