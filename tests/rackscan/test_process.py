"""`rackscan process`: detect -> fuse -> reconcile on a recorded flight; a killed run resumes
without redoing finished chunks; a second run skips everything (Ray against the local executor: test_ray_cluster, test_executors)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world

REPO = Path(__file__).resolve().parents[2]
RACKSCAN = str(REPO / ".venv/bin/rackscan")


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    root = tmp_path_factory.mktemp("process")
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    record_synthetic_flight(world, root / "bundle", face_ids=["R02/front"], max_passes_per_face=2)
    world.erp.to_csv(root / "erp.csv", index=False)
    return root


def _run(*args, timeout=600):
    r = subprocess.run([RACKSCAN, "process", *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def _dets(bundle):
    return pd.read_parquet(bundle / "detections.parquet").drop(columns=["corners"])


def test_process_runs_resumes_and_skips(flight, tmp_path):
    b = tmp_path / "bundle"
    shutil.copytree(flight / "bundle", b)
    out = _run(b, "--erp", flight / "erp.csv", "--chunk-frames", "16")
    assert "reconciliation of bundle" in out and "processing / flight time" in out
    # report/observations.parquet: the observations as the diff judged them (goods unread named by the ERP)
    for f in ("detections.parquet", "observations.parquet", "report/report.xlsx", "report/discrepancies.csv",
              "report/observations.parquet"):
        assert (b / f).exists(), f
    first = _dets(b)
    assert (first.row_kind == "box").sum() > 50 and (first.track_id >= 0).any()
    # a run killed in perception: the joined output and one chunk gone, the bookkeeping says nothing done
    chunks = sorted((b / ".rackscan" / "chunks").glob("detect-*/chunk_*.parquet"))
    assert len(chunks) >= 3
    chunks[1].unlink()
    (b / "detections.parquet").unlink()
    state = json.loads((b / ".rackscan" / "state.json").read_text())
    (b / ".rackscan" / "state.json").write_text(json.dumps({k: v for k, v in state.items() if k != "detect"}))
    kept = {c: c.stat().st_mtime_ns for c in chunks if c.exists()}
    out = _run(b, "--erp", flight / "erp.csv", "--chunk-frames", "16")
    assert f"resuming, {len(chunks) - 1} of {len(chunks)} chunks already done" in out
    assert all(c.stat().st_mtime_ns == t for c, t in kept.items())  # finished chunks not redone
    pd.testing.assert_frame_equal(_dets(b), first)
    out = _run(b, "--erp", flight / "erp.csv", "--chunk-frames", "16")
    assert out.count("up to date") == 3


def test_process_bad_bundle_is_one_line_error(tmp_path):
    r = subprocess.run([RACKSCAN, "process", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and (r.stdout + r.stderr).strip().startswith("error:")


def _edit(path: Path) -> None:
    """A real edit that keeps the file valid: YAML and CSV get a comment or a blank row's worth, others are rewritten."""
    if path.suffix == ".yaml":
        path.write_text(path.read_text() + "\n# edited\n")
    elif path.suffix == ".json":
        data = json.loads(path.read_text())
        data.setdefault("extra", {})["edited"] = True
        path.write_text(json.dumps(data))
    elif path.name == "catalogue.csv":
        path.write_text(path.read_text() + "999999999,0000000000017,205/55R16,X,X 205/55R16,1.0\n")
    else:
        data = path.read_bytes()
        path.write_bytes(data)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


@pytest.fixture(scope="module")
def processed(flight, tmp_path_factory):
    """The flight processed once (copies keep their files' times, so their stages stay up to date)."""
    from rackscan.process import process_bundle

    root = tmp_path_factory.mktemp("processed")
    shutil.copytree(flight / "bundle", root / "bundle")
    shutil.copy2(flight / "erp.csv", root / "erp.csv")
    process_bundle(root / "bundle", erp=root / "erp.csv", log=lambda s: None)
    return root


@pytest.mark.parametrize("changed,expected", [
    ("catalogue.csv", {"detect": "skipped", "fuse": "ran", "reconcile": "ran"}),
    ("site.yaml", {"detect": "skipped", "fuse": "ran", "reconcile": "ran"}),
    ("flight.json", {"detect": "skipped", "fuse": "ran", "reconcile": "ran"}),
    ("telemetry.tlog", {"detect": "skipped", "fuse": "ran", "reconcile": "ran"}),
    ("detections.parquet", {"detect": "skipped", "fuse": "ran", "reconcile": "ran"}),
    ("erp.csv", {"detect": "skipped", "fuse": "skipped", "reconcile": "ran"}),
    (None, {"detect": "skipped", "fuse": "skipped", "reconcile": "skipped"}),
])
def test_process_reruns_exactly_the_stages_whose_inputs_changed(processed, tmp_path, changed, expected):
    from rackscan.process import process_bundle

    shutil.copytree(processed, tmp_path / "p")
    b, erp = tmp_path / "p" / "bundle", tmp_path / "p" / "erp.csv"
    if changed:
        _edit(erp if changed == "erp.csv" else b / changed)
    rep = process_bundle(b, erp=erp, log=lambda s: None)
    assert rep.stages == expected


