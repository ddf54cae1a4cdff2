"""`rackscan bench scale` on small generated sites: every figure printed, perfect observations
scored 1.000 (moves of identical goods counted as the same move)."""

import pandas as pd
import pytest

from rackscan.cli import main
from rackscan.scale_bench import run_size, scale_data, scale_site_dict
from reconciliation.bench import score
from reconciliation.diff import reconcile
from warehouse.site import site_from_dict


@pytest.mark.parametrize("n_bins", [10, 500, 3000])
def test_generated_site_has_the_bins_asked_for(n_bins):
    site = site_from_dict(scale_site_dict(n_bins))
    assert abs(len(site.bins) - n_bins) <= 24 * len(site.aisle_ids)  # whole bays of 2 x 6 levels x 2 positions


@pytest.mark.parametrize("seed", range(5))
def test_perfect_observations_score_one_on_every_seed(seed):
    site = site_from_dict(scale_site_dict(6000))
    erp, obs, injected = scale_data(site, seed)
    res = reconcile(erp, obs, site_bins=[b.bin_id for b in site.bins], bin_positions=site.bin_centres_site())
    s = {k.kind: k for k in score(res.discrepancies, injected)}
    assert (s["all"].precision, s["all"].recall) == (1.0, 1.0)
    assert s["misplaced"].truth > 0 and s["ghost"].truth > 0


def test_two_moves_of_the_same_goods_either_way_round_score_right():
    truth = pd.DataFrame({"kind": ["misplaced", "misplaced", "ghost"], "bin_id": ["a", "b", "c"], "sku": ["s"] * 3,
                          "erp_qty": [4, 4, 4], "true_qty": [0, 0, 0], "other_bin_id": ["x", "y", ""]})
    swapped = pd.DataFrame({"bin_id": ["a", "b", "c"], "kind": ["misplaced", "ghost", "misplaced"], "sku": ["s"] * 3,
                            "erp_qty": [4, 4, 4], "paired_bin_id": ["y", "", "x"]})
    s = {k.kind: k for k in score(swapped, truth)}
    assert (s["all"].true_positive, s["misplaced"].true_positive, s["ghost"].true_positive) == (3, 2, 1)
    wrong_qty = swapped.assign(erp_qty=[4, 4, 5])  # other goods: not the same move
    assert {k.kind: k for k in score(wrong_qty, truth)}["all"].true_positive == 2


def test_bench_scale_prints_every_figure(capsys):
    assert main(["bench", "scale", "--sizes", "300,1200", "--pages-up-to", "300", "--frames", "400"]) == 0
    out = capsys.readouterr().out
    assert "rackscan bench scale" in out and "goals:" in out
    assert "fusion over one flight" in out and "count accuracy 100.0%" in out
    assert "1.000 / 1.000" in out and "not rendered" in out  # 1200 bins: pages skipped as asked
    row = run_size(300, pages=False)
    assert row["bins"] >= 288 and row["reconcile_s"] > 0 and row["peak_rss_mb"] > 0 and row["slowest_page_s"] is None


def test_bench_scale_bad_sizes_is_one_line(capsys):
    assert main(["bench", "scale", "--sizes", "1k"]) == 1
    assert "expected comma-separated whole numbers of bins" in capsys.readouterr().err
    assert main(["bench", "scale", "--sizes", "300", "--frames", "10k"]) == 1
    assert "--frames '10k': expected comma-separated whole numbers of frames" in capsys.readouterr().err
