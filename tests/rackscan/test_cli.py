import subprocess

from rackscan.cli import main
from tests.conftest import REPO


def test_help_lists_the_verbs():
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for verb in ("site", "synth", "plan", "reconcile", "dashboard", "users", "bench", "demo"):
        assert verb in r.stdout


def test_every_option_with_a_unit_says_it():
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "plan", "--help"], capture_output=True, text=True, timeout=60)
    assert "--max-speed-m-s" in r.stdout and "--endurance-s" in r.stdout and "--product-module-mm" in r.stdout


def test_demo_without_flight(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--frames", "1", "--flight-aisles", ""]) == 0
    out = capsys.readouterr().out
    assert "96 bins" in out and "bins per flight hour" in out
    for f in ("synth/site.yaml", "synth/erp_stock.xlsx", "synth/site.png", "mission.plan", "mission.png"):
        assert (tmp_path / f).exists(), f


def test_stage_benchmarks_are_registered():
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "--help"], capture_output=True, text=True, timeout=60)
    for name in ("render", "codes", "plan", "reconcile"):
        assert name in r.stdout
