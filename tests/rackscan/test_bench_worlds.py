"""`rackscan bench worlds` on the tiny family: three worlds flown, processed and scored end to end
(one too dark, refused by the planner), the per-world results saved once and reloaded."""

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from datasets.family import load_family
from rackscan.worlds import (WorldRun, by_light, discrepancies_in_scope, labelled_bins, light_band, load_run, pool,
                             run_world)
from tests.conftest import REPO

TINY = REPO / "datasets" / "families" / "tiny.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("worlds")
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "worlds", str(TINY), "--worlds", "3", "--split", "test",
                        "--out", str(out)], capture_output=True, text=True, timeout=1200, cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, r.stdout


def test_every_world_is_scored_or_refused(bench):
    out, stdout = bench
    fam = load_family(TINY)
    runs = [load_run(out / f"world-{k}" / "world.json") for k in fam.worlds("test", 3)]
    refused = [r for r in runs if r.refused]
    flown = [r for r in runs if not r.refused]
    assert all("too dark to count" in r.refused for r in refused)
    assert flown, "at least one tiny world is bright enough to fly"
    for r in flown:
        assert r.observed == r.bins > 0 and 0 <= r.count_right <= r.observed and len(r.outcomes) == r.observed
        assert r.frames > 10 and r.processing_s > 0
        assert r.confidently_wrong == sum(c >= 0.9 and not ok for c, ok in r.outcomes)
        assert 0 <= r.labelled_sku_right <= r.labelled and r.labelled + r.unlabelled <= r.observed
        assert 0 <= r.unlabelled_recount <= r.unlabelled
        assert r.labelled > 0  # the tiny worlds' tires carry labels
        assert len(r.count_outcomes) == r.observed and sum(ok for _, ok in r.count_outcomes) == r.count_right
        assert all(0.0 <= c <= 1.0 for c, _ in r.count_outcomes)
    p = pool(runs)
    assert 0.0 <= p.count_ece <= 1.0
    assert p.labelled == sum(r.labelled for r in flown) and "SKU accuracy, bins whose" in stdout
    assert p.worlds == 3 and p.refused == len(refused) and p.bins == sum(r.bins for r in runs)
    assert "pooled over 3 test worlds" in stdout and "wrong bins at confidence" in stdout
    assert (out / "reliability-test.png").stat().st_size > 1000
    assert (out / "accuracy-by-light-test.png").stat().st_size > 1000
    summary = json.loads((out / "summary-test.json").read_text())
    assert summary["worlds"] == [200, 201, 202]
    assert (summary["pooled"]["labelled"], summary["pooled"]["unlabelled"]) == (p.labelled, p.unlabelled)
    assert summary["pooled"]["count_ece"] == pytest.approx(p.count_ece)  # printed in the table too
    assert all(r.lux > 0 for r in runs)  # the tiny family gives its light in lux
    bands = {light_band(r.lux) for r in runs}
    assert set(summary["by_light"]) == bands and "by light" in stdout
    assert sum(q["bins"] for q in summary["by_light"].values()) == p.bins


def test_a_world_is_not_flown_or_processed_again(bench):
    out, _ = bench
    fam = load_family(TINY)
    frame = out / "world-200" / "flight" / "frames" / "000000.jpg"
    saved = frame.stat().st_mtime_ns
    logged = []
    again = run_world(fam, 200, out, log=logged.append)
    assert frame.stat().st_mtime_ns == saved
    assert [line.split(":")[0] for line in logged if "up to date" in line] == ["detect", "fuse", "reconcile"]
    assert again == load_run(out / "world-200" / "world.json")


@pytest.mark.parametrize("split,ks,expected", [
    ("dev", [138, 109, 138], [109, 138]),
    ("test", [201], [201]),
    ("dev", [109, 201], "--world 201: not a dev world; expected 100-199"),  # a test world never slips into a dev run
    ("holdout", [201], "--split 'holdout'; expected one of"),
])
def test_worlds_picked_by_number_stay_in_their_split(split, ks, expected):
    from datasets.errors import DatasetError
    from rackscan.worlds import pick_worlds

    fam = load_family(TINY)
    if isinstance(expected, list):
        assert pick_worlds(fam, split, ks) == expected
    else:
        with pytest.raises(DatasetError, match=expected):
            pick_worlds(fam, split, ks)


