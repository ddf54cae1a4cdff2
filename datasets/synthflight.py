"""A synthetic flight as a real flight bundle: scan passes along rack faces, rendered frames, and a
MAVLink telemetry log with the scenario's RTK noise, drift and camera clock offset.

This is a data generator for benchmarks and tests of the offline stages (no MAVLink link, no
vehicle): the true camera poses render the frames and go to ``truth/poses.csv``; the telemetry
carries what a flight controller would report (noisy, drifting), and frame times are on the
camera's clock (``telemetry.clock_offset_s`` ahead of the telemetry clock).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from datasets.render import Renderer, camera_pose_facing
from datasets.world import World
from flight.bundle import BundleWriter, FlightMeta
from flight.planner import Pass, PlanOptions, PlanResult, plan
from warehouse.camera import T_body_camera, T_body_cameras

EPOCH_NS = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1e9)
TELEMETRY_HZ = 20.0


@dataclass(frozen=True)
class SynthFlightResult:
    bundle: Path
    n_frames: int
    flight_time_s: float
    passes: int


def plan_world(world: World, face_ids: list[str] | None = None, *, allow_dark: bool = False) -> PlanResult:
    """The planner's mission (flight.planner) for the world's site, camera and light."""
    site = world.site
    aisles = tuple(dict.fromkeys(site.face(f).aisle_id for f in face_ids)) if face_ids else ()
    return plan(site, world.camera, PlanOptions(aisles=aisles, lux=world.scenario.spec.lighting.lux, allow_dark=allow_dark))


def scan_passes(world: World, face_ids: list[str] | None = None, *, max_passes_per_face: int | None = None,
                planned: PlanResult | None = None) -> list[Pass]:
    """The planner's passes for the world, optionally only some faces and the first passes of each."""
    passes = (planned or plan_world(world, face_ids)).passes
    out, per_face = [], {}
    for p in passes:
        if face_ids and not set(p.face_ids) & set(face_ids):
            continue
        per_face[p.face_id] = per_face.get(p.face_id, 0) + 1
        if max_passes_per_face and per_face[p.face_id] > max_passes_per_face:
            continue
        out.append(p)
    return out


def _body_pose(cam, p: Pass, face, u_m: float, d_m: float, planned: PlanResult) -> np.ndarray:
    """True ``T_site_body`` at ``u_m`` along pass ``p``: one camera stands ``d_m`` in front of the
    face looking at it (the body behind it by the lever arm; a pair scanning one face looks with
    its right camera, as ``pass_heading_deg`` turns it); a left and right pair's body flies down
    the aisle's middle, level, heading along the pass's face."""
    if not p.other_face_id:
        T_sc = camera_pose_facing(face, u_m, p.v_m, d_m)
        return T_sc @ np.linalg.inv(T_body_camera(cam, len(cam.mounts_yaw_deg) - 1))
    d_pass = planned_standoff(planned, p)
    x = face.T_site_face[:3, 0]
    z = np.array([0.0, 0.0, -1.0])  # body down
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    T[:3, 3] = face.face_to_site([[u_m, p.v_m, d_pass]])[0]
    return T


def planned_standoff(planned: PlanResult, p: Pass) -> float:
    """The standoff the plan flew pass ``p`` at (a pair's: half the aisle)."""
    return float(planned.standoff_by_aisle.get(p.aisle_id, planned.standoff_m))


def _mav():
    os.environ.setdefault("MAVLINK20", "1")
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    class _Sink:
        def write(self, b):
            pass

    return mavlink2, mavlink2.MAVLink(_Sink(), srcSystem=1, srcComponent=1)


