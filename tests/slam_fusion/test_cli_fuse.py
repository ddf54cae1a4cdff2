"""rackscan fuse on a tiny real bundle: tlog through BundleWriter, detections.parquet, frames."""

import os

import numpy as np
import pandas as pd
import pytest
import yaml

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink2  # noqa: E402

from flight.bundle import Bundle, BundleWriter, FlightMeta  # noqa: E402
from perception.io import write_detections  # noqa: E402
from rackscan.cli import main  # noqa: E402
from slam_fusion.tools.io import fuse_bundle, load_result  # noqa: E402
from tests.slam_fusion.factories import sweep_scene  # noqa: E402
from tests.warehouse.factories import site_dict  # noqa: E402
from warehouse.camera import CameraSpec  # noqa: E402


class _Sink:
    def write(self, b):
        pass


def _bundle(path, offset_s, drift_m_per_min=0.0):
    spec = CameraSpec(focal_mm=4.5)  # wide enough to see a level and its label from 2.5 m
    site, cam, traj, ft, dets, truth = sweep_scene(clock_offset_s=offset_s, n_frames=30, cam=spec.model(),
                                                   drift_m_per_min=drift_m_per_min)
    mav = mavlink2.MAVLink(_Sink(), srcSystem=1, srcComponent=1)
    R_site_ned = site.origin.ned_to_site_rotation()
    t0 = 1_700_000_000_000_000_000
    img = np.full((54, 96, 3), 90, np.uint8)
    meta = FlightMeta(flight_id="f-cli", site_name="s", camera=spec.model_dump(), T_body_camera=np.eye(4).tolist())
    frames = sorted(ft.items(), key=lambda kv: kv[1])
    fi = 0
    with BundleWriter(path, meta, site_yaml_text=yaml.safe_dump(site_dict())) as w:
        for k, t in enumerate(traj.t_ns):
            while fi < len(frames) and frames[fi][1] <= t:
                w.write_frame(img, t0 + frames[fi][1])
                fi += 1
            T = traj.poses_at(np.array([t]))[0]
            R = R_site_ned.T @ T[:3, :3]
            yaw = float(np.arctan2(R[1, 0], R[0, 0]))
            pitch = float(-np.arcsin(np.clip(R[2, 0], -1, 1)))
            roll = float(np.arctan2(R[2, 1], R[2, 2]))
            lat, lon, alt = site.origin.site_to_geodetic(T[:3, 3])
            ms = int(t // 1_000_000)
            for m in (mav.attitude_encode(ms, roll, pitch, yaw, 0, 0, 0),
                      mav.global_position_int_encode(ms, int(round(float(lat) * 1e7)), int(round(float(lon) * 1e7)),
                                                     int(round(float(alt) * 1000)), 0, 0, 0, 0, 0)):
                m.pack(mav)
                w.write_mavlink(m, t0 + int(t))
        while fi < len(frames):
            w.write_frame(img, t0 + frames[fi][1])
            fi += 1
    write_detections(path / "detections.parquet", dets)
    return truth


def test_fuse_cli_writes_observations_and_coverage(tmp_path, capsys):
    truth = _bundle(tmp_path / "b", offset_s=0.25)
    assert main(["fuse", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "clock offset" in out and "estimated" in out
    assert "passes registered on their tires:" in out
    saved = load_result(tmp_path / "b")
    assert saved.pass_shifts == fuse_bundle(Bundle(tmp_path / "b")).pass_shifts  # saved once, read back whole
    obs = pd.read_parquet(tmp_path / "b" / "observations.parquet")
    cov = pd.read_parquet(tmp_path / "b" / "coverage.parquet")
    assert set(cov.columns) == {"bin_id", "scanned", "n_frames"}
    got = dict(zip(obs.bin_id, obs["count"]))
    wrong = [b for b, n in truth.items() if got.get(b) != n]
    assert not wrong, wrong
    assert all((tmp_path / "b" / p).exists() for p in obs.evidence_path if p)


def test_fuse_cli_names_a_missing_detections_file(tmp_path, capsys):
    _bundle(tmp_path / "b", offset_s=0.0)
    (tmp_path / "b" / "detections.parquet").unlink()
    assert main(["fuse", str(tmp_path / "b")]) == 1
    assert "detections.parquet: missing" in capsys.readouterr().err


def test_fuse_cli_says_when_the_clock_cannot_be_told_from_drift(tmp_path, capsys):
    _bundle(tmp_path / "b", offset_s=0.25, drift_m_per_min=3.0)  # every pass flown the same way
    assert main(["fuse", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "--clock-offset-s" in out


def _model(path, source, **change):
    """The shipped model at ``source`` written to ``path`` with fields of its JSON changed."""
    import json

    data = json.loads(source.read_text())
    data.update(change)
    path.write_text(json.dumps(data))
    return path


def test_fuse_cli_fuses_with_the_confidence_models_it_is_given(tmp_path, capsys):
    """A candidate's models (as `bench worlds --confidence-out` writes them) replace the shipped ones:
    the counts stay, the confidences are the given models'; the shipped models give what they gave."""
    from slam_fusion.core.confidence import COUNT_MODEL_PATH, MODEL_PATH

    _bundle(tmp_path / "b", offset_s=0.25)
    assert main(["fuse", str(tmp_path / "b")]) == 0
    shipped = pd.read_parquet(tmp_path / "b" / "observations.parquet")
    assert (shipped["confidence"] > 0.5).all()
    doubting = _model(tmp_path / "bin.json", MODEL_PATH, bias=-60.0)  # sure every bin is wrong
    count_doubting = _model(tmp_path / "count.json", COUNT_MODEL_PATH, bias=-60.0)
    assert main(["fuse", str(tmp_path / "b"), "--confidence-model", str(doubting)]) == 0
    cand = pd.read_parquet(tmp_path / "b" / "observations.parquet")
    assert list(cand["count"]) == list(shipped["count"]) and (cand["confidence"] < 1e-6).all()
    assert list(cand["count_confidence"]) == list(shipped["count_confidence"])  # the shipped count model still
    assert main(["fuse", str(tmp_path / "b"), "--count-model", str(count_doubting)]) == 0
    cand = pd.read_parquet(tmp_path / "b" / "observations.parquet")
    assert (cand["count_confidence"] < 1e-6).all() and list(cand["confidence"]) == list(shipped["confidence"])
    assert main(["fuse", str(tmp_path / "b")]) == 0
    again = pd.read_parquet(tmp_path / "b" / "observations.parquet")
    assert list(again["confidence"]) == list(shipped["confidence"])


@pytest.mark.parametrize("flag,make,expected", [
    ("--confidence-model", None, "--confidence-model {m}: no such file; expected a bin confidence model's JSON"),
    ("--count-model", None, "--count-model {m}: no such file; expected a count confidence model's JSON"),
    ("--confidence-model", "not json", "{m}: not a readable confidence model (JSONDecodeError)"),
    ("--count-model", "bin", "--count-model {m}: a model of target 'bin'; expected 'count'"),
    ("--confidence-model", "count", "--confidence-model {m}: a model of target 'count'; expected 'bin'"),
])
def test_fuse_cli_names_a_confidence_model_it_cannot_use(flag, make, expected, tmp_path, capsys):
    from slam_fusion.core.confidence import COUNT_MODEL_PATH, MODEL_PATH

    _bundle(tmp_path / "b", offset_s=0.0)
    m = tmp_path / "m.json"
    if make == "not json":
        m.write_text("{")
    elif make is not None:
        _model(m, MODEL_PATH if make == "bin" else COUNT_MODEL_PATH)
    assert main(["fuse", str(tmp_path / "b"), flag, str(m)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: " + expected.format(m=m)) and "\n" not in err
    assert not (tmp_path / "b" / "observations.parquet").exists()