def test_a_model_file_is_scored_beside_the_shipped_one_on_the_stored_bins(bench, tmp_path):
    from slam_fusion.core.confidence import MODEL_PATH

    out, _ = bench
    cand = tmp_path / "cand.json"
    cand.write_bytes(MODEL_PATH.read_bytes())  # the same model twice: the same figures
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "worlds", str(TINY), "--worlds", "3", "--split", "test",
                        "--out", str(out), "--score-confidence", str(cand)], capture_output=True, text=True, timeout=600,
                       cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "confidence models on the same" in r.stdout
    rows = [line for line in r.stdout.splitlines() if "shipped" in line or "cand.json" in line]
    shipped_row = next(line for line in rows if "shipped" in line and "count" not in line)
    cand_row = next(line for line in rows if "cand.json" in line)
    assert shipped_row.split("│")[2:] == cand_row.split("│")[2:] and cand_row.split("│")[2].strip() == "bin"
    count_row = next(line for line in rows if "shipped count" in line)  # the count model, judged on the count alone
    assert count_row.split("│")[2].strip() == "count"


def test_candidate_weights_are_scored_beside_the_shipped_ones_on_the_same_flights(tmp_path):
    """The shipped weights copied to another folder, as a candidate, on dev worlds: each flight is
    processed again with them (the detect stage ran again, on the shipped flight's frames, linked, not
    copied), they score exactly as the shipped weights do, and the shipped weights' results are left
    as they were."""
    from perception.train import DEFAULT_WEIGHTS
    from rackscan.worlds import weights_root

    cand = tmp_path / "cand" / "rackscan-det.onnx"
    cand.parent.mkdir()
    shutil.copy(DEFAULT_WEIGHTS.with_suffix(".onnx"), cand)
    shutil.copy(DEFAULT_WEIGHTS.parent / "train_config.yaml", cand.parent)  # the weights take grey frames
    out = tmp_path / "out"
    cmd = [str(REPO / ".venv/bin/rackscan"), "bench", "worlds", str(TINY), "--worlds", "3", "--split", "dev", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ks = load_family(TINY).worlds("dev", 3)
    before = {k: (out / f"world-{k}" / "world.json").read_text() for k in ks}
    r = subprocess.run(cmd + ["--weights", str(cand)], capture_output=True, text=True, timeout=1200, cwd=REPO,
                       env={**os.environ, "COLUMNS": "200"})  # a table row on one line
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    root = weights_root(out, cand)
    states_cand = {}
    for k in ks:
        assert (out / f"world-{k}" / "world.json").read_text() == before[k]
        shipped, mine = (asdict(load_run(d / f"world-{k}" / "world.json")) for d in (out, root))
        shipped.pop("processing_s"), mine.pop("processing_s")
        assert mine == shipped, k
        if shipped["refused"]:  # refused by the planner: nothing flown to link
            assert not (root / f"world-{k}" / "flight").exists()
            continue
        frame = Path(f"world-{k}/flight/frames/000000.jpg")
        assert os.path.samefile(out / frame, root / frame)
        states = [json.loads((d / f"world-{k}/flight/.rackscan/state.json").read_text()) for d in (out, root)]
        # detected again in the candidate's folder; the copy's bytes are the shipped weights', so is its fingerprint
        assert states[1]["detect"]["fingerprint"] == states[0]["detect"]["fingerprint"] and states[1]["detect"]["frames"]
        states_cand[k] = states[1]
        assert (root / f"world-{k}/flight/detections.parquet").exists()
    assert (root / "summary-dev.json").exists() and (root / "reliability-dev.png").exists()
    table = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in r.stdout.splitlines() if line.count("│") == 10}
    p = pool([load_run(out / f"world-{k}" / "world.json") for k in ks])
    assert p.observed > 0
    tr, pr, tp = p.kinds["all"]
    disc = f"{tp / pr if pr else 1:.2f}/{tp / tr if tr else 1:.2f}"
    assert table["all"] == [str(p.bins), f"{p.count_right} -> {p.count_right}", f"{p.sku_right} -> {p.sku_right}",
                            f"{p.sent_to_recount} -> {p.sent_to_recount}",
                            f"{p.confidently_wrong} -> {p.confidently_wrong}", f"{disc} -> {disc}", "0", "0"]
    saved = json.loads((root / "compare-dev.json").read_text())  # the table, saved once
    assert saved["worlds"] == ks and saved["weights"] == str(cand) and saved["confidence_model"] is None
    every = saved["rows"][-1]
    assert every["label"] == "all" and every["count_right"] == [p.count_right] * 2 and every["newly_wrong"] == []
    assert [r["label"].split()[0] for r in saved["rows"][:-1]] == [str(k) for k in ks]

    # the candidate's boxes fused with a confidence model of their own (here one sure every bin is
    # wrong): fused and reconciled again, not detected again; every bin it observed goes to recount
    from slam_fusion.core.confidence import MODEL_PATH

    doubting = tmp_path / "doubting.json"
    doubting.write_text(json.dumps({**json.loads(MODEL_PATH.read_text()), "bias": -60.0}))
    r = subprocess.run(cmd + ["--weights", str(cand), "--confidence-model", str(doubting)], capture_output=True,
                       text=True, timeout=1200, cwd=REPO, env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "bin confidence model" in r.stdout and "doubting.json" in r.stdout  # said in the tables' titles
    assert json.loads((root / "compare-dev.json").read_text())["confidence_model"] == str(doubting)
    for k in ks:
        assert (out / f"world-{k}" / "world.json").read_text() == before[k]
        mine = load_run(root / f"world-{k}" / "world.json")
        assert mine.recount == mine.observed and mine.confidently_wrong == 0, k
        if mine.refused:
            continue
        state = json.loads((root / f"world-{k}/flight/.rackscan/state.json").read_text())
        assert state["detect"]["fingerprint"] == states_cand[k]["detect"]["fingerprint"]  # the same boxes
        assert state["fuse"]["fingerprint"] != states_cand[k]["fuse"]["fingerprint"]


@pytest.mark.parametrize("extra,expected", [
    (["--confidence-model", "{m}"], "--confidence-model without --weights: the shipped weights' results are fused with "
     "the shipped models"),
    (["--weights", "{w}", "--count-model", "{m}"], "--count-model {m}: a model of target 'bin'; expected 'count'"),
    (["--weights", "{w}", "--confidence-model", "{m}x"], "--confidence-model {m}x: no such file; expected a bin "
     "confidence model's JSON"),
])
def test_candidate_models_are_checked_before_any_world_is_flown(extra, expected, tmp_path, capsys):
    from rackscan.cli import main
    from slam_fusion.core.confidence import MODEL_PATH

    w, m = tmp_path / "rackscan-det.onnx", tmp_path / "m.json"
    w.write_bytes(b"x")
    (tmp_path / "train_config.yaml").write_text("input_colour: gray\n")
    m.write_bytes(MODEL_PATH.read_bytes())
    args = [a.format(w=w, m=m) for a in extra]
    assert main(["bench", "worlds", str(TINY), "--split", "dev", "--worlds", "1", "--out", str(tmp_path / "out"),
                 *args]) == 1
    assert capsys.readouterr().err.strip().startswith("error: " + expected.format(w=w, m=m))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make,extra,expected", [
    (None, [], "--weights {w}: no such file; expected detector weights (.onnx) rackscan train wrote"),
    ("rackscan-det.pt", [], "--weights {w}: a .pt file; expected the .onnx rackscan train exports"),
    ("rackscan-det.onnx", [], "--weights {w}: no train_config.yaml beside it; expected the one rackscan train writes"),
    ("rackscan-det.onnx train_config.yaml", ["--split", "test"], "--weights with --split test: weights are chosen on "
     "dev worlds; ship the chosen ones"),
    ("rackscan-det.onnx train_config.yaml", ["--split", "dev", "--fit-confidence"],
     "--fit-confidence with --weights: the model would be fitted on boxes the shipped weights do not draw; write it as "
     "a candidate with --confidence-out"),
])
def test_candidate_weights_are_checked_before_any_world_is_flown(make, extra, expected, tmp_path, capsys):
    from rackscan.cli import main

    for name in (make or "").split():
        (tmp_path / name).write_bytes(b"x")
    w = tmp_path / ((make or "rackscan-det.onnx").split()[0])
    assert main(["bench", "worlds", str(TINY), "--worlds", "1", "--out", str(tmp_path / "out"), "--weights", str(w),
                 *extra]) == 1
    assert capsys.readouterr().err.strip().startswith("error: " + expected.format(w=w))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("lux,band", [
    (4.0, "under 35 lux"),
    (34.9, "under 35 lux"),
    (35.0, "35-120 lux"),
    (119.0, "35-120 lux"),
    (120.0, "120 lux or more"),
    (2000.0, "120 lux or more"),
    (0.0, "light given as a gain"),
])
def test_a_world_falls_in_one_light_band(lux, band):
    assert light_band(lux) == band


