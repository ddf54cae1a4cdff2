import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.diff import ERP_SKU_CONFIDENCE, name_by_erp, reconcile


def _erp(rows):
    return pd.DataFrame(rows, columns=["bin_id", "sku", "qty"])


def _obs(rows):
    return pd.DataFrame([(*r, 0.98) if len(r) == 3 else r for r in rows], columns=["bin_id", "sku", "count", "confidence"])


CASES = [
    # (name, erp rows, observation rows, expected (bin, sku, kind, erp, counted, paired))
    ("match", [("A", "s1", 4)], [("A", "s1", 4)], [("A", "s1", "match", 4, 4, "")]),
    ("short", [("A", "s1", 4)], [("A", "s1", 2)], [("A", "s1", "short", 4, 2, "")]),
    ("over", [("A", "s1", 4)], [("A", "s1", 7)], [("A", "s1", "over", 4, 7, "")]),
    ("ghost", [("A", "s1", 4)], [("A", "", 0)], [("A", "s1", "ghost", 4, 0, "")]),
    ("unexpected", [], [("A", "s9", 3)], [("A", "s9", "unexpected_sku", 0, 3, "")]),
    ("misplaced", [("A", "s1", 3)], [("A", "", 0), ("B", "s1", 3)], [("A", "s1", "misplaced", 3, 3, "B")]),
    ("misplaced prefers equal quantity",
     [("A", "s1", 3)], [("A", "", 0), ("B", "s1", 5), ("C", "s1", 3)],
     [("A", "s1", "misplaced", 3, 3, "C"), ("B", "s1", "unexpected_sku", 0, 5, "")]),
    ("wrong sku in bin", [("A", "s1", 3)], [("A", "s2", 3)], [("A", "s1", "short", 3, 0, ""), ("A", "s2", "unexpected_sku", 0, 3, "")]),
    ("low confidence", [("A", "s1", 4)], [("A", "s1", 2, 0.4)], [("A", "s1", "needs_recount", 4, 2, "")]),
    # the missing SKU read where the ERP lists none, the count there doubted: moved there, however many
    ("misplaced to a bin sent to recount", [("A", "s1", 4)], [("A", "", 0), ("B", "s1", 3, 0.6)],
     [("A", "s1", "misplaced", 4, 3, "B"), ("B", "s1", "needs_recount", 0, 3, "")]),
    ("a trusted destination first", [("A", "s1", 4)], [("A", "", 0), ("B", "s1", 4, 0.6), ("C", "s1", 2)],
     [("A", "s1", "misplaced", 4, 2, "C"), ("B", "s1", "needs_recount", 0, 4, "")]),
    ("a doubted bin the ERP lists the SKU in is no destination", [("A", "s1", 4), ("B", "s1", 1)],
     [("A", "", 0), ("B", "s1", 3, 0.6)], [("A", "s1", "ghost", 4, 0, ""), ("B", "s1", "needs_recount", 1, 3, "")]),
    # as many of one SKU as the ERP lists of another: a mis-keyed SKU, neither end of a move
    ("a substitution is no move's destination", [("A", "s1", 3), ("B", "s2", 3)], [("A", "s2", 3), ("B", "", 0)],
     [("A", "s1", "short", 3, 0, ""), ("A", "s2", "unexpected_sku", 0, 3, ""), ("B", "s2", "ghost", 3, 0, "")]),
    ("a substitution is no move's source", [("A", "s1", 3), ("B", "s2", 3)], [("A", "s2", 3), ("B", "s2", 3), ("C", "s1", 3)],
     [("A", "s1", "short", 3, 0, ""), ("A", "s2", "unexpected_sku", 0, 3, ""), ("B", "s2", "match", 3, 3, ""),
      ("C", "s1", "unexpected_sku", 0, 3, "")]),
    ("a substitution sent to recount is no move's destination", [("A", "s1", 3), ("B", "s2", 3)],
     [("A", "s2", 3, 0.6), ("B", "", 0)],
     [("A", "s1", "needs_recount", 3, 0, ""), ("A", "s2", "needs_recount", 0, 3, ""), ("B", "s2", "ghost", 3, 0, "")]),
    ("other quantities: a move", [("A", "s1", 3), ("B", "s2", 4)], [("A", "s2", 4), ("B", "", 0)],
     [("A", "s1", "short", 3, 0, ""), ("B", "s2", "misplaced", 4, 4, "A")]),
]


def _obs_cc(rows):
    return pd.DataFrame(rows, columns=["bin_id", "sku", "count", "confidence", "count_confidence"])


