"""A confidence model fitted as a candidate is written where asked and not shipped; candidates and the
shipped model are scored on the same stored bins; bad options are one-line errors."""

import subprocess
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from rackscan.worlds import WorldRun, fit_confidence_model, score_models
from slam_fusion.core.confidence import MODEL_PATH, BinEvidence, ConfidenceModel
from tests.conftest import REPO


def _stored(out, worlds=(10, 11, 12), n=40, seed=0):
    """Three worlds' bins.parquet: evidence whose support and score say whether the count is right."""
    rng = np.random.default_rng(seed)
    runs = []
    for w in worlds:
        rows = []
        for _ in range(n):
            support = float(rng.uniform(0.3, 1.0))
            right = bool(support + rng.normal(0, 0.15) > 0.6)
            ev = BinEvidence(n_views=int(rng.integers(5, 40)), count=int(rng.integers(0, 6)), mean_support=support,
                             min_support=support * 0.9, mean_score=float(rng.uniform(0.5, 0.9)), heuristic=support)
            count_right = right or rng.uniform() < 0.5  # a bin wrong only by its SKU has its count right
            rows.append({"bin_id": f"B{len(rows)}", "right": right, "world": w, "raw_score": support, **asdict(ev),
                         "true_count": ev.count if count_right else ev.count + 1})
        (out / f"world-{w}").mkdir(parents=True)
        pd.DataFrame(rows).to_parquet(out / f"world-{w}" / "bins.parquet", index=False)
        runs.append(WorldRun(world=w, split="dev", name=f"w{w}", summary="", bins=n, observed=n))
    return runs


def test_a_candidate_is_written_where_asked_and_the_shipped_model_stays(tmp_path):
    runs = _stored(tmp_path)
    shipped = MODEL_PATH.read_bytes()
    fit = fit_confidence_model(SimpleNamespace(name="t"), runs, tmp_path, dest=tmp_path / "cand.json")
    assert fit.path == tmp_path / "cand.json" and "L2 penalty" in fit.report and "held out world by world" in fit.report
    assert MODEL_PATH.read_bytes() == shipped
    n, scores = score_models(runs, tmp_path, {"shipped": MODEL_PATH, "cand": fit.path})
    assert n == 120 and [s.name for s in scores] == ["shipped", "cand"] and {s.target for s in scores} == {"bin"}
    assert 0 < scores[0].wrong == scores[1].wrong < 120
    df = pd.concat(pd.read_parquet(tmp_path / f"world-{r.world}" / "bins.parquet") for r in runs)
    m = ConfidenceModel.load(fit.path)
    p = np.array([m.probability(BinEvidence(**{k: r[k] for k in asdict(BinEvidence(n_views=1, count=0))}))
                  for _, r in df.iterrows()])
    right = df["right"].to_numpy(bool)
    cand = scores[1]
    assert cand.recount == int((p < 0.8).sum()) and cand.right_kept == int(((p >= 0.8) & right).sum())
    assert cand.wrong_confident == int(((p >= 0.9) & ~right).sum()) and 0 <= cand.ece <= 1
    assert cand.wrong_counted == int(((p >= 0.8) & ~right).sum())


def test_a_count_model_is_fitted_on_the_count_alone_and_written_where_asked(tmp_path):
    from slam_fusion.core.confidence import COUNT_MODEL_PATH

    runs = _stored(tmp_path)
    df = pd.concat(pd.read_parquet(tmp_path / f"world-{r.world}" / "bins.parquet") for r in runs)
    count_wrong, wrong = int((df["count"] != df["true_count"]).sum()), int((~df["right"]).sum())
    assert 0 < count_wrong < wrong  # some bins are wrong by their SKU alone
    shipped = COUNT_MODEL_PATH.read_bytes() if COUNT_MODEL_PATH.exists() else None
    fit = fit_confidence_model(SimpleNamespace(name="t"), runs, tmp_path, dest=tmp_path / "count.json", target="count")
    assert fit.path == tmp_path / "count.json" and fit.report.startswith(f"count confidence model on 120 bins of 3 worlds ({count_wrong} wrong)")
    assert (COUNT_MODEL_PATH.read_bytes() if COUNT_MODEL_PATH.exists() else None) == shipped
    m = ConfidenceModel.load(fit.path)
    assert f"120 bins, {count_wrong} wrong" in m.fitted_on and m.target == "count"
    # scored beside a bin model, each is judged on its own target: the count model on the count alone
    bin_fit = fit_confidence_model(SimpleNamespace(name="t"), runs, tmp_path, dest=tmp_path / "bin.json")
    _, scores = score_models(runs, tmp_path, {"bin": bin_fit.path, "count": fit.path})
    assert [(s.target, s.wrong) for s in scores] == [("bin", wrong), ("count", count_wrong)]
    p = np.array([m.probability(BinEvidence(**{k: r[k] for k in asdict(BinEvidence(n_views=1, count=0))}))
                  for _, r in df.iterrows()])
    count_right = (df["count"] == df["true_count"]).to_numpy(bool)
    assert scores[1].wrong_confident == int(((p >= 0.9) & ~count_right).sum())
    with pytest.raises(ValueError, match="target 'sku'"):
        fit_confidence_model(SimpleNamespace(name="t"), runs, tmp_path, dest=tmp_path / "x.json", target="sku")