def _obj(bin_id, kind):
    from datasets.world import SceneObject

    return SceneObject(f"{bin_id}/{kind}", kind, "A01-F1", bin_id, "sku1", 0.0, 0.5, 0.0, 0.5, -0.05)


@pytest.mark.parametrize("kinds,named", [
    ([("B1", "tire_standing"), ("B1", "product_label")], {"B1"}),
    ([("B1", "tire_standing"), ("B1", "tire_standing")], set()),  # tires that came without a label
    ([("B1", "pallet"), ("B1", "pallet_label"), ("B1", "tire_lying")], {"B1"}),  # the pallet's label names it
    ([("B1", "carton"), ("B2", "tire_lying"), ("B2", "product_label"), ("B3", "tire_lying")], {"B2"}),
    ([], set()),
])
def test_a_bin_is_labelled_when_any_of_its_goods_carries_a_label(kinds, named):
    assert labelled_bins([_obj(b, k) for b, k in kinds]) == named


def _disc(kind, bin_id, other="", erp_qty=3, true_qty=0):
    return {"kind": kind, "bin_id": bin_id, "sku": "s1", "erp_qty": erp_qty, "true_qty": true_qty,
            "other_bin_id": other or float("nan")}


@pytest.mark.parametrize("row,labelled,seen", [
    (_disc("short", "F1", true_qty=1), None, [("short", "F1", "", 3, 1)]),
    (_disc("ghost", "X1"), None, []),  # a bin not flown: nothing to see
    (_disc("misplaced", "F1", "F2"), None, [("misplaced", "F1", "F2", 3, 0)]),
    (_disc("misplaced", "F1", "X1"), None, [("ghost", "F1", "", 3, 0)]),  # moved off the flown face: its bin is empty
    (_disc("misplaced", "X1", "F2"), None, [("unknown_sku", "F2", "", 0, 3)]),  # moved onto it: listed nowhere flown
    (_disc("misplaced", "X1", "X2"), None, []),
    (_disc("misplaced", "F1", "F2"), {"F2"}, [("misplaced", "F1", "F2", 3, 0)]),  # labelled where they stand: a move
    # no label where they stand: from the air, the bin they left is empty and goods of unread SKU stand in another
    (_disc("misplaced", "F1", "F2"), {"F1"}, [("ghost", "F1", "", 3, 0), ("unknown_sku", "F2", "", 0, 3)]),
    (_disc("misplaced", "F1", "X1"), set(), [("ghost", "F1", "", 3, 0)]),
    (_disc("misplaced", "X1", "F2"), set(), [("unknown_sku", "F2", "", 0, 3)]),
    (_disc("short", "F1", true_qty=1), set(), [("short", "F1", "", 3, 1)]),
    # goods under another SKU: named by a label or their size, the ERP's SKU is seen to be wrong
    (_disc("substituted", "F1"), {"F1"}, [("substituted", "F1", "", 3, 0)]),
    (_disc("substituted", "F1", erp_qty=0, true_qty=3), {"F1"}, [("substituted", "F1", "", 0, 3)]),
    (_disc("substituted", "F1"), None, [("substituted", "F1", "", 3, 0)]),
    (_disc("substituted", "F1"), set(), []),  # named by nothing: only a recount tells the SKU
    (_disc("substituted", "X1"), {"X1"}, []),
])
def test_discrepancies_are_judged_from_the_faces_flown(row, labelled, seen):
    import pandas as pd

    got = discrepancies_in_scope(pd.DataFrame([row]), {"F1", "F2"}, labelled)
    assert list(got.columns) == list(row)
    assert [(r.kind, r.bin_id, r.other_bin_id if isinstance(r.other_bin_id, str) else "", r.erp_qty, r.true_qty)
            for r in got.itertuples()] == seen


