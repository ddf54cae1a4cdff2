import numpy as np
import pandas as pd
import pytest

from datasets.scenario import load_scenario
from datasets.tires import parse_size
from datasets.world import build_world
from tests.conftest import REPO, default_with_substitutions

DEFAULT = REPO / "datasets" / "scenarios" / "default.yaml"


@pytest.fixture(scope="module")
def world():
    return build_world(DEFAULT)


def test_same_seed_same_world(world):
    again = build_world(DEFAULT)
    pd.testing.assert_frame_equal(world.stock, again.stock)
    pd.testing.assert_frame_equal(world.erp, again.erp)
    assert world.objects == again.objects


def test_other_seed_other_world(tmp_path):
    text = DEFAULT.read_text().replace("seed: 7", "seed: 8")
    p = tmp_path / "s.yaml"
    p.write_text(text)
    (tmp_path / "default_site.yaml").write_text((DEFAULT.parent / "default_site.yaml").read_text())
    assert not build_world(p).stock.equals(build_world(DEFAULT).stock)


def test_injected_discrepancies_by_kind(world):
    n = len(world.site.bins)
    rates = world.scenario.spec.discrepancies
    counts = world.discrepancies["kind"].value_counts().to_dict()
    for kind in ("short", "over", "misplaced", "ghost", "unknown_sku"):
        assert counts.get(kind, 0) == int(round(getattr(rates, kind) * n)), kind
    assert world.discrepancies["bin_id"].is_unique


def test_erp_differs_from_truth_exactly_by_the_injected_list(world):
    erp = {(r.Bin, r.Material): r.Quantity for r in world.erp.itertuples()}
    truth = {(r.bin_id, r.sku): r.count for r in world.stock.itertuples() if r.count > 0}
    diff_bins = {b for (b, s) in set(erp) ^ set(truth)} | {b for k in set(erp) & set(truth) if erp[k] != truth[k] for b in [k[0]]}
    d = world.discrepancies
    expected = set(d["bin_id"]) | set(d.loc[d.kind == "misplaced", "other_bin_id"])
    assert diff_bins == expected


def test_misplaced_stock_sits_in_the_other_bin(world):
    stock = world.stock.set_index("bin_id")
    for r in world.discrepancies[world.discrepancies.kind == "misplaced"].itertuples():
        assert stock.loc[r.bin_id, "count"] == 0
        assert stock.loc[r.other_bin_id, "sku"] == r.sku


def test_unknown_skus_are_missing_from_erp_but_labelled(world):
    unknown = world.discrepancies[world.discrepancies.kind == "unknown_sku"]
    assert len(unknown)
    for r in unknown.itertuples():
        assert r.sku not in set(world.erp["Material"])
        assert r.sku in set(world.catalogue["sku"])


def test_substituted_goods_stand_where_the_erp_lists_another_of_its_skus(world, tmp_path):
    sub = build_world(default_with_substitutions(tmp_path, 0.05))
    # drawn on their own: the stock, the scene and every other discrepancy as without them
    pd.testing.assert_frame_equal(sub.stock, world.stock)
    assert sub.objects == world.objects
    d = sub.discrepancies
    pd.testing.assert_frame_equal(d[d.kind != "substituted"].reset_index(drop=True), world.discrepancies)
    rows = d[d.kind == "substituted"]
    assert len(rows) == 2 * int(round(0.05 * len(sub.site.bins))) > 0
    stock, erp = sub.stock.set_index("bin_id"), sub.erp.set_index("Bin")
    listed = set(sub.catalogue.loc[sub.catalogue.in_erp, "sku"])
    for b, pair in rows.groupby("bin_id"):
        named, held = pair[pair.erp_qty > 0].iloc[0], pair[pair.erp_qty == 0].iloc[0]
        assert held.sku == stock.loc[b, "sku"] and held.true_qty == stock.loc[b, "count"]
        assert named.sku != held.sku and named.sku in listed and named.true_qty == 0
        assert (erp.loc[b, "Material"], erp.loc[b, "Quantity"]) == (named.sku, stock.loc[b, "count"])
    assert not set(rows.bin_id) & set(d.loc[d.kind != "substituted", "bin_id"])  # each bin used once


def test_look_alike_substitutions_name_the_sku_nearest_the_goods_size(tmp_path):
    """``substituted_alike`` 1: every substitution keys the goods under the ERP's SKU nearest their size,
    in the same bins, with the same goods, as substitutions drawn at random."""
    from datasets.world import _size_gap

    (tmp_path / "r").mkdir(), (tmp_path / "a").mkdir()
    rnd = build_world(default_with_substitutions(tmp_path / "r", 0.05)).discrepancies
    alike = build_world(default_with_substitutions(tmp_path / "a", 0.05, alike=1.0))
    d = alike.discrepancies
    rows, was = d[d.kind == "substituted"], rnd[rnd.kind == "substituted"]
    assert list(rows.bin_id) == list(was.bin_id) and list(rows.true_qty) == list(was.true_qty)
    cat = alike.catalogue.set_index("sku")
    listed = [s for s in cat.index if cat.loc[s, "in_erp"]]
    size = {s: parse_size(cat.loc[s, "size"]) for s in cat.index}
    for b, pair in rows.groupby("bin_id"):
        named, held = pair[pair.erp_qty > 0].iloc[0].sku, pair[pair.erp_qty == 0].iloc[0].sku
        gaps = sorted(_size_gap(size[s], size[held]) for s in listed if s != held)
        assert _size_gap(size[named], size[held]) == gaps[0]
    assert (rows.sku.to_numpy() != was.sku.to_numpy()).any()  # the default's SKUs: the nearest is not the random one


def test_tire_objects_have_the_size_their_code_implies(world):
    cat = world.catalogue.set_index("sku")
    for o in world.objects:
        if not o.kind.startswith("tire"):
            continue
        size = parse_size(cat.loc[o.sku, "size"])
        along, up = o.u1 - o.u0, o.v1 - o.v0
        if o.kind == "tire_standing":
            assert up == pytest.approx(size.outer_diameter_mm / 1000) and along == pytest.approx(size.width_mm / 1000)
        else:
            assert along == pytest.approx(size.outer_diameter_mm / 1000) and up == pytest.approx(size.width_mm / 1000)


def test_tire_counts_match_stock_and_fit_their_bins(world):
    tires = pd.Series([o.bin_id for o in world.objects if o.kind.startswith("tire")]).value_counts()
    stock = world.stock.set_index("bin_id")["count"]
    for bin_id, count in stock.items():
        assert tires.get(bin_id, 0) == count
    for o in world.objects:
        b = world.site.bin(o.bin_id)
        assert b.u0_m - 1e-9 <= o.u0 and o.u1 <= b.u1_m + 1e-9 and o.v1 <= b.v1_m + 1e-9


def test_product_labels_carry_gs1_with_valid_check_digits(world):
    from datasets.labels import gs1_check_digit

    labels = [o for o in world.objects if o.kind == "product_label"]
    assert labels
    for o in labels[:50]:
        assert o.text.startswith("(01)") and o.text[18:22] == "(21)"
        gtin14 = o.text[4:18]
        assert gs1_check_digit(gtin14[:-1]) == gtin14[-1]


def test_default_standoff_follows_the_smallest_required_label(world):
    cam = world.camera
    d = world.default_standoff_m()
    assert 3.0 / 0.8 == pytest.approx(3.0 / cam.gsd_mm_px(d), rel=1e-6)  # product QR at 3.75 px/module
