"""`rackscan train` end to end at toy size: builds a set, trains one epoch on the CPU, ships
.pt + .onnx + config + metrics to a folder, and the shipped ONNX loads in the Detector."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from perception.detector import Detector

REPO = Path(__file__).resolve().parents[2]


def test_train_builds_trains_and_ships(tmp_path):
    dest = tmp_path / "weights"
    init = REPO / "perception/weights/rackscan-det.pt"
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "train", "--data", str(tmp_path / "set"), "--run",
                        str(tmp_path / "run"), "--n-train", "6", "--n-val", "2", "--n-test", "0", "--real-repeat", "0",
                        "--no-tire-repeat", "0", "--aimed-worlds", "1", "--aimed-views", "2", "--init", str(init),
                        "--hyp", "lr0=0.001", "--hyp", "close_mosaic=0",
                        "--epochs", "1", "--batch", "4", "--imgsz", "160", "--workers", "0", "--device", "cpu",
                        "--dest", str(dest)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "of which 2 train frames aimed at wrapped pallets" in " ".join(r.stdout.split())  # world 40, the first after the 40 scanned, holds one
    for name in ("rackscan-det.pt", "rackscan-det.onnx", "train_config.yaml", "metrics.json"):
        assert (dest / name).stat().st_size > 0, name
    cfg = yaml.safe_load((dest / "train_config.yaml").read_text())
    assert cfg["train_options"]["seed"] == 0 and cfg["classes"] == ["tire", "location_label", "product_label"]
    assert (cfg["data_recipe"]["real_repeat"], cfg["data_recipe"]["no_tire_repeat"]) == (0, 0)
    assert cfg["data_recipe"]["images"]["train_aimed"] == 2 and cfg["data_recipe"]["family"] == "datasets/families/tire-stores.yaml"
    assert cfg["from_scratch"] is False and cfg["train_options"]["extra"] == {"lr0": 0.001, "close_mosaic": 0}
    assert cfg["init_sha256"] == hashlib.sha256(init.read_bytes()).hexdigest()  # the file --init named may be shipped over
    assert cfg["reproduce"] == ("rackscan train --data runs/trainset --run runs/detector --n-train 6 --n-val 2 --n-test 0 "
                                "--worlds-train 40 --aimed-worlds 1 --aimed-views 2 --real-repeat 0 --no-tire-repeat 0 "
                                f"--epochs 1 --batch 4 --imgsz 160 --seed 0 --init {init} --hyp lr0=0.001 --hyp close_mosaic=0")
    assert not any("notire_" in line for line in (tmp_path / "set" / "train.txt").read_text().splitlines())
    assert json.loads((dest / "metrics.json").read_text())["epochs_run"] == 1
    import numpy as np

    dets = Detector(dest / "rackscan-det.onnx").detect([np.zeros((1080, 1920, 3), np.uint8)])
    assert len(dets) == 1


def test_train_on_a_folder_without_data_yaml_and_build_only_stops(tmp_path):
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "train", "--data", str(tmp_path / "set"), "--n-train", "2",
                        "--n-val", "0", "--n-test", "0", "--build-only"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "set" / "data.yaml").exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, expected", [
    (["--hyp", "lr0"], "--hyp 'lr0': expected KEY=VALUE, as lr0=0.002"),
    (["--hyp", "=3"], "--hyp '=3': expected KEY=VALUE"),
    (["--hyp", "lr0="], "--hyp 'lr0=': expected KEY=VALUE"),
    (["--init", "no-such.pt"], "--init no-such.pt: no such file; expected the .pt weights to fine-tune from"),
])
def test_bad_train_flags_are_one_line_errors_before_any_work(tmp_path, args, expected):
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "train", "--data", str(tmp_path / "set"), *args],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 1 and expected in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "set").exists()