# goods counted whose label no camera read (sku ""): (name, erp rows, observation rows with the count's
# own confidence, expected (bin, sku, kind, erp, counted, confidence))
UNREAD = [
    ("ERP empty, count trusted: unexpected goods, SKU unread", [("B", "s1", 2)],
     [("A", "", 2, 0.3, 0.95), ("B", "s1", 2, 0.97, 0.97)],
     [("A", "", "unexpected_sku", 0, 2, 0.95), ("B", "s1", "match", 2, 2, 0.97)]),
    ("ERP empty, count doubted: recount", [], [("A", "", 2, 0.3, 0.6)], [("A", "", "needs_recount", 0, 2, 0.3)]),
    ("ERP empty, no count confidence given: the bin's serves", [], [("A", "", 1, 0.85, float("nan"))],
     [("A", "", "unexpected_sku", 0, 1, 0.85)]),
    ("ERP stocked, count trusted: its SKU unchecked, recount", [("A", "s1", 2)], [("A", "", 2, 0.3, 0.95)],
     [("A", "s1", "needs_recount", 2, 0, 0.3)]),
    ("ERP stocked, bin trusted all the same: recount, not a ghost", [("A", "s1", 2)], [("A", "", 2, 0.9, 0.95)],
     [("A", "s1", "needs_recount", 2, 0, 0.9)]),
    ("ERP stocked with more than the goods counted, count trusted: short whatever their SKU", [("A", "s1", 5)],
     [("A", "", 2, 0.08, 0.96)], [("A", "s1", "short", 5, 2, 0.96)]),
    ("the same, count doubted: recount", [("A", "s1", 5)], [("A", "", 2, 0.08, 0.6)],
     [("A", "s1", "needs_recount", 5, 0, 0.08)]),
    ("ERP stocked with two SKUs: the one it lists more of than the goods is short, the other unchecked",
     [("A", "s1", 3), ("A", "s2", 1)], [("A", "", 2, 0.2, 0.95)],
     [("A", "s1", "short", 3, 2, 0.95), ("A", "s2", "needs_recount", 1, 0, 0.2)]),
    ("ERP stocked with fewer of its one SKU than the goods counted, count trusted: over whatever their SKU",
     [("A", "s1", 1)], [("A", "", 2, 0.18, 0.98)], [("A", "s1", "over", 1, 2, 0.98)]),
    ("the same, count doubted: recount", [("A", "s1", 1)], [("A", "", 2, 0.18, 0.75)],
     [("A", "s1", "needs_recount", 1, 0, 0.18)]),
    ("the same, two SKUs listed: which is over is unknown, recount", [("A", "s1", 1), ("A", "s2", 1)],
     [("A", "", 3, 0.2, 0.95)], [("A", "s1", "needs_recount", 1, 0, 0.2), ("A", "s2", "needs_recount", 1, 0, 0.2)]),
    ("ERP stocked elsewhere: unread goods are not the misplaced SKU", [("B", "s1", 2)],
     [("A", "", 2, 0.3, 0.95), ("B", "", 0, 0.97, 0.97)],
     [("A", "", "unexpected_sku", 0, 2, 0.95), ("B", "s1", "ghost", 2, 0, 0.97)]),
    ("empty bin seen empty: nothing", [], [("A", "", 0, 0.99, 0.99)], []),
]


@pytest.mark.parametrize("name,erp,obs,expected", UNREAD, ids=[c[0] for c in UNREAD])
def test_goods_with_no_label_read(name, erp, obs, expected):
    d = reconcile(_erp(erp), _obs_cc(obs)).discrepancies
    got = sorted((b, s, k, e, c, round(p, 2)) for b, s, k, e, c, p in
                 zip(d.bin_id, d.sku, d.kind, d.erp_qty, d.counted_qty, d.confidence))
    assert got == sorted(expected)
    unread = d[(d.sku == "") | d.kind.isin(["short", "over"])]  # the goods themselves, or the ERP's SKU short or over
    assert (unread.reason == "sku_unread").all()


def _obs_fits(rows):
    return pd.DataFrame(rows, columns=["bin_id", "sku", "count", "confidence", "count_confidence", "size_fits"])


