"""The mission protocol on the vehicle's side (mission, fence, rally) and AUTO.

As ArduCopter (DESIGN.md "Flight behaviour"): an upload is asked item by item with
MISSION_REQUEST (or MISSION_REQUEST_INT), re-asked after ``mission_retry_s``; item 0 is home;
items are kept as typed ``MavItem``s by the one storage rule, ``flight.mission.as_stored`` (what
AP_Mission, AP_Rally and the fence loader keep), so a download gives back exactly that.
In AUTO, DO items run at once and the next NAV item starts; MISSION_CURRENT and
MISSION_ITEM_REACHED report progress; at the end Copter holds position. NAV items: a waypoint or
spline waypoint (flown straight), takeoff, land, RTL, NAV_LOITER_TIME (there, then wait),
NAV_LOITER_TURNS (there, then the time the turns take at the waypoint speed; the circle is not flown),
NAV_LOITER_UNLIM (there, for ever), NAV_DELAY (wait where it is; a time of day counts as no wait).
DO_JUMP jumps as AP_Mission does (its count per item, -1 for ever). ROI, camera and video commands
and CONDITION_DELAY are kept and run (``log``) but move nothing: the sim has no camera or ROI yaw,
and DO items do not wait for a CONDITION_DELAY.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mission import MavItem, as_stored, f32
from flight.sim.config import LANDED_TAKEOFF

if TYPE_CHECKING:
    from flight.sim.vehicle import SimVehicle

TYPE_NAMES = ("mission", "fence", "rally")
# commands whose x and y are not a position (AP_Mission::convert_MISSION_ITEM_to_MISSION_ITEM_INT)
_XY_NOT_POSITION = {mavlink.MAV_CMD_DO_DIGICAM_CONTROL, mavlink.MAV_CMD_DO_DIGICAM_CONFIGURE,
                    mavlink.MAV_CMD_NAV_ATTITUDE_TIME, mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW}


def received_item(msg, kind: str, mtype: int) -> MavItem:
    """An uploaded MISSION_ITEM_INT or MISSION_ITEM as a MavItem; a MISSION_ITEM's lat/lon become
    degE7 as ArduPilot converts them (``x * 1.0e7f`` in float32, truncated)."""
    if kind == "MISSION_ITEM_INT":
        return replace(MavItem.from_message(msg), mission_type=mtype)
    if msg.command in _XY_NOT_POSITION:
        x, y = int(msg.x), int(msg.y)
    else:
        x, y = (math.trunc(f32(f32(v) * f32(1.0e7))) for v in (msg.x, msg.y))
    return MavItem(seq=int(msg.seq), frame=int(msg.frame), command=int(msg.command), current=int(msg.current),
                   autocontinue=int(msg.autocontinue), param1=float(msg.param1), param2=float(msg.param2),
                   param3=float(msg.param3), param4=float(msg.param4), x=x, y=y, z=float(msg.z), mission_type=mtype)


@dataclass
class _Upload:
    mission_type: int
    count: int
    items: list[MavItem | None]
    next_seq: int = 0
    last_req_sim: float = 0.0
    last_req_wall: float = 0.0
    retries: int = 0


class MissionStore:
    def __init__(self, v: "SimVehicle") -> None:
        self.v = v
        self.items: dict[int, list[MavItem]] = {0: [], 1: [], 2: []}
        self.seq = 1
        self.state = mavlink.MISSION_STATE_NO_MISSION
        self.upload: _Upload | None = None
        self.last_upload_done: tuple[int, int] | None = None
        self.gimbal_pitch_deg = 0.0
        self.jumps: dict[int, int] = {}  # DO_JUMP seq -> times jumped
        self.log: list[tuple[int, int]] = []  # (seq, command) of each item AUTO ran

    def rally_enu(self) -> list[tuple[float, float, float]]:
        return [self.v.item_enu(it) for it in self.items[2]]

    # -- protocol ------------------------------------------------------------------------------
    def _ack(self, msg, result: int, mtype: int) -> None:
        self.v.send(self.v.conn.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), result, mtype))

    def mavlink_packet(self, msg) -> None:
        kind = msg.get_type()
        if not kind.startswith("MISSION_"):
            return
        R, v = mavlink, self.v
        mtype = getattr(msg, "mission_type", 0)
        if kind == "MISSION_COUNT":
            if mtype not in self.items:
                self._ack(msg, R.MAV_MISSION_UNSUPPORTED, mtype)
            elif msg.count == 0:
                self.items[mtype] = []
                self._ack(msg, R.MAV_MISSION_ACCEPTED, mtype)
            else:
                self.upload = _Upload(mission_type=mtype, count=msg.count, items=[None] * msg.count)
                self._request_next()
        elif kind in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            self._item(msg, kind, mtype)
        elif kind == "MISSION_REQUEST_LIST":
            if mtype in self.items:
                n = len(self.items[mtype]) if mtype or self.items[0] else 1
                v.send(v.conn.mav.mission_count_encode(msg.get_srcSystem(), msg.get_srcComponent(), n, mtype))
        elif kind in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            self._send_item(msg, kind, mtype)
        elif kind == "MISSION_CLEAR_ALL":
            if mtype in self.items:
                self.items[mtype] = []
            if mtype == 0:
                self.seq = 1
            self._ack(msg, R.MAV_MISSION_ACCEPTED, mtype)
        elif kind == "MISSION_SET_CURRENT":
            self.set_current(msg.seq)

    def _item(self, msg, kind: str, mtype: int) -> None:
        R = mavlink
        up = self.upload
        if up is None or up.mission_type != mtype:
            if self.last_upload_done == (mtype, msg.seq + 1):  # our ACK was lost: say it again
                self._ack(msg, R.MAV_MISSION_ACCEPTED, mtype)
            return
        if msg.seq != up.next_seq:
            return  # a duplicate or out-of-order answer: the re-request timer asks again
        up.items[msg.seq] = as_stored(received_item(msg, kind, mtype))
        up.next_seq += 1
        up.retries = 0
        if up.next_seq < up.count:
            self._request_next()
            return
        items = up.items
        if mtype == R.MAV_MISSION_TYPE_MISSION:
            items[0] = self.home_item()
            self.seq = 1
            self.jumps = {}
            self.state = R.MISSION_STATE_NOT_STARTED
        self.items[mtype] = items
        self.upload = None
        self.last_upload_done = (mtype, up.count)
        self._ack(msg, R.MAV_MISSION_ACCEPTED, mtype)
        self.v.text(f"Flight plan received ({TYPE_NAMES[mtype]}, {up.count} items)")

    def _send_item(self, msg, kind: str, mtype: int) -> None:
        v = self.v
        items = self.items.get(mtype, [])
        if mtype == 0 and not items:
            items = [self.home_item()]
        if not 0 <= msg.seq < len(items):
            self._ack(msg, mavlink.MAV_MISSION_INVALID_SEQUENCE, mtype)
            return
        it = self.home_item() if mtype == 0 and msg.seq == 0 else items[msg.seq]
        cur = 1 if mtype == 0 and msg.seq == self.seq else 0
        s, c = msg.get_srcSystem(), msg.get_srcComponent()
        params = (it.param1, it.param2, it.param3, it.param4)
        if kind == "MISSION_REQUEST_INT":
            out = v.conn.mav.mission_item_int_encode(s, c, it.seq, it.frame, it.command, cur, it.autocontinue, *params,
                                                     it.x, it.y, it.z, mtype)
        else:  # AP_Mission::convert_MISSION_ITEM_INT_to_MISSION_ITEM: degE7 * 1.0e-7f
            x, y = ((float(it.x), float(it.y)) if it.command in _XY_NOT_POSITION
                    else (f32(f32(it.x) * f32(1.0e-7)), f32(f32(it.y) * f32(1.0e-7))))
            out = v.conn.mav.mission_item_encode(s, c, it.seq, it.frame, it.command, cur, it.autocontinue, *params,
                                                 x, y, it.z, mtype)
        v.send(out)

    def home_item(self) -> MavItem:
        """Slot 0: the vehicle's home (AMSL), as AP_Mission writes it from the AHRS."""
        v = self.v
        lat, lon, _ = v.geo(v.home_enu[0], v.home_enu[1], 0.0)
        return as_stored(MavItem(seq=0, frame=mavlink.MAV_FRAME_GLOBAL_INT, command=mavlink.MAV_CMD_NAV_WAYPOINT,
                                 current=0, autocontinue=1, param1=0.0, param2=0.0, param3=0.0, param4=0.0,
                                 x=int(round(lat * 1e7)), y=int(round(lon * 1e7)), z=float(v.cfg.home_alt_m),
                                 mission_type=0))

    def _request_next(self) -> None:
        up = self.upload
        if up is None:
            return
        up.last_req_sim, up.last_req_wall = self.v.t, time.monotonic()
        mav = self.v.conn.mav
        enc = mav.mission_request_int_encode if self.v.cfg.mission_request_int else mav.mission_request_encode
        self.v.send(enc(255, 0, up.next_seq, up.mission_type))

    def retry_upload(self) -> None:
        up = self.upload
        if up is None:
            return
        if self.v.t - up.last_req_sim >= self.v.cfg.mission_retry_s and time.monotonic() - up.last_req_wall >= 0.25:
            up.retries += 1
            if up.retries > 8:
                self.v.send(self.v.conn.mav.mission_ack_encode(255, 0, mavlink.MAV_MISSION_OPERATION_CANCELLED,
                                                               up.mission_type))
                self.upload = None
                return
            self._request_next()

    # -- AUTO ----------------------------------------------------------------------------------
    def set_current(self, seq: int) -> None:
        if 0 <= seq < max(1, len(self.items[0])):
            self.seq = max(1, seq)
            if self.v.mode == "AUTO" and self.v.armed:
                self.start_item()
            self.v.telemetry.send_one("MISSION_CURRENT")

    def start_auto(self) -> None:
        if self.seq < 1 or self.seq >= len(self.items[0]):
            self.seq = 1
        self.state = mavlink.MISSION_STATE_ACTIVE
        if self.v.armed:
            self.start_item()

    def start_item(self) -> None:
        """Run DO items at once and start the next NAV item at ``self.seq``."""
        R, v = mavlink, self.v
        ph = v.nav
        items = self.items[0]
        for _ in range(256):  # AP_Mission gives up after 255 jumps without a NAV item
            if self.seq >= len(items):
                break
            it = items[self.seq]
            cmd, p1, p2, p4 = it.command, it.param1, it.param2, it.param4
            self.log.append((self.seq, cmd))
            if cmd in (R.MAV_CMD_NAV_WAYPOINT, R.MAV_CMD_NAV_SPLINE_WAYPOINT, R.MAV_CMD_NAV_LOITER_TIME,
                       R.MAV_CMD_NAV_LOITER_TURNS, R.MAV_CMD_NAV_LOITER_UNLIM):
                # a waypoint's start resets the heading to WP_YAW_BEHAVIOR's default (face the next
                # waypoint) unless a CONDITION_YAW heading holds and WP_YAW_BEHAVIOR is 0
                if not (ph.yaw_fixed and v.params["WP_YAW_BEHAVIOR"] == 0):
                    ph.yaw_target, ph.yaw_fixed = None, False
                if cmd == R.MAV_CMD_NAV_LOITER_UNLIM:
                    hold = math.inf
                elif cmd == R.MAV_CMD_NAV_LOITER_TURNS:
                    hold = p1 * 2 * math.pi * max(abs(it.param3), 1.0) / max(ph.speed_m_s, 0.1)
                else:
                    hold = p1
                ph.nav = {"kind": "wp", "seq": self.seq, "hold": hold, "arrived": None}
                ph.target = v.item_enu(it)
                v.telemetry.send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_NAV_DELAY:
                ph.nav = {"kind": "wp", "seq": self.seq, "hold": max(0.0, p1), "arrived": None}
                ph.target = ph.pos
                v.telemetry.send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_NAV_TAKEOFF:
                s = ph.state
                ph.nav = {"kind": "takeoff", "seq": self.seq}
                ph.target = (s.east_m, s.north_m, max(0.5, it.z))
                if v.landed:
                    v.landed, v.landed_state = False, LANDED_TAKEOFF
                v.telemetry.send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_NAV_LAND:
                e, n, _ = v.item_enu(it)
                ph.start_land(seq=self.seq, at=(e, n))
                v.telemetry.send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_NAV_RETURN_TO_LAUNCH:
                ph.start_rtl(seq=self.seq)
                v.telemetry.send_one("MISSION_CURRENT")
                return
            if cmd == R.MAV_CMD_DO_JUMP:
                done = self.jumps.get(self.seq, 0)
                if 0 < p1 < len(items) and (p2 < 0 or done < p2):
                    self.jumps[self.seq] = done + 1
                    self.seq = int(p1)
                    continue
            elif cmd == R.MAV_CMD_DO_CHANGE_SPEED and p2 > 0:
                ph.speed_m_s = float(p2)
            elif cmd == R.MAV_CMD_CONDITION_YAW:
                ph.yaw_target = (ph.state.yaw_deg + p1 * (1 if p2 >= 0 else -1)) % 360.0 if p4 else p1 % 360.0
                ph.yaw_fixed = True
            elif cmd in (R.MAV_CMD_DO_MOUNT_CONTROL, R.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW):
                self.gimbal_pitch_deg = float(p1)
            self.seq += 1
        # mission complete: Copter holds position in AUTO
        ph.nav = None
        self.state = R.MISSION_STATE_COMPLETE
        ph.target = ph.pos
        self.seq = max(1, len(items) - 1)
        v.text("Mission complete; holding position")
        v.telemetry.send_one("MISSION_CURRENT")

    def reached(self, seq: int) -> None:
        self.v.send(self.v.conn.mav.mission_item_reached_encode(seq))
        self.v.text(f"Reached command #{seq}")
        self.seq = seq + 1
        self.start_item()

    def landed_at_end(self, seq: int) -> None:
        self.v.send(self.v.conn.mav.mission_item_reached_encode(seq))
        self.state = mavlink.MISSION_STATE_COMPLETE
