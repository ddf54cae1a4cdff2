"""Discrepancy precision and recall by kind against a synthetic scenario's injected list."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reconciliation.diff import reconcile

# synthetic truth kind -> the diff's kind (unknown_sku: stock the ERP lists nowhere -> unexpected_sku)
TRUTH_TO_DIFF = {"short": "short", "over": "over", "misplaced": "misplaced", "ghost": "ghost", "unknown_sku": "unexpected_sku"}


def diff_kind(kind: str, erp_qty: int) -> str:
    """The diff's kind for a row of the injected list. A substitution (the ERP lists another of its
    SKUs where goods stand) is two rows: its SKU listed, none of it there (``short``: the bin holds
    goods, none of that SKU), and the goods standing where it lists none (``unexpected_sku``)."""
    if kind == "substituted":
        return "short" if erp_qty > 0 else "unexpected_sku"
    return TRUTH_TO_DIFF[kind]


@dataclass(frozen=True)
class KindScore:
    kind: str
    truth: int
    predicted: int
    true_positive: int

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.truth if self.truth else 1.0


def observations_from_truth(stock: pd.DataFrame, confidence: float = 0.99) -> pd.DataFrame:
    """Perfect observations: what the pipeline should produce for every bin (truth/stock.csv)."""
    return pd.DataFrame({"bin_id": stock["bin_id"], "sku": stock["sku"].fillna("").astype(str),
                         "count": stock["count"].astype(int), "confidence": confidence})


def score(discrepancies: pd.DataFrame, truth: pd.DataFrame) -> list[KindScore]:
    """Match predicted (bin, kind[, paired bin]) against the injected list, per kind.

    Counting cannot tell apart bins that lost the same goods (same SKU and quantity): which of
    them was moved to the bin where those goods turned up, and which lost them for good (ghost),
    is a guess. Within such a group the score counts kinds (ghosts, and moves to one of the
    group's destinations), not which bin of the group got which."""
    pred = discrepancies[~discrepancies.kind.isin(["match", "not_scanned", "needs_recount"])]
    truth = truth.fillna("")
    lost = truth[truth.kind.isin(["ghost", "misplaced"])] if "erp_qty" in truth.columns else truth.iloc[:0]
    goods_of = {r.bin_id: (str(r.sku), int(r.erp_qty)) for r in lost.itertuples()}
    dests: dict[tuple, set[str]] = {}
    for r in lost[lost.kind == "misplaced"].itertuples():
        dests.setdefault(goods_of[r.bin_id], set()).add(r.other_bin_id)

    def canon(rows) -> set[tuple[str, str, str]]:
        seen: dict[tuple, int] = {}
        out = set()
        for b, kind, other, sku, qty in sorted(rows):
            g = goods_of.get(b)
            if g is not None and (sku, qty) == g and (kind == "ghost" or kind == "misplaced" and other in dests.get(g, ())):
                i = seen[(g, kind)] = seen.get((g, kind), -1) + 1
                out.add((f"{g}#{i}", kind, str(g) if kind == "misplaced" else ""))
            else:
                out.add((b, kind, other if kind == "misplaced" else ""))
        return out

    pred_set = canon((r.bin_id, r.kind, r.paired_bin_id, str(r.sku), int(r.erp_qty)) for r in pred.itertuples())
    truth_set = canon((r.bin_id, diff_kind(r.kind, int(getattr(r, "erp_qty", 0) or 0)), r.other_bin_id, str(getattr(r, "sku", "")),
                       int(getattr(r, "erp_qty", 0) or 0)) for r in truth.itertuples())
    out = []
    for kind in TRUTH_TO_DIFF.values():
        t = {x for x in truth_set if x[1] == kind}
        p = {x for x in pred_set if x[1] == kind}
        out.append(KindScore(kind, len(t), len(p), len(t & p)))
    t_all, p_all = truth_set, pred_set
    out.append(KindScore("all", len(t_all), len(p_all), len(t_all & p_all)))
    return out


def bench_world(world, observations: pd.DataFrame | None = None, *, min_confidence: float = 0.8) -> list[KindScore]:
    erp = world.erp.rename(columns={"Bin": "bin_id", "Material": "sku", "Quantity": "qty"})
    obs = observations if observations is not None else observations_from_truth(world.stock)
    result = reconcile(erp, obs, site_bins=[b.bin_id for b in world.site.bins], min_confidence=min_confidence,
                       bin_positions=world.site.bin_centres_site())
    return score(result.discrepancies, world.discrepancies)