# goods no label of which was read, their measured size fitting catalogue SKUs (fusion's ``size_fits``):
# (name, erp rows, observation rows, expected (bin, sku, kind, erp, counted, confidence), the diff's reason)
ERP_NAMED = [
    ("the ERP's SKU fits the size, count as listed: a match on the ERP's word, never confident",
     [("A", "s1", 2)], [("A", "", 2, 0.1, 0.97, "s1;s2")], [("A", "s1", "match", 2, 2, ERP_SKU_CONFIDENCE)], "sku_as_erp"),
    ("the same, the count less trusted than the cap: the count's confidence", [("A", "s1", 2)],
     [("A", "", 2, 0.1, 0.82, "s2;s1")], [("A", "s1", "match", 2, 2, 0.82)], "sku_as_erp"),
    ("the same, the count doubted: recount", [("A", "s1", 2)], [("A", "", 2, 0.1, 0.6, "s1")],
     [("A", "s1", "needs_recount", 2, 2, 0.6)], "sku_as_erp"),
    ("the ERP's SKU fits, one fewer counted: short of it", [("A", "s1", 3)], [("A", "", 2, 0.1, 0.97, "s1")],
     [("A", "s1", "short", 3, 2, ERP_SKU_CONFIDENCE)], "sku_as_erp"),
    ("the ERP's SKU fits, one more counted: over of it", [("A", "s1", 1)], [("A", "", 2, 0.1, 0.97, "s1")],
     [("A", "s1", "over", 1, 2, ERP_SKU_CONFIDENCE)], "sku_as_erp"),
    ("the size fits other SKUs only: goods of another size, recount", [("A", "s1", 2)],
     [("A", "", 2, 0.1, 0.97, "s2;s3")], [("A", "s1", "needs_recount", 2, 0, 0.1)], "size_off_erp"),
    ("no size fits at all: as unread", [("A", "s1", 2)], [("A", "", 2, 0.1, 0.97, "")],
     [("A", "s1", "needs_recount", 2, 0, 0.1)], "no_size"),
    ("two SKUs listed: the ERP names neither", [("A", "s1", 1), ("A", "s2", 1)], [("A", "", 2, 0.1, 0.97, "s1;s2")],
     [("A", "s1", "needs_recount", 1, 0, 0.1), ("A", "s2", "needs_recount", 1, 0, 0.1)], "no_size"),
    ("a SKU read beside them: the ERP names none", [("A", "s1", 3)],
     [("A", "", 1, 0.1, 0.97, "s1"), ("A", "s1", 2, 0.95, 0.95, "")],
     [("A", "s1", "needs_recount", 3, 2, 0.1)], "no_size"),
    ("the ERP lists nothing there: unexpected goods, SKU unread", [], [("A", "", 2, 0.1, 0.97, "s1")],
     [("A", "", "unexpected_sku", 0, 2, 0.97)], "sku_unread"),
]


@pytest.mark.parametrize("name,erp,obs,expected,why", ERP_NAMED, ids=[c[0] for c in ERP_NAMED])
def test_goods_unread_are_named_by_the_erp_where_their_size_fits_its_sku(name, erp, obs, expected, why):
    r = reconcile(_erp(erp), _obs_fits(obs))
    d = r.discrepancies
    got = sorted((b, s, k, e, c, round(p, 2)) for b, s, k, e, c, p in
                 zip(d.bin_id, d.sku, d.kind, d.erp_qty, d.counted_qty, d.confidence))
    assert got == sorted((*x[:5], round(x[5], 2)) for x in expected)
    named = r.observations[r.observations.reason.str.contains("sku_as_erp")]
    if why == "sku_as_erp":  # the judged observations say so too: the bench scores them, the report keeps them
        assert (d.reason.str.split(";").map(lambda x: "sku_as_erp" in x)).all() and len(named) == 1
        assert named.iloc[0].sku == erp[0][1] and named.iloc[0].confidence <= ERP_SKU_CONFIDENCE
    elif why == "size_off_erp":
        assert (d.reason == "size_off_erp").all() and (r.observations.sku == "").all()
    else:
        assert named.empty and not d.reason.str.contains("size_off_erp").any()


def test_observations_fused_before_sizes_were_kept_are_judged_as_they_were():
    obs = _obs_cc([("A", "", 2, 0.1, 0.97)])
    assert name_by_erp(_erp([("A", "s1", 2)]), obs).equals(obs)
    assert reconcile(_erp([("A", "s1", 2)]), obs).discrepancies.kind.tolist() == ["needs_recount"]


@pytest.mark.parametrize("name,erp,obs,expected", CASES, ids=[c[0] for c in CASES])
def test_diff_table(name, erp, obs, expected):
    d = reconcile(_erp(erp), _obs(obs)).discrepancies
    got = sorted(zip(d.bin_id, d.sku, d.kind, d.erp_qty, d.counted_qty, d.paired_bin_id))
    assert got == sorted(expected)


def _obs_why(rows):
    return pd.DataFrame(rows, columns=["bin_id", "sku", "count", "confidence", "reason"])


