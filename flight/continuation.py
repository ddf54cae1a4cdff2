"""A flight in several bundles: the interrupted one (``OUT``) and its continuations (``OUT.resume1``,
``OUT.resume2``, ...), each recorded by ``rackscan fly --resume``.

``plan_continuation`` reads where the latest bundle stopped (its ``flight_result.json``, in the
plan's own numbering) and builds the rest as a mission of its own with
``flight.mission.resume_from``; ``result_json`` writes what a flight did in both numberings, so
the next continuation starts from the right place; ``flight_bundles`` lists the bundles of one
flight in order, for processing them as one count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flight.errors import FlightError
from flight.mission import Mission, resume_from

RESULT_FILE = "flight_result.json"


def flight_bundles(record: str | Path) -> list[Path]:
    """``record`` and its continuations that exist, in the order they were flown."""
    record = Path(record)
    out = [record]
    n = 1
    while Path(f"{record}.resume{n}").is_dir():
        out.append(Path(f"{record}.resume{n}"))
        n += 1
    return out


def read_result(bundle: str | Path) -> dict:
    p = Path(bundle) / RESULT_FILE
    if not p.exists():
        raise FlightError(f"{p}: missing; a bundle recorded by rackscan fly has its flight result there")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FlightError(f"{p}:{exc.lineno}: malformed JSON ({exc.msg}); expected rackscan fly's flight result") from None
    if not isinstance(data, dict) or "status" not in data:
        raise FlightError(f"{p}: status: missing; expected rackscan fly's flight result")
    return data


@dataclass(frozen=True, kw_only=True)
class Continuation:
    interrupted: Path  # the bundle whose flight stopped
    record: Path  # where the continuation is recorded
    after_plan_seq: int  # the last item of the plan that was reached (plan numbering)
    mission: Mission  # the continuation as a mission of its own (meta: seq_map, resumed_after_seq)


def plan_continuation(plan: Mission, plan_sha256: str, record: str | Path, *,
                      interrupted: str | Path | None = None) -> Continuation:
    """The continuation of the flight recorded in ``record`` (and its continuations so far), or of
    the bundle ``interrupted``; one-line errors when there is nothing to resume or the plan differs."""
    record = Path(record)
    if interrupted is None:
        if not record.exists():
            raise FlightError(f"{record}: no such flight bundle; --resume continues a flight recorded there")
        chain = flight_bundles(record)
        interrupted, new = chain[-1], Path(f"{record}.resume{len(chain)}")
    else:
        interrupted, new = Path(interrupted), record
    res = read_result(interrupted)
    res_file = interrupted / RESULT_FILE
    if not res.get("resume_seq"):
        raise FlightError(f"{res_file}: the flight finished ({res['status']}); nothing to resume")
    meta_file = interrupted / "flight.json"
    flown_sha = json.loads(meta_file.read_text(encoding="utf-8")).get("plan_sha256", "") if meta_file.exists() else ""
    if flown_sha and plan_sha256 and flown_sha != plan_sha256:
        raise FlightError(f"{meta_file}: plan_sha256: the interrupted flight flew another plan; expected the same "
                          ".plan file it was flown with")
    after = int(res.get("last_reached_plan_seq", res.get("last_reached_seq", 0)))
    return Continuation(interrupted=interrupted, record=new, after_plan_seq=after, mission=resume_from(plan, after))


def result_json(outcome, *, seq_map: list[int] | None = None, resumed_after: int = 0, failsafe_record=None) -> dict:
    """``flight_result.json``: how the flight ended, in the flown mission's numbering and the plan's
    (a continuation that stopped before its first new leg leaves the plan where it was)."""
    def plan_seq(seq: int) -> int:
        if not seq_map:
            return seq
        return max(resumed_after, seq_map[min(max(seq, 0), len(seq_map) - 1)])

    return {"status": outcome.status.value, "last_reached_seq": outcome.last_reached_seq,
            "last_reached_plan_seq": plan_seq(outcome.last_reached_seq), "resume_seq": outcome.resume_seq,
            "disarmed_on_ground": outcome.disarmed_on_ground, "mode": outcome.mode,
            "failsafes": [e.to_json() for e in outcome.failsafes],
            "failsafe_profile": failsafe_record.profile if failsafe_record else None,
            "events": list(outcome.events)}





class FlightSet:
    """The bundles of one flight read as one bundle, for fusion and its outputs: frames renumbered
    (bundle k's frame_idx + ``offsets[k]``) and read from their own bundle; telemetry stays per
    bundle (``bundles``), since each flight's vehicle clock starts again; site, camera and outputs
    are the first bundle's."""

    def __init__(self, paths: list[str | Path]) -> None:
        from flight.bundle import Bundle, FrameRecord

        if not paths:
            raise FlightError("a flight needs at least one bundle")
        self.bundles = [Bundle(p) for p in paths]
        first = self.bundles[0]
        self.path, self.meta = first.path, first.meta
        self.offsets: list[int] = []
        self.frames: list = []
        self._where: list[tuple[int, int]] = []
        off = 0
        for k, b in enumerate(self.bundles):
            self.offsets.append(off)
            for i, fr in enumerate(b.frames):
                self.frames.append(FrameRecord(fr.frame_idx + off, fr.t_ns, fr.file, fr.camera))
                self._where.append((k, i))
            off += max((fr.frame_idx for fr in b.frames), default=-1) + 1

    def __len__(self) -> int:
        return len(self.frames)

    def read_frame(self, i: int):
        k, j = self._where[i]
        return self.bundles[k].read_frame(j)

    def camera_spec(self):
        return self.bundles[0].camera_spec()

    @property
    def T_body_camera(self):
        return self.bundles[0].T_body_camera

    @property
    def T_body_cameras(self):
        return self.bundles[0].T_body_cameras

    def frame_T_body_camera(self):
        from flight.bundle import frame_extrinsics

        return frame_extrinsics(self.T_body_cameras, self.frames)

    def site(self):
        return self.bundles[0].site()


def open_flight(path: str | Path):
    """The bundle at ``path``, or the FlightSet of it and its continuations when it has some."""
    from flight.bundle import Bundle

    paths = flight_bundles(path)
    return Bundle(path) if len(paths) == 1 else FlightSet(paths)
__all__ = ["Continuation", "plan_continuation", "flight_bundles", "read_result", "result_json", "RESULT_FILE", "FlightSet",
           "open_flight"]
