"""``rackscan bench plan``: planned bins per flight hour, targeted recounts and fleets, for a camera file."""

import re
from pathlib import Path

import pytest

from rackscan.cli import main

CAM_4K = Path(__file__).resolve().parents[2] / "flight" / "cameras" / "inspection-4k-wide.yaml"


def _bins_per_hour(out: str) -> int:
    return int(re.search(r"drone \(planned\)\s*│\s*(\d+)", out).group(1))


def test_bench_plan_prints_throughput_recounts_and_fleets_for_the_camera_it_is_given(capsys):
    assert main(["bench", "plan", "--recount-draws", "3", "--fleet", "2"]) == 0
    out = capsys.readouterr().out
    assert "default-1080p" in out and re.search(r"targeted recount of 10 random bins \(3 draws.*?(\d+\.\d)%", out, re.S)
    # on a site 16 times larger the same ten bins are a far smaller share of the full mission
    small = float(re.search(r"random bins \(3 draws.*?(\d+\.\d)% of the full", out, re.S).group(1))
    large = float(re.search(r"random bins on a generated site of 1,536 bins.*?(\d+\.\d)% of the full", out, re.S).group(1))
    assert large < small / 3
    assert "fleets over 1536 bins of a generated site" in out
    assert main(["bench", "plan", "--camera", str(CAM_4K), "--recount-draws", "0", "--fleet", ""]) == 0
    out4k = capsys.readouterr().out
    assert "inspection-4k-wide" in out4k and "targeted recount" not in out4k and "fleets" not in out4k
    assert _bins_per_hour(out4k) > 1.5 * _bins_per_hour(out)


@pytest.mark.parametrize("content,fragment", [("focal_mm: -1\n", "focal_mm"), ("nope: 1\n", "nope: unknown field")])
def test_bench_plan_bad_camera_is_one_line(tmp_path, capsys, content, fragment):
    cam = tmp_path / "cam.yaml"
    cam.write_text(content)
    assert main(["bench", "plan", "--camera", str(cam)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {cam}:1:") and fragment in err and "Traceback" not in err


def test_the_4k_scenario_flies_the_shipped_4k_camera():
    """datasets/scenarios/default-4k.yaml is the default warehouse seen through the shipped camera file."""
    from datasets.world import build_world
    from warehouse.camera import load_camera

    world = build_world(CAM_4K.parents[2] / "datasets" / "scenarios" / "default-4k.yaml")
    shipped = load_camera(CAM_4K)
    keep = ("name", "image_width_px", "image_height_px", "sensor_width_mm", "focal_mm", "exposure_s", "fps",
            "sensitivity_lux_s", "noise_sigma")
    assert {k: getattr(world.camera, k) for k in keep} == {k: getattr(shipped, k) for k in keep}
    assert world.scenario.spec.sensor.noise_sigma == 2 * build_world(CAM_4K.parents[2] / "datasets" / "scenarios"
                                                                     / "default.yaml").scenario.spec.sensor.noise_sigma