# a doubt that names its direction (one tire too many, one too few) against the ERP's quantity
DOUBTS = [
    # scores_disagree names no direction: dev's 7 such rows one over the ERP were 5 true overs, 2 ERP right
    ("scores unlike one another, and the ERP lists one fewer: over", 3, 4, "scores_disagree", "over"),
    ("scores unlike one another, the ERP more: short", 5, 4, "scores_disagree", "short"),
    ("one too few, and the ERP lists one more: recount", 5, 4, "occluded;between_tires", "needs_recount"),
    ("one too few, the ERP fewer: over", 3, 4, "between_tires", "over"),
    ("a row's box left out as a copy, and the ERP lists one more: recount", 5, 4, "occluded;row_copy", "needs_recount"),
    ("a row's box left out as a copy, the ERP fewer: over", 3, 4, "row_copy", "over"),
    ("no doubt: over", 3, 4, "occluded", "over"),
    ("scores unlike one another beside one too few: the ERP one more is a recount", 5, 4,
     "scores_disagree;between_tires", "needs_recount"),
    ("scores unlike one another beside one too few: the ERP one fewer is over", 3, 4,
     "scores_disagree;between_tires", "over"),
]


@pytest.mark.parametrize("name,erp_qty,count,why,kind", DOUBTS, ids=[c[0] for c in DOUBTS])
def test_a_count_off_by_the_tire_its_doubt_names_goes_to_recount(name, erp_qty, count, why, kind):
    d = reconcile(_erp([("A", "s1", erp_qty)]), _obs_why([("A", "s1", count, 0.89, why)])).discrepancies
    assert d.kind.tolist() == [kind]
    assert ("within_doubt" in d.reason[0]) == (kind == "needs_recount")


# a bin sent to recount (its count and SKU together doubted) whose count alone is trusted: (name, erp rows,
# observation rows (bin, sku, count, confidence, count_confidence), expected (bin, sku, kind, paired, confidence))
BEYOND = [
    ("three short of the ERP: short, judged on the count", [("A", "s1", 6)], [("A", "s1", 3, 0.27, 0.84)],
     [("A", "s1", "short", "", 0.84)]),
    ("two over: over", [("A", "s1", 2)], [("A", "s1", 4, 0.5, 0.9)], [("A", "s1", "over", "", 0.9)]),
    ("one over: a doubt of one tire closes it, recount", [("A", "s1", 3)], [("A", "s1", 4, 0.5, 0.9)],
     [("A", "s1", "needs_recount", "", 0.5)]),
    ("one short: recount", [("A", "s1", 10)], [("A", "s1", 9, 0.2, 0.84)], [("A", "s1", "needs_recount", "", 0.2)]),
    ("the count doubted too: recount, however far", [("A", "s1", 4)], [("A", "s1", 2, 0.75, 0.75)],
     [("A", "s1", "needs_recount", "", 0.75)]),
    ("the ERP lists none: an unexpected SKU", [], [("A", "s1", 3, 0.57, 0.89)], [("A", "s1", "unexpected_sku", "", 0.89)]),
    ("the ERP lists none, the SKU missing elsewhere: a move", [("B", "s1", 3)],
     [("A", "s1", 3, 0.57, 0.89), ("B", "", 0, 0.97, 0.97)], [("B", "s1", "misplaced", "A", 0.97)]),
    ("two SKUs, one far off, one by one tire: short and recount", [("A", "s1", 5), ("A", "s2", 2)],
     [("A", "s1", 2, 0.4, 0.85), ("A", "s2", 3, 0.4, 0.85)],
     [("A", "s1", "short", "", 0.85), ("A", "s2", "needs_recount", "", 0.4)]),
    ("goods of no SKU read beside them: recount", [("A", "s1", 6)], [("A", "s1", 3, 0.27, 0.84), ("A", "", 1, 0.27, 0.84)],
     [("A", "s1", "needs_recount", "", 0.27)]),
    # a SKU the ERP lists, none of it read, every tire counted another's (dev 10444 A01-B04-L3-P1, 10502 A01-B07-L5-P1)
    ("none of a listed SKU where the count is trusted: short to none", [("A", "s1", 3), ("A", "s2", 2)],
     [("A", "s2", 2, 0.4, 0.85)], [("A", "s1", "short", "", 0.85), ("A", "s2", "needs_recount", "", 0.4)]),
    ("the same, as many of another as the ERP lists: a substitution", [("A", "s1", 3)], [("A", "s2", 3, 0.6, 0.9)],
     [("A", "s1", "short", "", 0.9), ("A", "s2", "unexpected_sku", "", 0.9)]),
    ("the same, the ERP listing one: a doubt of one tire, recount", [("A", "s1", 1)], [("A", "s2", 2, 0.4, 0.9)],
     [("A", "s1", "needs_recount", "", 0.4), ("A", "s2", "unexpected_sku", "", 0.9)]),
]


