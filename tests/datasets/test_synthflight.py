"""A synthetic flight is a real bundle: frames on the camera clock, telemetry with RTK noise."""

import numpy as np
import pandas as pd
import pytest

from datasets.synthflight import EPOCH_NS, record_synthetic_flight
from datasets.world import build_world
from flight.bundle import Bundle
from tests.conftest import REPO


@pytest.fixture(scope="module")
def world():
    return build_world(REPO / "datasets" / "scenarios" / "default.yaml")


@pytest.fixture(scope="module")
def flight(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("f") / "bundle"
    res = record_synthetic_flight(world, out, face_ids=["R02/front"], max_passes_per_face=1, rtk_noise_m=0.02,
                                  clock_offset_s=0.25)
    return res, Bundle(out)


def test_bundle_holds_every_frame_and_truth(flight):
    res, b = flight
    assert len(b) == res.n_frames > 20
    assert b.meta.status == "complete" and b.meta.source == "synthetic"
    poses = pd.read_csv(b.path / "truth/poses.csv")
    assert len(poses) == len(b)
    # camera clock runs clock_offset_s ahead of the telemetry clock
    np.testing.assert_allclose((b.frame_times_ns - poses["t_ns"].to_numpy()) / 1e9, 0.25, atol=1e-6)
    objs = pd.read_parquet(b.path / "truth/objects.parquet")
    assert set(objs.frame_idx) <= set(range(len(b))) and (objs.kind == "location_label").any()
    assert b.read_frame(0).shape == (1080, 1920, 3)


def test_telemetry_positions_are_truth_plus_rtk_noise(world, flight):
    _, b = flight
    T_bc = b.T_body_camera
    poses = pd.read_csv(b.path / "truth/poses.csv")
    truth_t = (poses["t_ns"].to_numpy() - EPOCH_NS) / 1e9
    truth_cam = poses[["T03", "T13", "T23"]].to_numpy()
    gp = [(t, m) for t, m in b.iter_mavlink(["GLOBAL_POSITION_INT"])]
    assert len(gp) > 10 * 2
    tel_t = np.array([(t - EPOCH_NS) / 1e9 for t, _ in gp])
    tel_p = np.array([world.site.origin.geodetic_to_site(m.lat / 1e7, m.lon / 1e7, m.alt / 1000) for _, m in gp])
    errs = []
    for t, p in zip(truth_t, truth_cam):
        k = int(np.argmin(np.abs(tel_t - t)))
        if abs(tel_t[k] - t) < 1e-3:
            errs.append(np.linalg.norm((tel_p[k] - p)[:2]))
    errs = np.array(errs)
    assert len(errs) > 10
    # horizontal error = lever arm (0.1 m forward) + RTK noise (0.02 m per axis) + 1e-7 deg quantisation
    assert np.median(np.abs(errs - 0.1)) < 0.05 and errs.max() < 0.25
    fix = {m.fix_type for _, m in b.iter_mavlink(["GPS_RAW_INT"])}
    assert fix == {6}


def test_drift_switches_to_3d_fix_and_grows(world, tmp_path):
    res = record_synthetic_flight(world, tmp_path / "d", face_ids=["R01/back"], max_passes_per_face=1, drift_m_per_min=3.0)
    b = Bundle(res.bundle)
    assert {m.fix_type for _, m in b.iter_mavlink(["GPS_RAW_INT"])} == {3}