def record_synthetic_flight(world: World, out_dir: str | Path, *, face_ids: list[str] | None = None,
                            rtk_noise_m: float | None = None, drift_m_per_min: float | None = None,
                            clock_offset_s: float | None = None, max_passes_per_face: int | None = None,
                            standoff_m: float | None = None, on_frame: Callable[[int, int], None] | None = None,
                            allow_dark: bool = False) -> SynthFlightResult:
    """Fly the planner's passes over the world's faces with the virtual camera; write a bundle.

    With the scenario's light known (``lighting.lux``) the passes are flown at the speed and with
    the exposure the planner's exposure program chose (a store too dark to count is refused with
    a FlightError unless ``allow_dark``)."""
    spec = world.scenario.spec
    tel = spec.telemetry
    rtk_noise_m = tel.rtk_noise_m if rtk_noise_m is None else rtk_noise_m
    drift_m_per_min = tel.drift_m_per_min if drift_m_per_min is None else drift_m_per_min
    clock_offset_s = tel.clock_offset_s if clock_offset_s is None else clock_offset_s
    cam = world.camera
    d = standoff_m or world.default_standoff_m()
    planned = plan_world(world, face_ids, allow_dark=allow_dark)
    exposure_s = planned.exposure_s or cam.exposure_s
    if planned.exposure is not None:
        speed = planned.speed_m_s
    elif any(p.other_face_id for p in planned.passes):  # a camera pair down the aisles' middle
        speed = planned.speed_m_s
    else:  # the camera's fixed exposure, as the planner flies the passes
        speed = min(cam.max_speed_m_s(d), PlanOptions().max_speed_m_s)
    site = world.site
    rng = np.random.default_rng(spec.seed + 17)
    passes = scan_passes(world, face_ids, max_passes_per_face=max_passes_per_face, planned=planned)
    T_bcs = T_body_cameras(cam)
    # true body poses along the passes, sampled at the telemetry rate; frames at the camera fps
    samples: list[tuple[float, np.ndarray]] = []
    t = 0.0
    for p in passes:
        f = site.face(p.face_id)
        length = abs(p.u_to_m - p.u_from_m)
        n = max(2, int(length / speed * TELEMETRY_HZ))
        for i in range(n):
            u = p.u_from_m + (p.u_to_m - p.u_from_m) * i / (n - 1)
            samples.append((t + i / TELEMETRY_HZ, _body_pose(cam, p, f, u, d, planned)))
        t += n / TELEMETRY_HZ + 2.0  # turn / climb between passes
    duration = samples[-1][0]
    R_site_ned = site.origin.ned_to_site_rotation()
    drift_dir = rng.normal(size=2)
    drift_dir /= np.linalg.norm(drift_dir)
    fix_type = 6 if drift_m_per_min == 0 and rtk_noise_m <= 0.05 else 3
    mavlink2, mav = _mav()
    renderer = Renderer(world)
    meta = FlightMeta(flight_id=f"synthetic-{spec.name}-{spec.seed}", site_name=site.spec.name,
                      camera=cam.model_dump(mode="json"), T_body_camera=T_bcs[0].tolist(),
                      T_body_cameras=[T.tolist() for T in T_bcs] if len(T_bcs) > 1 else [], source="synthetic",
                      started_utc="2026-01-01T00:00:00Z",
                      extra={"rtk_noise_m": rtk_noise_m, "drift_m_per_min": drift_m_per_min, "clock_offset_s": clock_offset_s,
                             "standoff_m": d, "speed_m_s": speed,
                             **({"lux": spec.lighting.lux, "exposure_s": exposure_s, "gain": planned.exposure.gain}
                                if planned.exposure is not None else {})})
    out = Path(out_dir)
    truth_objects, truth_poses = [], []
    times = np.array([s[0] for s in samples])
    frame_ts = np.arange(0.0, duration, 1.0 / cam.fps)
    # only frames during passes (not in the turns)
    frame_ts = frame_ts[np.min(np.abs(times[None, :] - frame_ts[:, None]), axis=1) < 0.5 / TELEMETRY_HZ + 1e-9]
    with BundleWriter(out, meta, site_yaml_text=site.to_yaml(), jpeg_quality=spec.sensor.jpeg_quality) as w:
        fi = fi_t = 0  # frames written; frame times reached (one frame per camera each)
        for k, (ts, T_sb) in enumerate(samples):
            t_ns = EPOCH_NS + int(round(ts * 1e9))
            R_sb, p_body = T_sb[:3, :3], T_sb[:3, 3]
            err = rng.normal(0, rtk_noise_m, 3) * np.array([1, 1, 1.5])
            err[:2] += drift_dir * drift_m_per_min * ts / 60.0
            p_meas = p_body + err
            lat, lon, alt = site.origin.site_to_geodetic(p_meas)
            R_ned_body = R_site_ned.T @ R_sb
            yaw = float(np.arctan2(R_ned_body[1, 0], R_ned_body[0, 0]))
            pitch = float(-np.arcsin(np.clip(R_ned_body[2, 0], -1, 1)))
            roll = float(np.arctan2(R_ned_body[2, 1], R_ned_body[2, 2]))
            boot_ms = int(ts * 1000)
            v_site = (samples[min(k + 1, len(samples) - 1)][1][:3, 3] - p_body) * TELEMETRY_HZ
            v_ned = R_site_ned.T @ v_site
            ned = R_site_ned.T @ p_meas
            msgs = [
                mav.system_time_encode(t_ns // 1000, boot_ms),
                mav.attitude_encode(boot_ms, roll, pitch, yaw, 0, 0, 0),
                mav.global_position_int_encode(boot_ms, int(round(float(lat) * 1e7)), int(round(float(lon) * 1e7)),
                                               int(round(float(alt) * 1000)), int(round(p_meas[2] * 1000)),
                                               int(v_ned[0] * 100), int(v_ned[1] * 100), int(v_ned[2] * 100),
                                               int(round((np.degrees(yaw) % 360) * 100)) % 36000),
                mav.local_position_ned_encode(boot_ms, float(ned[0]), float(ned[1]), float(ned[2]),
                                              float(v_ned[0]), float(v_ned[1]), float(v_ned[2])),
            ]
            if k % int(TELEMETRY_HZ / 5) == 0:
                msgs.append(mav.gps_raw_int_encode(t_ns // 1000, fix_type, int(round(float(lat) * 1e7)),
                                                   int(round(float(lon) * 1e7)), int(round(float(alt) * 1000)),
                                                   70 if fix_type == 6 else 120, 100, int(np.linalg.norm(v_ned[:2]) * 100),
                                                   65535, 24))
            if k % int(TELEMETRY_HZ) == 0:
                msgs.append(mav.heartbeat_encode(mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                                 mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | mavlink2.MAV_MODE_FLAG_SAFETY_ARMED,
                                                 3, mavlink2.MAV_STATE_ACTIVE))
            for m in msgs:
                m.pack(mav)
                w.write_mavlink(m, t_ns)
            while fi_t < len(frame_ts) and frame_ts[fi_t] <= ts + 1e-9:
                cam_t_ns = EPOCH_NS + int(round((frame_ts[fi_t] + clock_offset_s) * 1e9))
                for c, T_bc_c in enumerate(T_bcs):  # every camera of the vehicle at the same instant
                    T_sc = T_sb @ T_bc_c
                    T_prev = T_sc.copy()
                    T_prev[:3, 3] -= (T_sc[:3, 0] * np.sign(np.dot(v_site, T_sc[:3, 0]))) * speed * exposure_s
                    res = renderer.render(T_sc, T_site_camera_prev=T_prev, rng_seed=spec.seed * 100_000 + fi,
                                          frame_idx=fi, exposure_s=exposure_s)
                    w.write_frame(res.image_bgr, cam_t_ns, camera=c)
                    truth_objects.append(res.objects)
                    truth_poses.append({"frame_idx": fi, "t_ns": EPOCH_NS + int(round(frame_ts[fi_t] * 1e9)),
                                        **{f"T{r}{c}": T_sc[r, c] for r in range(4) for c in range(4)}})
                    fi += 1
                fi_t += 1
                if on_frame:
                    on_frame(fi, len(frame_ts) * len(T_bcs))
    (out / "truth").mkdir(exist_ok=True)
    if truth_objects:
        pd.concat(truth_objects, ignore_index=True).to_parquet(out / "truth" / "objects.parquet", index=False)
    pd.DataFrame(truth_poses).to_csv(out / "truth" / "poses.csv", index=False)
    world.stock.drop(columns=["pallet"]).to_csv(out / "truth" / "stock.csv", index=False)
    world.discrepancies.to_csv(out / "truth" / "discrepancies.csv", index=False)
    world.catalogue.drop(columns=["in_erp"]).to_csv(out / "catalogue.csv", index=False)
    return SynthFlightResult(out, len(truth_poses), duration, len(passes))