@pytest.mark.parametrize("name,erp,obs,expected", BEYOND, ids=[c[0] for c in BEYOND])
def test_a_trusted_count_far_from_the_erp_is_a_discrepancy_whatever_the_doubt(name, erp, obs, expected):
    d = reconcile(_erp(erp), _obs_cc(obs)).discrepancies
    got = sorted((b, s, k, p, round(c, 2)) for b, s, k, p, c in zip(d.bin_id, d.sku, d.kind, d.paired_bin_id, d.confidence))
    assert got == sorted(expected)
    judged = d[d.bin_id == "A"]
    assert (judged.reason.str.contains("beyond_doubt") == (judged.kind != "needs_recount")).all()


@pytest.mark.parametrize("why,kind", [("scores_disagree", "over"), ("between_tires", "over"), ("", "over")])
def test_unread_goods_one_over_the_erp_of_its_one_sku_are_over_whatever_the_doubt(why, kind):
    obs = pd.DataFrame([("A", "", 3, 0.2, 0.85, why)], columns=["bin_id", "sku", "count", "confidence", "count_confidence", "reason"])
    assert reconcile(_erp([("A", "s1", 2)]), obs).discrepancies.kind.tolist() == [kind]


def _obs_serials(rows):
    return pd.DataFrame(rows, columns=["bin_id", "sku", "count", "confidence", "count_confidence", "reason", "n_serials"])