def test_worlds_pool_by_light_darkest_first():
    def run(k, lux, right, refused=""):
        n = 0 if refused else 4
        return WorldRun(world=k, split="test", name=f"w{k}", summary="", lux=lux, refused=refused, bins=4, observed=n,
                        count_right=right, sku_right=right, confidently_wrong=n - right,
                        outcomes=[(0.95, i < right) for i in range(n)])

    runs = [run(1, 600, 4), run(2, 20, 1), run(3, 80, 3), run(4, 700, 2), run(5, 3, 0, refused="too dark to count")]
    runs[1] = replace(runs[1], labelled=3, labelled_sku_right=1, unlabelled=1, unlabelled_recount=1)
    runs[3] = replace(runs[3], unlabelled=2, unlabelled_sized=2, unlabelled_sized_right=1)
    got = by_light(runs)
    assert [band for band, _ in got] == ["under 35 lux", "35-120 lux", "120 lux or more"]
    dim, mid, lit = (q for _, q in got)
    assert (dim.worlds, dim.refused, dim.bins, dim.count_right, dim.confidently_wrong) == (2, 1, 8, 1, 3)
    assert (dim.recount, dim.refused_bins, dim.sent_to_recount) == (0, 4, 4)  # the refused world's bins all go
    assert (dim.labelled, dim.labelled_sku_right, dim.unlabelled, dim.unlabelled_recount) == (3, 1, 1, 1)
    assert mid.labelled == 0
    assert (mid.count_right, mid.observed) == (3, 4)
    assert (lit.worlds, lit.count_right, lit.observed, lit.median_count_accuracy) == (2, 6, 8, 0.75)
    assert (lit.unlabelled, lit.unlabelled_sized, lit.unlabelled_sized_right) == (2, 2, 1)
    assert (pool(runs).unlabelled_sized, pool(runs).unlabelled_sized_right) == (2, 1)


