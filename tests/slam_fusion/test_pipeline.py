import numpy as np
import pytest

from slam_fusion.pipeline import fuse_detections
from tests.slam_fusion.factories import sweep_scene


@pytest.mark.parametrize("offset_s", [0.0, 0.37, -0.5])
def test_counts_exact_and_clock_offset_estimated(offset_s):
    site, cam, traj, ft, rows, truth = sweep_scene(clock_offset_s=offset_s)
    res = fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, rows=rows)
    assert abs(res.clock_offset_s - offset_s) < 0.020
    got = {o.bin_id: o.count for o in res.observations}
    for bin_id, n in truth.items():
        assert got.get(bin_id) == n, bin_id
    assert max(res.label_residuals_px.values()) < 5.0
    for o in res.observations:
        assert (o.sku != "") == (o.count > 0)


def test_permuting_rows_does_not_change_observations():
    site, cam, traj, ft, rows, _ = sweep_scene(seed=3)
    kw = dict(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, clock_offset_s=0.0)
    a = fuse_detections(rows=rows, **kw)
    perm = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    b = fuse_detections(rows=perm, **kw)
    assert a.observations == b.observations


def _wrong_bins(res, truth):
    got = {o.bin_id: o.count for o in res.observations}
    return sum(got.get(b) != n for b, n in truth.items())


def test_label_drift_correction_keeps_bins_right():
    site, cam, traj, ft, rows, truth = sweep_scene(drift_m_per_min=2.0, seed=5)
    kw = dict(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, rows=rows, clock_offset_s=0.0)
    raw = fuse_detections(drift_correction=False, **kw)
    fixed = fuse_detections(drift_correction=True, **kw)
    assert _wrong_bins(raw, truth) > 0  # the drift is large enough to matter
    assert _wrong_bins(fixed, truth) == 0
    assert fixed.drift_residual_after_m < fixed.drift_residual_before_m / 3