def test_a_checkout_moved_elsewhere_keeps_its_detections(processed, tmp_path, monkeypatch):
    """The weights count by their bytes: the same weights at another path (a clone, a worktree, a
    copy written now) leave the flight's detections up to date; other bytes detect again."""
    from flight.continuation import open_flight
    from perception.detector import DEFAULT_WEIGHTS
    from rackscan.process import _plan_detect, process_bundle

    shutil.copytree(processed, tmp_path / "p")
    b, erp = tmp_path / "p" / "bundle", tmp_path / "p" / "erp.csv"
    moved = tmp_path / "elsewhere" / "perception" / "weights"
    shutil.copytree(Path(DEFAULT_WEIGHTS).parent, moved, copy_function=shutil.copy)  # new paths, new times
    w = moved / Path(DEFAULT_WEIGHTS).name
    rep = process_bundle(b, erp=erp, weights=w, log=lambda s: None)
    assert rep.stages == {"detect": "skipped", "fuse": "skipped", "reconcile": "skipped"}
    data = w.read_bytes()
    w.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit off: other weights
    plan = _plan_detect(open_flight(b), w=w, backend="onnx", device="cpu", conf=0.25, batch=1, chunk_frames=32,
                        log=lambda s: None)
    assert not plan.skipped and plan.todo


class _Batches:
    """The local executor, noting each batch it was given (the work still runs)."""

    name = "local"

    def __init__(self):
        from rackscan.executors import LocalExecutor

        self._local, self.batches = LocalExecutor(), []

    def map(self, fn, items, **kw):
        self.batches.append((fn.__name__, [getattr(it, "bundle", getattr(it, "flight", None)) for it in items]))
        return self._local.map(fn, items, **kw)


def test_several_flights_go_to_the_executor_side_by_side(flight, tmp_path):
    from rackscan.process import process_bundle, process_bundles

    for name in ("one", "two", "alone"):
        shutil.copytree(flight / "bundle", tmp_path / name)
    ex = _Batches()
    reps = process_bundles([tmp_path / "one", tmp_path / "two"], erp=flight / "erp.csv", executor=ex, chunk_frames=16,
                           reconcile_options=lambda root: {"out_dir": tmp_path / "reports" / root.name},
                           log=lambda s: None)
    # one perception batch holding both flights' chunks, one fusion batch of both flights
    assert [fn for fn, _ in ex.batches] == ["detect_chunk", "fuse_flight"]
    assert {Path(b).name for b in ex.batches[0][1]} == {"one", "two"}
    assert sorted(Path(b).name for b in ex.batches[1][1]) == ["one", "two"]
    assert [r.stages for r in reps] == [{"detect": "ran", "fuse": "ran", "reconcile": "ran"}] * 2
    alone = process_bundle(tmp_path / "alone", erp=flight / "erp.csv", chunk_frames=16, log=lambda s: None)
    for name in ("one", "two"):
        pd.testing.assert_frame_equal(_dets(tmp_path / name), _dets(tmp_path / "alone"))
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / name / "observations.parquet").drop(columns=["flight_id"]),
                                      pd.read_parquet(tmp_path / "alone" / "observations.parquet").drop(columns=["flight_id"]))
        assert (tmp_path / "reports" / name / "discrepancies.csv").read_text() == \
            (tmp_path / "alone" / "report" / "discrepancies.csv").read_text()
    assert alone.fusion.bins == reps[0].fusion.bins > 0


def test_detect_runs_again_when_the_weights_input_colour_changes_not_for_a_comment(processed, tmp_path):
    """The train_config.yaml beside the weights says what they were trained on (gray or colour), so
    what the detector is given: flipping it detects again, an edit that leaves it does not."""
    from perception.train import DEFAULT_WEIGHTS
    from rackscan.process import process_bundle

    shutil.copytree(processed, tmp_path / "p")
    b, erp = tmp_path / "p" / "bundle", tmp_path / "p" / "erp.csv"
    w = tmp_path / "w" / DEFAULT_WEIGHTS.name
    w.parent.mkdir()
    shutil.copy2(DEFAULT_WEIGHTS, w)
    shutil.copy2(DEFAULT_WEIGHTS.parent / "train_config.yaml", w.parent / "train_config.yaml")
    cfg = w.parent / "train_config.yaml"
    assert "input_colour: gray" in cfg.read_text()
    # the same bytes at another path: the same detections (test_a_checkout_moved_elsewhere_keeps_its_detections)
    assert process_bundle(b, erp=erp, weights=w, log=lambda s: None).stages["detect"] == "skipped"
    gray = _dets(b)
    _edit(cfg)  # a comment: the same input
    assert process_bundle(b, erp=erp, weights=w, log=lambda s: None).stages == {
        "detect": "skipped", "fuse": "skipped", "reconcile": "skipped"}
    cfg.write_text(cfg.read_text().replace("input_colour: gray", "input_colour: bgr"))
    assert process_bundle(b, erp=erp, weights=w, log=lambda s: None).stages["detect"] == "ran"
    cols = ["frame_idx", "x1", "y1", "x2", "y2", "confidence"]
    assert not _dets(b)[cols].equals(gray[cols])  # colour frames: other boxes or scores