# serialised labels read in a bin (``n_serials``: one label, one tire) outnumbering the ERP's quantity: the bin
# holds more of that SKU than the ERP says, however doubtful the count. (name, erp rows, observation rows
# (bin, sku, count, confidence, count_confidence, reason, n_serials), expected (bin, sku, kind, paired, proven))
SERIALS = [
    # dev 10438 A01-B01-L1-P4: 3 counted for the ERP's 1, one odd tire unread, 2 labels read: a true over
    ("two labels read, the ERP lists one: over, at the bin's confidence", [("A", "s1", 1)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2)], [("A", "s1", "over", "", True)]),
    ("as many labels as the ERP lists: recount", [("A", "s1", 2)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2)], [("A", "s1", "needs_recount", "", False)]),
    ("fewer labels than the ERP lists prove nothing: recount", [("A", "s1", 7)],
     [("A", "s1", 5, 0.004, 0.14, "labels_over_tires", 5)], [("A", "s1", "needs_recount", "", False)]),
    ("no labels counted (older observations): recount", [("A", "s1", 1)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 0)], [("A", "s1", "needs_recount", "", False)]),
    ("NULL in the store (before revision 0010): recount", [("A", "s1", 1)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", float("nan"))], [("A", "s1", "needs_recount", "", False)]),
    ("a trusted bin is over anyway, without the reason", [("A", "s1", 1)],
     [("A", "s1", 3, 0.97, 0.97, "", 3)], [("A", "s1", "over", "", False)]),
    ("the ERP lists none of the SKU here: unexpected", [],
     [("A", "s1", 2, 0.3, 0.69, "", 2)], [("A", "s1", "unexpected_sku", "", True)]),
    # dev 10424 A01-B03-L2-P3: a move's destination sent to recount, its 2 labels read
    ("the ERP lists none here and the SKU is missing elsewhere: a move", [("B", "s1", 2)],
     [("A", "s1", 2, 0.3, 0.69, "", 2), ("B", "", 0, 0.97, 0.97, "", 0)], [("B", "s1", "misplaced", "A", False)]),
    ("two SKUs, the labels of one over the ERP's: that one over, the other recount", [("A", "s1", 1), ("A", "s2", 2)],
     [("A", "s1", 3, 0.5, 0.6, "passes_disagree", 3), ("A", "s2", 2, 0.5, 0.6, "passes_disagree", 1)],
     [("A", "s1", "over", "", True), ("A", "s2", "needs_recount", "", False)]),
]


def _judged(erp, obs, frame, tag: str) -> list[tuple]:
    """The rows (bin, sku, kind, paired bin, marked with ``tag``) of ``obs`` (rows of (bin, sku, count,
    confidence, ...), made a frame by ``frame``) reconciled against ``erp``; every row the reason ``tag``
    marks carries its bin's own confidence (the quantity is unsure) and its count."""
    d = reconcile(_erp(erp), frame(obs)).discrepancies
    conf = {r[0]: r[3] for r in obs}
    for r in d[d.reason.str.contains(tag)].itertuples():
        assert r.confidence == conf[r.bin_id]
        assert r.counted_qty == next(o[2] for o in obs if o[0] == r.bin_id and o[1] == r.sku)
    return sorted((b, s, k, p, tag in r) for b, s, k, p, r in zip(d.bin_id, d.sku, d.kind, d.paired_bin_id, d.reason))


@pytest.mark.parametrize("name,erp,obs,expected", SERIALS, ids=[c[0] for c in SERIALS])
def test_more_labels_read_than_the_erp_lists_is_over_however_doubtful_the_count(name, erp, obs, expected):
    assert _judged(erp, obs, _obs_serials, "labels_over_erp") == sorted(expected)


def _obs_range(rows):
    return pd.DataFrame(rows, columns=["bin_id", "sku", "count", "confidence", "count_confidence", "reason", "count_lo",
                                       "count_hi"])


NA = float("nan")
# the counts a doubted bin's evidence allows (``count_lo``, ``count_hi``; NaN hi: no upper bound) all lying on
# one side of the ERP's quantity: short or over, however doubted. (name, erp rows, observation rows (bin, sku,
# count, confidence, count_confidence, reason, count_lo, count_hi), expected (bin, sku, kind, paired, ranged))
RANGES = [
    # dev 10471 A01-B07-L1-P3: 3 counted, an odd tire unread (maybe none), the ERP's 5: a true short
    ("3 counted, maybe 2, against the ERP's 5: short", [("A", "s1", 5)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2, 3)], [("A", "s1", "short", "", True)]),
    # dev 10438 A01-B01-L1-P4: 3 counted, maybe 2, against the ERP's 1: a true over
    ("3 counted, maybe 2, against the ERP's 1: over", [("A", "s1", 1)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2, 3)], [("A", "s1", "over", "", True)]),
    ("the ERP's quantity within the range: recount", [("A", "s1", 2)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2, 3)], [("A", "s1", "needs_recount", "", False)]),
    ("a tire maybe missed between two, the ERP's one more: recount", [("A", "s1", 13)],
     [("A", "s1", 12, 0.52, 0.85, "between_tires", 12, 13)], [("A", "s1", "needs_recount", "", False)]),
    ("a tire maybe missed between two, the ERP's one fewer: over", [("A", "s1", 11)],
     [("A", "s1", 12, 0.52, 0.85, "between_tires", 12, 13)], [("A", "s1", "over", "", True)]),
    ("no upper bound (labels a floor): never short", [("A", "s1", 9)],
     [("A", "s1", 6, 0.75, 0.75, "labels_over_tires", 6, NA)], [("A", "s1", "needs_recount", "", False)]),
    ("any count allowed (a doubt of no direction): recount", [("A", "s1", 5)],
     [("A", "s1", 3, 0.6, 0.6, "poor_frames", 0, NA)], [("A", "s1", "needs_recount", "", False)]),
    ("no range (observations from before ranges): recount", [("A", "s1", 5)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", NA, NA)], [("A", "s1", "needs_recount", "", False)]),
    ("a trusted bin is short anyway, without the reason", [("A", "s1", 5)],
     [("A", "s1", 3, 0.97, 0.97, "", 3, 3)], [("A", "s1", "short", "", False)]),
    ("the ERP lists none of the SKU here: unexpected", [],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2, 3)], [("A", "s1", "unexpected_sku", "", True)]),
    ("the ERP lists none here and the SKU is missing elsewhere: a move", [("B", "s1", 3)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2, 3), ("B", "", 0, 0.97, 0.97, "", 0, 0)],
     [("B", "s1", "misplaced", "A", False)]),
    ("the ERP's SKU not counted here: the range says nothing of it", [("A", "s2", 4)],
     [("A", "s1", 3, 0.75, 0.75, "odd_tire_unread", 2, 3)],
     [("A", "s1", "unexpected_sku", "", True), ("A", "s2", "needs_recount", "", False)]),
]


@pytest.mark.parametrize("name,erp,obs,expected", RANGES, ids=[c[0] for c in RANGES])
def test_a_doubted_count_whose_every_allowed_count_lies_off_the_erp_is_short_or_over(name, erp, obs, expected):
    assert _judged(erp, obs, _obs_range, "range_off_erp") == sorted(expected)


