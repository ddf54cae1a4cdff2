"""A flight recorded in two bundles (interrupted, then continued by ``rackscan fly --resume`` on a
vehicle that booted again) fuses to the same count as the same flight in one bundle."""

import os

import numpy as np
import pandas as pd
import pytest
import yaml

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink2  # noqa: E402

from flight.bundle import BundleWriter, FlightMeta  # noqa: E402
from flight.continuation import FlightSet, flight_bundles, open_flight  # noqa: E402
from rackscan.cli import main  # noqa: E402
from slam_fusion.errors import FusionError  # noqa: E402
from slam_fusion.tools.io import fuse_bundle  # noqa: E402
from tests.slam_fusion.factories import sweep_scene  # noqa: E402
from tests.warehouse.factories import site_dict  # noqa: E402
from warehouse.camera import CameraSpec  # noqa: E402

T0 = 1_700_000_000_000_000_000


class _Sink:
    def write(self, b):
        pass


def _write(path, site, spec, traj, samples, frames, dets, boot_ms0):
    """One bundle: telemetry at ``samples`` (trajectory times), frames (frame_idx, t_ns) renumbered
    from 0, their detections; the vehicle clock (time_boot_ms) starts at ``boot_ms0``."""
    mav = mavlink2.MAVLink(_Sink(), srcSystem=1, srcComponent=1)
    R_site_ned = site.origin.ned_to_site_rotation()
    meta = FlightMeta(flight_id=path.name, site_name="s", camera=spec.model_dump(), T_body_camera=np.eye(4).tolist())
    img = np.full((54, 96, 3), 90, np.uint8)
    renum = {f: k for k, (f, _) in enumerate(frames)}
    fi = 0
    with BundleWriter(path, meta, site_yaml_text=yaml.safe_dump(site_dict())) as w:
        for t in samples:
            while fi < len(frames) and frames[fi][1] <= t:
                w.write_frame(img, T0 + frames[fi][1])
                fi += 1
            T = traj.poses_at(np.array([t]))[0]
            R = R_site_ned.T @ T[:3, :3]
            yaw = float(np.arctan2(R[1, 0], R[0, 0]))
            pitch = float(-np.arcsin(np.clip(R[2, 0], -1, 1)))
            roll = float(np.arctan2(R[2, 1], R[2, 2]))
            lat, lon, alt = site.origin.site_to_geodetic(T[:3, 3])
            ms = boot_ms0 + int((t - samples[0]) // 1_000_000)
            for m in (mav.attitude_encode(ms, roll, pitch, yaw, 0, 0, 0),
                      mav.global_position_int_encode(ms, int(round(float(lat) * 1e7)), int(round(float(lon) * 1e7)),
                                                     int(round(float(alt) * 1000)), 0, 0, 0, 0, 0)):
                m.pack(mav)
                w.write_mavlink(m, T0 + int(t))
        while fi < len(frames):
            w.write_frame(img, T0 + frames[fi][1])
            fi += 1
    from dataclasses import replace

    from perception.io import write_detections

    write_detections(path / "detections.parquet", [replace(d, frame_idx=renum[d.frame_idx]) for d in dets
                                                   if d.frame_idx in renum])


@pytest.fixture
def flights(tmp_path):
    """(one bundle, the same flight split in two, truth): the split falls mid-pass."""
    spec = CameraSpec(focal_mm=4.5)
    site, cam, traj, ft, dets, truth = sweep_scene(n_frames=30, cam=spec.model(), serpentine=True)
    frames = sorted(ft.items(), key=lambda kv: kv[1])
    samples = [int(t) for t in traj.t_ns]
    _write(tmp_path / "whole", site, spec, traj, samples, frames, dets, boot_ms0=1000)
    cut = samples[len(samples) // 2]
    first = [t for t in samples if t < cut]
    second = [t for t in samples if t >= cut]
    _write(tmp_path / "split", site, spec, traj, first, [f for f in frames if f[1] < cut], dets, boot_ms0=1000)
    # the continuation's vehicle booted again: its clock starts near 0 while the log's goes on
    _write(tmp_path / "split.resume1", site, spec, traj, second, [f for f in frames if f[1] >= cut], dets, boot_ms0=500)
    return tmp_path / "whole", tmp_path / "split", truth


def test_a_flight_in_two_bundles_counts_as_the_same_flight_in_one(flights):
    whole, split, truth = flights
    assert flight_bundles(split) == [split, split.parent / "split.resume1"]
    fs = open_flight(split)
    assert isinstance(fs, FlightSet) and len(fs) == len(open_flight(whole)) and fs.offsets[1] > 0
    one = {o.bin_id: o.count for o in fuse_bundle(open_flight(whole)).observations}
    two = {o.bin_id: o.count for o in fuse_bundle(fs).observations}
    assert two == one
    assert not [b for b, n in truth.items() if two.get(b) != n]


def test_the_fuse_cli_writes_the_joint_count_into_the_first_bundle(flights, capsys):
    _, split, truth = flights
    assert main(["fuse", str(split)]) == 0
    obs = pd.read_parquet(split / "observations.parquet")
    got = dict(zip(obs.bin_id, obs["count"]))
    assert not [b for b, n in truth.items() if got.get(b) != n]
    assert all((split / p).exists() for p in obs.evidence_path if p)  # evidence from either bundle, kept here
    assert not (split.parent / "split.resume1" / "observations.parquet").exists()


def test_one_detections_file_for_a_flight_of_two_bundles_is_refused(flights):
    _, split, _ = flights
    with pytest.raises(FusionError, match="one file cannot hold a flight of 2 bundles"):
        fuse_bundle(open_flight(split), detections=split / "detections.parquet")