def test_a_recalibrated_candidate_is_written_where_asked_and_scored_beside_the_shipped_model(tmp_path):
    from rackscan.worlds import recalibrate_confidence_model

    runs = _stored(tmp_path)
    shipped = MODEL_PATH.read_bytes()
    fit = recalibrate_confidence_model(SimpleNamespace(name="t"), runs, tmp_path, dest=tmp_path / "recal.json")
    assert MODEL_PATH.read_bytes() == shipped and fit.path == tmp_path / "recal.json"
    assert "(Platt) on" in fit.report and "held out world by world" in fit.report and "t dev worlds 10-12 (120 bins" in fit.report
    old, new = ConfidenceModel.load(MODEL_PATH), ConfidenceModel.load(fit.path)
    assert new.mean == old.mean and new.scale == old.scale  # the same inputs, rescaled log-odds
    a = new.weights[0] / old.weights[0]
    assert np.allclose(np.array(new.weights), a * np.array(old.weights))
    n, scores = score_models(runs, tmp_path, {"shipped": MODEL_PATH, "recal": fit.path})
    assert n == 120 and [s.name for s in scores] == ["shipped", "recal"]


def test_bins_stored_before_a_field_was_added_are_scored_with_its_default(tmp_path):
    from rackscan.worlds import stored_bins

    runs = _stored(tmp_path, worlds=(10,), n=5)
    path = tmp_path / "world-10" / "bins.parquet"
    pd.read_parquet(path).drop(columns=["score_spread"]).to_parquet(path, index=False)
    df, ev, right = stored_bins(runs, tmp_path)
    assert len(ev) == len(right) == 5 and all(e.score_spread == 0.0 for e in ev)


@pytest.mark.parametrize("args,message", [
    (["--confidence-out", "cand.json"], "--confidence-out cand.json: only with --fit-confidence"),
    (["--score-confidence", "nowhere.json"], "--score-confidence nowhere.json: no such file; expected a confidence model"),
    (["--split", "test", "--fit-confidence"], "test worlds are only scored; fit on the dev split"),
    (["--split", "test", "--recalibrate-confidence"], "--recalibrate-confidence with --split test: test worlds are only scored"),
    (["--fit-confidence", "--recalibrate-confidence"], "choose one (a refit, a count model, or the shipped model rescaled)"),
    (["--fit-count-confidence", "--fit-confidence"], "--fit-confidence with --fit-count-confidence: choose one"),
    (["--split", "test", "--fit-count-confidence"], "--fit-count-confidence with --split test: test worlds are only scored"),
])
def test_bad_confidence_options_are_one_line_errors(tmp_path, args, message):
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "worlds", str(REPO / "datasets/families/tiny.yaml"),
                        "--worlds", "1", "--out", str(tmp_path), *args], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    assert r.returncode == 1 and message in r.stderr + r.stdout
    assert "Traceback" not in r.stderr and not list(tmp_path.glob("world-*"))


@pytest.mark.slow
def test_recalibrating_on_worlds_with_no_wrong_bin_is_a_one_line_error_and_writes_nothing(tmp_path):
    # the tiny family's dev worlds: one refused as too dark, the other two counted right bin for bin
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "worlds", str(REPO / "datasets/families/tiny.yaml"),
                        "--worlds", "3", "--split", "dev", "--out", str(tmp_path), "--recalibrate-confidence",
                        "--confidence-out", str(tmp_path / "cand.json")], capture_output=True, text=True, cwd=tmp_path,
                       timeout=600)
    assert r.returncode == 1 and "recalibrating needs right and wrong bins of two worlds or more" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr and not (tmp_path / "cand.json").exists()