@pytest.mark.parametrize("c_range,pairs", [
    # dev 10499: C counted 1 of the 2 moved there, its labels a floor (1, no upper bound). Missing X's 2 pair
    # with it, the nearest goods its range allows, and Y's with A's 2
    ((1, NA), {"X": "C", "Y": "A"}),
    # C's count of 1 bounded at 1: the 2 found at A are the nearer match in quantity, and Y takes C
    ((1, 1), {"X": "A", "Y": "C"}),
])
def test_missing_stock_pairs_with_goods_found_by_the_counts_their_evidence_allows(c_range, pairs):
    obs = _obs_range([("X", "", 0, 0.99, 0.99, "", 0, 0), ("Y", "", 0, 0.99, 0.99, "", 0, 0),
                      ("A", "s1", 2, 0.99, 0.99, "", 2, 2), ("C", "s1", 1, 0.75, 0.75, "labels_over_tires", *c_range)])
    where = {"X": (0.0, 0, 0), "C": (1.0, 0, 0), "A": (3.0, 0, 0), "Y": (7.0, 0, 0)}
    d = reconcile(_erp([("X", "s1", 2), ("Y", "s1", 2)]), obs, bin_positions=where).discrepancies
    moves = d[d.kind == "misplaced"]
    assert dict(zip(moves.bin_id, moves.paired_bin_id)) == pairs and len(d[d.kind == "ghost"]) == 0


def test_a_count_less_trusted_than_the_bin_judges_it():
    d = reconcile(_erp([("A", "s1", 3)]), _obs_cc([("A", "s1", 4, 0.83, 0.64)])).discrepancies
    assert d.kind.tolist() == ["needs_recount"] and d.confidence.tolist() == [0.64]


def test_a_pair_with_a_recounted_destination_says_so():
    d = reconcile(_erp([("A", "s1", 4)]), _obs([("A", "", 0), ("B", "s1", 3, 0.6)])).discrepancies.set_index("kind")
    assert d.loc["misplaced", "reason"] == "destination_recount" and d.loc["misplaced", "confidence"] == 0.98


# stock missing from a bin sent to recount (none of its SKU counted there) competes for the goods found where
# the ERP lists none, after sure sources at the same quantity and distance (dev 10367 A01-B01-L2-P2 and 10379
# A01-B05-L1-P1: the true source doubted, a sure ghost nearby took its destination)
POS = {"A": (0.0, 0.0, 0.0), "B": (1.4, 0.0, 0.0), "C": (4.5, 0.0, 0.0), "D": (-1.4, 0.0, 0.0), "E": (1.4, 1.4, 0.0)}
SOURCE_RECOUNT = [
    ("the doubted source, same quantity and nearer, takes the move; the sure one is a ghost",
     [("A", "s1", 4), ("C", "s1", 7)], [("A", "", 0, 0.75), ("B", "s1", 4), ("C", "", 0)],
     [("A", "s1", "misplaced", "B", 0.75, "source_recount"), ("C", "s1", "ghost", "", 0.98, "")]),
    ("a doubted source with unread goods (a false tire) the same",
     [("A", "s1", 1), ("D", "s1", 1)], [("A", "", 1, 0.05), ("B", "s1", 1), ("D", "", 0)],
     [("A", "s1", "misplaced", "B", 0.05, "source_recount"), ("D", "s1", "ghost", "", 0.98, "")]),
    ("a sure source at the same quantity and distance first",
     [("A", "s1", 3), ("E", "s1", 3)], [("A", "", 0, 0.6), ("B", "s1", 3), ("E", "", 0)],
     [("A", "s1", "needs_recount", "", 0.6, ""), ("E", "s1", "misplaced", "B", 0.98, "")]),
    ("a closer quantity wins over a doubt",
     [("A", "s1", 4), ("C", "s1", 3)], [("A", "", 0, 0.6), ("B", "s1", 3), ("C", "", 0)],
     [("A", "s1", "needs_recount", "", 0.6, ""), ("C", "s1", "misplaced", "B", 0.98, "")]),
    ("unpaired, the doubted source stays a recount",
     [("A", "s1", 4)], [("A", "", 0, 0.6), ("B", "s2", 4)],
     [("A", "s1", "needs_recount", "", 0.6, ""), ("B", "s2", "unexpected_sku", "", 0.98, "")]),
    ("a doubted destination does not pair with a doubted source",
     [("A", "s1", 4)], [("A", "", 0, 0.6), ("B", "s1", 4, 0.6)],
     [("A", "s1", "needs_recount", "", 0.6, ""), ("B", "s1", "needs_recount", "", 0.6, "")]),
]


@pytest.mark.parametrize("name,erp,obs,expected", SOURCE_RECOUNT, ids=[c[0] for c in SOURCE_RECOUNT])
def test_stock_missing_from_a_recounted_bin_may_be_a_moves_source(name, erp, obs, expected):
    d = reconcile(_erp(erp), _obs(obs), bin_positions=POS).discrepancies
    got = sorted((b, s, k, p, round(c, 2), w) for b, s, k, p, c, w
                 in zip(d.bin_id, d.sku, d.kind, d.paired_bin_id, d.confidence, d.reason))
    assert got == sorted(expected)