def _interrupt_when_flying(cmd: list[str], frames_dir: Path) -> tuple[int, str]:
    """Run ``cmd`` in its own process group, press Ctrl-C (SIGINT to the group, as a terminal does) once
    a frame is written under ``frames_dir``; its exit code and stderr, once the whole group is gone."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         start_new_session=True,  # SIGINT as a terminal sends it, even where CI ignores it
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not any(frames_dir.glob("*/flight/frames/*")) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert p.poll() is None, "the bench ended before its first frame"
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    for _ in range(100):  # the workers and the manager process, ended with it
        try:
            os.killpg(p.pid, 0)
        except ProcessLookupError:
            return p.returncode, err
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)
    raise AssertionError("processes of the interrupted bench were still running 10 s after it exited")


def test_worlds_flown_two_at_a_time_score_as_one_at_a_time(bench, tmp_path):
    """Also after a Ctrl-C in the middle: it stops every worker at once and says so in one line, and the
    next run picks up from what was kept."""
    out, _ = bench
    cmd = [str(REPO / ".venv/bin/rackscan"), "bench", "worlds", str(TINY), "--worlds", "3", "--split", "test",
           "--out", str(tmp_path), "--jobs", "2"]
    rc, err = _interrupt_when_flying(cmd, tmp_path)
    assert (rc, err) == (130, "interrupted\n")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "pooled over 3 test worlds" in r.stdout and "by light" in r.stdout
    for k in (200, 201, 202):
        one, two = (asdict(load_run(d / f"world-{k}" / "world.json")) for d in (out, tmp_path))
        one.pop("processing_s"), two.pop("processing_s")  # wall time, the one figure that may differ
        assert one == two, k


def test_jobs_need_the_local_executor(capsys):
    from rackscan.cli import main

    assert main(["bench", "worlds", str(TINY), "--worlds", "1", "--jobs", "2", "--executor", "ray"]) == 1
    assert capsys.readouterr().err.strip() == ("error: --jobs 2 with --executor ray: give one (the worlds' processes each "
                                               "detect on their own cores)")
