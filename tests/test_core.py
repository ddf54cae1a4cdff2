"""The core install: every module of rackscan's packages imports without PyTorch, Ultralytics, Ray,
Rerun or Open3D, and a world is flown, processed (detection on ONNX Runtime, fusion,
reconciliation) and reviewed on the dashboard without them. `make test` runs this file again in
.venv-core (RACKSCAN_CORE_ENV=1), where those packages are not installed at all; in the full
environment it checks that nothing pulled them in."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.core
HEAVY = ("torch", "ultralytics", "ray", "rerun", "open3d")
PACKAGES = ("warehouse", "flight", "imports", "datasets", "perception", "slam_fusion", "reconciliation", "dashboard", "rackscan")
SCRIPTS = ("dashboard.app", "dashboard.views", "reconciliation.migrations", "rackscan.__main__")  # scripts, not modules
IN_CORE_ENV = os.environ.get("RACKSCAN_CORE_ENV") == "1"


def _python(code: str, timeout: int = 900) -> str:
    env = dict(os.environ, MAVLINK20="1", YOLO_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0", MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def test_every_module_imports_without_the_extras():
    out = _python(f"""
import importlib, pkgutil, sys
for pkg in {PACKAGES!r}:
    m = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(m.__path__, pkg + "."):
        if not info.name.startswith({SCRIPTS!r}):
            importlib.import_module(info.name)
print(sorted(h for h in {HEAVY!r} if h in sys.modules))
""")
    assert out.strip().splitlines()[-1] == "[]"


def test_a_world_flown_processed_and_reviewed_without_the_extras(tmp_path):
    out = _python(f"""
import sys
from pathlib import Path
from datasets.family import load_family
from rackscan.worlds import run_world
fam = load_family("datasets/families/tiny.yaml")
run = run_world(fam, 200, Path({str(tmp_path)!r}), log=lambda s: None)
assert run.observed == run.bins > 0, run
from streamlit.testing.v1 import AppTest  # the dashboard over the store the world went into
print("counted", run.count_right, "of", run.observed)
print(sorted(h for h in {HEAVY!r} if h in sys.modules))
""")
    assert out.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "world-200" / "flight" / "detections.parquet").exists()
    assert (tmp_path / "world-200" / "report" / "results.db").exists()


@pytest.mark.skipif(not IN_CORE_ENV, reason="only in the core-only environment (make test runs it there)")
@pytest.mark.parametrize("args,extra", [
    (["train", "--build-only", "--data", "x"], "train"),
    (["bench", "perception"], "train"),
])
def test_the_core_install_says_which_extra_a_verb_needs(args, extra):
    import importlib.util

    assert all(importlib.util.find_spec(h) is None for h in ("torch", "ultralytics", "ray", "rerun"))
    r = subprocess.run([sys.executable, "-m", "rackscan", *args], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"pip install -e '.[{extra}]'" in r.stderr and r.stderr.count("\n") == 1