def test_not_scanned_is_a_coverage_gap():
    r = reconcile(_erp([("A", "s1", 4), ("B", "s2", 1)]), _obs([("A", "s1", 4)]), site_bins=["A", "B", "C"])
    assert r.discrepancies.set_index("bin_id").loc["B", "kind"] == "not_scanned"
    assert r.summary.coverage == pytest.approx(1 / 3)


def test_tolerance():
    assert reconcile(_erp([("A", "s1", 4)]), _obs([("A", "s1", 5)]), tolerance=1).discrepancies.kind.tolist() == ["match"]


def test_summary_units_and_value():
    erp = _erp([("A", "s1", 4), ("B", "s2", 2)]).assign(unit_price=[10.0, 100.0])
    r = reconcile(erp, _obs([("A", "s1", 1), ("B", "s2", 3)]))
    s = r.summary
    assert (s.units_short, s.units_over, s.value_short, s.value_over) == (3, 1, 30.0, 100.0)
    assert s.matching_rate == 0 and s.by_kind["short"] == 1 and s.by_kind["over"] == 1


bins = st.sampled_from([f"A01-B0{i}-L1-P1" for i in range(1, 6)])
skus = st.sampled_from(["s1", "s2", "s3"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(bins, skus, st.integers(1, 9)), max_size=8, unique_by=lambda t: (t[0], t[1])),
       st.lists(st.tuples(bins, skus, st.integers(0, 9)), max_size=8, unique_by=lambda t: (t[0], t[1])),
       st.randoms())
def test_permuting_rows_does_not_change_the_result(erp_rows, obs_rows, rnd):
    a = reconcile(_erp(erp_rows), _obs(obs_rows)).discrepancies
    e2, o2 = list(erp_rows), list(obs_rows)
    rnd.shuffle(e2)
    rnd.shuffle(o2)
    b = reconcile(_erp(e2), _obs(o2)).discrepancies
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(bins, skus, st.integers(1, 9)), max_size=8, unique_by=lambda t: (t[0], t[1])))
def test_perfect_count_is_all_matches(rows):
    r = reconcile(_erp(rows), _obs(rows))
    assert set(r.discrepancies.kind) <= {"match"}


def test_injected_discrepancies_are_all_found_from_perfect_observations():
    from datasets.world import build_world
    from reconciliation.bench import bench_world
    from tests.conftest import REPO

    scores = {s.kind: s for s in bench_world(build_world(REPO / "datasets/scenarios/default.yaml"))}
    assert scores["all"].truth == 15
    for s in scores.values():
        assert (s.precision, s.recall) == (1.0, 1.0), s


def test_goods_under_another_sku_are_found_from_perfect_observations(tmp_path):
    """A substitution read from the air: the ERP's SKU short to none, the goods there unexpected."""
    from datasets.world import build_world
    from reconciliation.bench import bench_world
    from tests.conftest import REPO, default_with_substitutions

    world = build_world(default_with_substitutions(tmp_path, 0.05))
    n_sub = int((world.discrepancies.kind == "substituted").sum()) // 2
    scores = {s.kind: s for s in bench_world(world)}
    base = {s.kind: s for s in bench_world(build_world(REPO / "datasets/scenarios/default.yaml"))}
    assert n_sub > 0 and scores["all"].truth == base["all"].truth + 2 * n_sub
    assert scores["short"].truth == base["short"].truth + n_sub
    assert scores["unexpected_sku"].truth == base["unexpected_sku"].truth + n_sub
    for s in scores.values():
        assert (s.precision, s.recall) == (1.0, 1.0), s


def test_values_are_unknown_without_prices_not_zero():
    r = reconcile(_erp([("A", "s1", 4), ("B", "s2", 2)]), _obs([("A", "s1", 1), ("B", "s2", 3)]))
    s = r.summary
    assert (s.value_short, s.value_over, s.unpriced_short, s.unpriced_over) == (None, None, 1, 1)
    partly = _erp([("A", "s1", 4), ("B", "s2", 2), ("C", "s3", 5)]).assign(unit_price=[10.0, None, None])
    s = reconcile(partly, _obs([("A", "s1", 1), ("B", "s2", 3), ("C", "s3", 4)])).summary
    assert (s.value_short, s.unpriced_short, s.value_over, s.unpriced_over) == (30.0, 1, None, 1)
    from rackscan.cmd_reconcile import money

    assert money(None, 1) == "unknown (no prices in the ERP)" and money(30.0, 1) == "30.00 (+ 1 rows without a price)"
