"""The diff: ERP stock against what the drones counted, per bin and SKU (pure, no I/O).

Kinds: match, short (counted < ERP), over (counted > ERP), misplaced (ERP's stock is missing here
and the same SKU was found in a bin where the ERP has none: the pair is one discrepancy at the ERP
bin with ``paired_bin_id``), ghost (ERP has stock, the bin was seen empty), unexpected_sku (stock
the ERP does not list for this bin, including SKUs the ERP lists nowhere), not_scanned (coverage
gap), needs_recount (the count's confidence is below the threshold). Counts compare with a
tolerance (0 by default). A bin is judged on its confidence (the chance that its count and SKU are
right), or on its count's where that is lower (the count alone cannot be less likely right than the
count with its SKU).

Goods counted whose label no camera read (an observation with sku "" and a count) cannot be
checked against the ERP's SKU. In a bin the ERP lists stock for, they are at most that many of
each SKU it lists: a SKU it lists more of is short whatever the goods are (``short``, counted the
goods' number, reason ``sku_unread``: the shortfall is at least the difference), judged on the count
alone (the observation's ``count_confidence``, where fusion gave one; else its ``confidence``). More
goods than the ERP lists of the one SKU it lists there are ``over`` the same way (reason
``sku_unread``: more goods stand there than the ERP knows of, that SKU or another put beside it),
unless a doubt of the count's direction (``DOUBT_OFF_BY``) closes the gap. Every other row of
the bin goes to recount, and so do all of them where that count is doubted. In a
bin the ERP lists empty they are a discrepancy whatever their SKU: unexpected_sku with sku "" (reason
``sku_unread``), judged on the count alone, and a recount where that is under the threshold.

Goods of one SKU read in a bin, as many as the ERP lists there of another SKU none of which stands
in it, are a mis-keyed SKU (received or put away under the wrong one): the ERP's SKU ``short`` to
none and the goods ``unexpected_sku``, both with reason ``substituted``, and neither end of a move
below (in a bin sent to recount, the rows go to recount, the ERP's with that reason, and are no move's
end either). Before, a bin holding another bin's missing SKU was taken for that stock's destination, and a
bin whose own SKU was found elsewhere for its source: with substitutions in the family (2% of bins,
the ERP's side only), perfect observations of the default world paired two of five into moves, and
on the 87 flown dev worlds 10419-10508 the diff reported 23 of 62 as moves (discrepancies 0.956 / 0.912
-> 0.997 / 0.981; 0.996 / 0.983 without substitutions).

Stock missing from its bin pairs first with the same SKU found, with confidence, where the ERP
lists none (``misplaced``); left unpaired, it pairs with such goods whose SKU was read in a bin
sent to recount for its count (``misplaced`` with reason ``destination_recount``; the destination
keeps its ``needs_recount`` row): goods of the missing SKU stand there, however many. Stock the ERP
lists in a bin sent to recount where none of its SKU was counted may be missing too: it competes
for the goods found with confidence, after sure sources at the same quantity difference and
distance, and where it wins its row is ``misplaced`` with reason ``source_recount`` at the bin's own
(low) confidence, instead of ``needs_recount`` (dev 10367 A01-B01-L2-P2 and 10379 A01-B05-L1-P1:
the true source doubted, a sure ghost nearby took its destination and was reported as the move).
The closest quantities pair first, then the nearest bins; where fusion bounds the goods found (their
``count_lo`` / ``count_hi``, below), a quantity is as close as it lies to those bounds (dev 10499: 1
counted of 2 moved, its labels a floor, paired with the neighbour the 2 came from, not with another
source's 2 counted further on).

Three of fusion's doubts (the observation's reason) say which way a count may be off, by one tire:
``between_tires`` (a tire-shaped box left out between two counted tires may be a tire behind them:
one too few), ``row_copy`` (a standing box left out as a second box of its neighbour's tire may
be a crowded row's tire: one too few) and ``end_ghost`` (a box left out at a row's end as no tire may
be one: one too few). Where the ERP's quantity is the count that doubt allows, the
count does not contradict the ERP, and the row goes to recount (reason ``within_doubt``) instead of
short or over. ``scores_disagree`` (a counted "tire" scored unlike the others may be none) no longer
does: on the 126 flown dev worlds 10263-10406 its counts held at 0.8 or more were right on 210 of 213
bins, and of the 7 rows it sent to recount as one tire over the ERP, 5 were true ``over`` rows the
count had right (10329, 10354, 10395, 10398, 10400) and 2 the ERP had right (10270, 10272). Such a
row is ``over`` at the bin's confidence (fusion holds it at 0.89) with the doubt in its reason.

A bin's confidence is the chance that its count and SKU are both right, and fusion's doubts hold it
under the threshold for a count that may be one tire off. Goods of a SKU read whose count alone is
trusted (every observation of the bin at ``count_confidence`` >= the threshold, no goods unread) and
off the ERP's quantity by :data:`BEYOND_DOUBT` tires or more are short, over or an unexpected SKU
(paired as a move first) whatever that doubt: the doubt cannot close the gap. So is a SKU the ERP lists
that many of, none of it read, where every tire counted is another SKU's read (none unread): its count
is none (dev 10444 A01-B04-L3-P1 and 10502 A01-B07-L5-P1, goods under another SKU whose ERP row went to
recount; on the 87 flown dev worlds 10419-10508, 582 -> 584 of 593 found, nothing more reported false).
Such rows carry the count's confidence and reason ``beyond_doubt``.

A serialised label (GS1 GTIN + serial: one label, one tire) read in a bin is a tire of its SKU standing
there, however doubtful the count: fusion gives each observation the distinct serials of its GTIN it
read in the bin (``n_serials``). Where a bin sent to recount (or holding goods unread) shows more of
them than the ERP lists of that SKU, the bin holds more of it than the ERP says whatever the count's
doubt: the row is ``over`` (an ``unexpected_sku``, paired as a move's destination first, where the ERP
lists none), at the bin's own confidence, with reason ``labels_over_erp``; only the quantity stays
unsure. On the 24 fresh dev worlds 10419-10442 a bin's serials never outnumbered its true tires (489
bins with a SKU read), and of the 28 doubted bins with a SKU read, 2 had more serials than the ERP
listed, both true discrepancies (10438 A01-B01-L1-P4, 3 counted for the ERP's 1 with one odd tire
unread: a true ``over`` that went to recount before; 10424 A01-B03-L2-P3, a move's destination). On
the 36 fresh dev worlds flown after (10443-10478) it never fired, and serials never exceeded the truth
(1,105 bins in all); on the first 20 test worlds, scored once after, it found two discrepancies and
reported nothing false.

Fusion gives each observation the range of counts its evidence allows (``count_lo``, ``count_hi``;
``slam_fusion.core.confidence.BinEvidence.count_range``): where both its models trust the count before
the rules' caps and every rule that doubts it says which way it may be off, the count widened by those
rules only; otherwise any count. Where a bin sent to recount has a range of a SKU wholly above the
ERP's quantity, or wholly below it (and no goods unread, which may be that SKU), every count the
evidence allows says the same: the row is ``over`` (an ``unexpected_sku``, paired as a move's
destination first, where the ERP lists none) or ``short``, at the bin's own confidence, with reason
``range_off_erp``. Dev 10471 A01-B07-L1-P3: 3 counted, the lowest-scored tire the only one unread (maybe
none), against the ERP's 5: short, whether 2 or 3. On the 57 flown fresh dev worlds 10419-10478, where it
was chosen, it fired twice, both true (10438 A01-B01-L1-P4's over, which ``labels_over_erp`` finds
first, and 10471's short): 293 -> 294 of 300 found, nothing false; on the 11 flown after (10479-10490)
it did not fire.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import pandas as pd

# fusion's doubts that say which way a bin's count may be off by one tire (slam_fusion.core.confidence)
DOUBT_OFF_BY = {"between_tires": -1, "row_copy": -1, "end_ghost": -1}
# tires between a trusted count and the ERP's quantity that no doubt of one tire closes. Dev 10263-10286 (22
# flown): of the rows sent to recount with goods of their SKU read and the count trusted, those two tires or
# more off the ERP were 8 of 8 discrepancies (3 short, 2 unexpected, 3 a move's destination), those one off 1 of 10
BEYOND_DOUBT = 2
# the most a bin is trusted whose SKU rests on the ERP's word (goods counted, no label read, their size
# fitting the one SKU the ERP lists there: ``name_by_erp``): above the recount threshold (0.8), under
# the benches' "confident" (0.9), so goods keyed under another SKU of their own size, which no camera
# tells apart, are never counted wrong with confidence
ERP_SKU_CONFIDENCE = 0.85
KINDS = ("match", "short", "over", "misplaced", "ghost", "unexpected_sku", "not_scanned", "needs_recount")
DISCREPANCY_COLUMNS = ["bin_id", "sku", "kind", "erp_qty", "counted_qty", "delta", "paired_bin_id", "confidence",
                       "evidence_path", "reason", "unit_price"]


@dataclass(frozen=True)
class ReconciliationSummary:
    bins_on_site: int
    bins_in_erp: int
    bins_scanned: int
    coverage: float
    matching_rate: float
    units_short: int
    units_over: int
    value_short: float | None  # None: no row of them has a price (unknown, not zero)
    value_over: float | None
    by_kind: dict
    unpriced_short: int = 0  # rows short / over whose SKU has no price
    unpriced_over: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReconciliationResult:
    discrepancies: pd.DataFrame  # DISCREPANCY_COLUMNS, one row per bin and SKU (matches included)
    summary: ReconciliationSummary
    observations: pd.DataFrame | None = None  # as the diff judged them: unread goods named by the ERP (``name_by_erp``)


def optional_int(row, col: str) -> int | None:
    """An observation's optional integer column (``n_serials``, ``count_lo``, ``count_hi``): None where
    the row has none (absent, NULL, NaN or pandas' NA)."""
    v = getattr(row, col, None)
    return None if v is None or pd.isna(v) else int(v)


def _off_range(rng: tuple[int, int | None], eq: int, tolerance: int, unread: bool) -> bool:
    """The counts a bin's evidence allows of a SKU (``rng``: lo, hi or None for no upper bound) all lie
    off the ERP's quantity ``eq`` (beyond ``tolerance``). Below it only where the bin holds no goods
    unread: those may be the SKU's."""
    lo, hi = rng
    return lo > eq + tolerance or (not unread and hi is not None and hi < eq - tolerance)


def count_confidence_of(obs: pd.DataFrame) -> pd.Series:
    """Each observation's count confidence: its ``count_confidence`` where fusion gave one (the
    column is absent, None or NaN in observations from before 2026-12-05), else its ``confidence``."""
    if "count_confidence" not in obs.columns:
        return obs["confidence"].astype(float)
    return pd.to_numeric(obs["count_confidence"], errors="coerce").fillna(obs["confidence"]).astype(float)


def _text(v) -> str:
    return v if isinstance(v, str) else ""


def name_by_erp(erp: pd.DataFrame, observations: pd.DataFrame, *, cap: float = ERP_SKU_CONFIDENCE) -> pd.DataFrame:
    """The observations with goods whose label no camera read named by the ERP where their size allows
    it: in a bin the ERP lists one SKU for, goods counted there and nothing else, whose measured size
    fits that SKU (fusion's ``size_fits``: every catalogue SKU within the size's spread) are that SKU,
    reason ``sku_as_erp``, at their count's confidence held to ``cap``; where their size fits other SKUs
    only, the row gains reason ``size_off_erp`` (goods of another size than the ERP's: a recount says
    which) and keeps no SKU. Observations without ``size_fits`` (fused before 2026-12-07) are returned
    as they are. On the 87 flown dev worlds 10419-10508 (half the family's substitutions under a SKU of
    the goods' own size) it named 38 of the 81 bins of tires with no label at all, 37 right, the other
    a look-alike swap no camera tells (docs/worlds.md)."""
    obs = observations.copy()
    if "size_fits" not in obs.columns or obs.empty:
        return obs
    if "reason" not in obs.columns:
        obs["reason"] = ""
    if not obs.index.is_unique:  # rows set by label below
        obs = obs.reset_index(drop=True)
    fits_text = obs["size_fits"].map(_text)
    alone = obs["bin_id"].map(obs["bin_id"].value_counts()) == 1  # the goods are all the bin holds
    todo = obs.index[(obs["sku"].map(_text) == "") & (obs["count"] > 0) & (fits_text != "") & alone]
    if not len(todo):
        return obs
    listed = erp.loc[erp["bin_id"].isin(set(obs.loc[todo, "bin_id"])) & (erp["qty"].astype(int) > 0), ["bin_id", "sku"]]
    listed = listed.drop_duplicates()
    one = listed[listed["bin_id"].map(listed["bin_id"].value_counts()) == 1].set_index("bin_id")["sku"]  # one SKU listed
    sub = obs.loc[todo]
    sku_of = sub["bin_id"].map(one)
    sub, sku_of = sub[sku_of.notna()], sku_of[sku_of.notna()]
    if not len(sub):
        return obs
    fit = [sku in f.split(";") for sku, f in zip(sku_of, fits_text[sub.index])]
    obs.loc[sub.index, "reason"] = [";".join(x for x in (_text(r), "sku_as_erp" if ok else "size_off_erp") if x)
                                    for r, ok in zip(sub["reason"], fit)]
    named = sub.index[fit]
    obs.loc[named, "sku"] = sku_of[fit].to_numpy()
    obs.loc[named, "confidence"] = count_confidence_of(sub.loc[named]).clip(upper=cap).to_numpy()
    return obs


def reconcile(erp: pd.DataFrame, observations: pd.DataFrame, *, site_bins: list[str] | None = None,
              scanned_bins: set[str] | None = None, min_confidence: float = 0.8, tolerance: int = 0,
              prices: dict[str, float] | None = None,
              bin_positions: dict[str, tuple[float, float, float]] | None = None,
              erp_sku_confidence: float = ERP_SKU_CONFIDENCE) -> ReconciliationResult:
    """Diff ERP rows (bin_id, sku, qty[, unit_price]) against observations (bin_id, sku, count,
    confidence[, n_views, evidence_path, reason, count_confidence, size_fits]); ``scanned_bins`` defaults
    to the observed bins. Goods unread whose size fits the ERP's SKU are named by it first
    (``name_by_erp``, held to ``erp_sku_confidence``); the result keeps the observations so named.
    ``bin_positions`` (site-frame centres) break ties when pairing misplaced stock: nearer first."""
    prices = dict(prices or {})
    if "unit_price" in erp.columns:
        for s, pr in zip(erp["sku"], erp["unit_price"]):
            if pr is not None and pr == pr:  # NaN != NaN: a missing price
                prices.setdefault(s, float(pr))
    named = name_by_erp(erp, observations, cap=erp_sku_confidence)
    obs = named.copy()
    for col, default in (("evidence_path", ""), ("reason", ""), ("n_views", 0)):
        if col not in obs.columns:
            obs[col] = default
    scanned = set(obs["bin_id"]) if scanned_bins is None else set(scanned_bins)
    erp_q = {(b, s): int(q) for b, s, q in zip(erp["bin_id"], erp["sku"], erp["qty"]) if int(q) > 0}
    seen: dict[tuple[str, str], dict] = {}
    bin_conf: dict[str, float] = {}
    bin_evidence: dict[str, str] = {}
    bin_reason: dict[str, str] = {}
    obs["count_confidence"] = count_confidence_of(obs)
    unread: dict[str, tuple[int, float]] = {}  # bin -> goods counted with no label read, their count's confidence
    serials: dict[tuple[str, str], int] = {}  # (bin, SKU) -> distinct serialised labels of it read there: a floor
    ranges: dict[tuple[str, str], tuple[int, int | None]] = {}  # (bin, SKU) -> the counts its evidence allows
    count_conf: dict[str, float] = {}
    for r in obs.itertuples(index=False):
        # the chance the count and SKU are right is no more than the count's alone: where the two models
        # disagree, the lower judges the bin (dev 10263-10286: 1 bin of 813, 4 counted of 3 true at 0.83, count 0.64)
        bin_conf[r.bin_id] = min(bin_conf.get(r.bin_id, 1.0), float(r.confidence), float(r.count_confidence))
        count_conf[r.bin_id] = min(count_conf.get(r.bin_id, 1.0), float(r.count_confidence))
        if not r.sku and int(r.count) > 0:
            n, c = unread.get(r.bin_id, (0, 1.0))
            unread[r.bin_id] = (n + int(r.count), min(c, float(r.count_confidence)))
        if r.evidence_path:
            bin_evidence.setdefault(r.bin_id, r.evidence_path)
        if r.reason:
            bin_reason[r.bin_id] = ";".join(sorted(set(filter(None, (bin_reason.get(r.bin_id, "") + ";" + r.reason).split(";")))))
        if r.sku and int(r.count) > 0:
            k = (r.bin_id, r.sku)
            seen[k] = {"count": seen.get(k, {}).get("count", 0) + int(r.count), "confidence": float(r.confidence)}
            # absent (older observations) or NULL: no serials counted
            serials[k] = max(serials.get(k, 0), optional_int(r, "n_serials") or 0)
            lo, hi = optional_int(r, "count_lo"), optional_int(r, "count_hi")
            was_lo, was_hi = ranges.get(k, (0, 0))  # two observations of one SKU in a bin: their ranges add up
            ranges[k] = (was_lo + (lo or 0), None if hi is None or was_hi is None else was_hi + hi)
    rows: list[dict] = []

    beyond: set[tuple[str, str]] = set()  # rows of a doubted bin judged on the count alone (``beyond_doubt``)
    proven: set[tuple[str, str]] = set()  # rows of a doubted bin whose labels read outnumber the ERP's (``labels_over_erp``)
    ranged: set[tuple[str, str]] = set()  # rows of a doubted bin whose counts allowed all lie off the ERP's (``range_off_erp``)

    def add(b, s, kind, eq, cq, paired="", conf=None, why=""):
        """One row; ``why``: the diff's own reason, after the bin's reasons from fusion."""
        if (b, s) in beyond:
            conf, why = count_conf[b] if conf is None else conf, ";".join(x for x in ("beyond_doubt", why) if x)
        elif (b, s) in proven:
            why = ";".join(x for x in ("labels_over_erp", why) if x)
        elif (b, s) in ranged:
            why = ";".join(x for x in ("range_off_erp", why) if x)
        reason = ";".join(x for x in (bin_reason.get(b, ""), why) if x)
        rows.append({"bin_id": b, "sku": s, "kind": kind, "erp_qty": eq, "counted_qty": cq, "delta": cq - eq,
                     "paired_bin_id": paired, "confidence": bin_conf.get(b, 0.0) if conf is None else conf,
                     "evidence_path": bin_evidence.get(b, ""), "reason": reason, "unit_price": prices.get(s)})

    missing: list[tuple[str, str, int]] = []  # ERP stock not found in its bin (ghost/short to zero)
    doubted_missing: list[tuple[str, str, int]] = []  # the same, none of its SKU counted, in bins sent to recount
    unexpected: list[tuple[str, str, int]] = []
    recounted: list[tuple[str, str, int]] = []  # the same, in bins sent to recount: their SKU read, not their count
    stocked = {k[0] for k in seen}  # bins where goods of a SKU read were counted
    erp_skus = Counter(b for b, _ in erp_q)  # bin -> how many SKUs the ERP lists there
    doubts = {b: {d for x, d in DOUBT_OFF_BY.items() if x in why.split(";")} for b, why in bin_reason.items()}
    keys = sorted(set(erp_q) | set(seen))
    for b, s in keys:
        eq = erp_q.get((b, s), 0)
        if b not in scanned:
            if eq > 0:
                add(b, s, "not_scanned", eq, 0, conf=0.0)
            continue
        if b in unread and eq > 0 and b not in stocked:
            n, unread_conf = unread[b]  # goods of no SKU read: at most n of the ERP's
            if unread_conf >= min_confidence and n < eq - tolerance:
                add(b, s, "short", eq, n, conf=unread_conf, why="sku_unread")
                continue
            if (unread_conf >= min_confidence and n > eq + tolerance and erp_skus[b] == 1
                    and n - eq not in doubts.get(b, ())):  # more goods than the ERP lists, its one SKU
                add(b, s, "over", eq, n, conf=unread_conf, why="sku_unread")
                continue
        doubted = bin_conf.get(b, 1.0) < min_confidence
        if (doubted and b not in unread and ((b, s) in seen or b in stocked) and count_conf[b] >= min_confidence
                and abs(seen.get((b, s), {}).get("count", 0) - eq) >= BEYOND_DOUBT + tolerance):
            # the count alone is trusted, and no doubt of one tire brings it to the ERP's: of a SKU read, or
            # of one the ERP lists none of which was read where every tire counted is another SKU's
            beyond.add((b, s))
        elif (doubted or b in unread) and serials.get((b, s), 0) > eq + tolerance:
            proven.add((b, s))  # more of its labels read than the ERP lists: over (or unexpected), however many
        elif (doubted or b in unread) and (b, s) in seen and _off_range(ranges[(b, s)], eq, tolerance, b in unread):
            ranged.add((b, s))  # every count its evidence allows lies on one side of the ERP's: short or over
        elif doubted or b in unread:  # unread goods: is the ERP's SKU among them?
            if eq > 0 and (b, s) not in seen:  # none of the ERP's SKU counted here: its stock may have moved
                doubted_missing.append((b, s, eq))
                continue  # judged after the pairing: a move's source, or a recount
            add(b, s, "needs_recount", eq, seen.get((b, s), {}).get("count", 0))
            if eq == 0 and (b, s) in seen and b not in unread:  # goods the ERP lists none of here, count doubted
                recounted.append((b, s, seen[(b, s)]["count"]))
            continue
        cq = seen.get((b, s), {}).get("count", 0)
        if eq == 0:
            unexpected.append((b, s, cq))
        elif abs(cq - eq) <= tolerance:
            add(b, s, "match", eq, cq)
        elif cq - eq in doubts.get(b, ()):  # the count the doubt allows is the ERP's
            add(b, s, "needs_recount", eq, cq, why="within_doubt")
        elif cq == 0:
            missing.append((b, s, eq))
        elif cq < eq:
            add(b, s, "short", eq, cq)
        else:
            add(b, s, "over", eq, cq)
    # goods under another SKU: the bin holds as many of one SKU read as the ERP lists of another there, none
    # of which stands in it. A mis-keyed SKU, not a move out and another move in of the same quantity: its
    # two rows are left out of the pairing below (it took them for moves: the ERP's SKU as a source, the
    # goods as a destination of another bin's missing stock), short and unexpected_sku with reason
    # ``substituted``; in a bin sent to recount, the ERP's row goes to recount with that reason
    sources_at = {b: (s, eq) for b, s, eq in missing + doubted_missing}
    found_at: dict[str, list[tuple[str, int]]] = {}
    for b, s, cq in unexpected + recounted:
        found_at.setdefault(b, []).append((s, cq))
    read_skus = Counter(b for b, _ in seen)  # bin -> how many SKUs were read there
    swapped = {b for b, (s, eq) in sources_at.items() if erp_skus[b] == 1 and read_skus[b] == 1
               and len(found_at.get(b, ())) == 1 and abs(found_at[b][0][1] - eq) <= tolerance}
    sure = {(b, s) for b, s, _ in missing + unexpected}
    for b in sorted(swapped):
        (s, eq), (held, cq) = sources_at[b], found_at[b][0]
        add(b, s, "short" if (b, s) in sure else "needs_recount", eq, 0, why="substituted")
        if (b, held) in sure:  # goods whose count is doubted have their recount row already
            add(b, held, "unexpected_sku", 0, cq, why="substituted")
    missing, doubted_missing = ([m for m in ms if m[0] not in swapped] for ms in (missing, doubted_missing))
    unexpected, recounted = ([u for u in us if u[0] not in swapped] for us in (unexpected, recounted))
    # pair ERP stock missing from its bin with the same SKU found where the ERP has none: the
    # closest quantities pair first over all candidates (a global greedy assignment), so a ghost
    # row with a different quantity does not take a misplaced pallet's destination
    def dist(a: str, b: str) -> float:
        if not bin_positions or a not in bin_positions or b not in bin_positions:
            return 0.0
        pa, pb = bin_positions[a], bin_positions[b]
        return sum((x - y) ** 2 for x, y in zip(pa, pb)) ** 0.5

    def qty_gap(eq: int, u: tuple[str, str, int]) -> int:
        """How far the ERP's quantity ``eq`` of missing stock lies from what goods found (``u``: bin, SKU,
        count) may be: from the counts fusion's evidence allows where it bounds them (a doubted count
        of 1 whose labels are a floor may be the 2 missing), else from the count."""
        lo, hi = ranges.get((u[0], u[1]), (0, None))
        if lo == 0 and hi is None:  # no range, or any count: the count itself
            lo = hi = u[2]
        return max(0, lo - eq, 0 if hi is None else eq - hi)

    used_miss: set[int] = set()

    n_sure = len(missing)
    sources = missing + doubted_missing  # index >= n_sure: a source whose own bin went to recount

    def pair(found: list[tuple[str, str, int]], reason: str = "", doubted_sources: bool = False) -> set[int]:
        """Missing stock not yet paired, paired with ``found`` goods of its SKU; the found ones used.
        ``doubted_sources``: stock missing from bins sent to recount competes too, after sure sources
        at the same quantity and distance."""
        found_of: dict[str, list[int]] = {}
        for ui, u in enumerate(found):
            found_of.setdefault(u[1], []).append(ui)
        n = len(sources) if doubted_sources else n_sure
        pairs = sorted(((qty_gap(m[2], found[ui]), dist(m[0], found[ui][0]), mi >= n_sure, m[0], found[ui][0], mi, ui)
                        for mi, m in enumerate(sources[:n]) if mi not in used_miss for ui in found_of.get(m[1], ())))
        used: set[int] = set()
        for *_, mi, ui in pairs:
            if mi in used_miss or ui in used:
                continue
            used_miss.add(mi)
            used.add(ui)
            b, s, eq = sources[mi]
            add(b, s, "misplaced", eq, found[ui][2], paired=found[ui][0],
                why=reason if mi < n_sure else "source_recount")
        return used

    used_unexp = pair(unexpected, doubted_sources=True)
    pair(recounted, "destination_recount")
    for mi, (b, s, eq) in enumerate(doubted_missing, start=n_sure):
        if mi not in used_miss:
            add(b, s, "needs_recount", eq, 0)
    for mi, (b, s, eq) in enumerate(missing):
        if mi not in used_miss:
            add(b, s, "short" if b in stocked else "ghost", eq, 0)
    for i, (b, s, cq) in enumerate(unexpected):
        if i not in used_unexp:
            add(b, s, "unexpected_sku", 0, cq)
    listed_erp = {k[0] for k in erp_q}
    for b, (n, unread_conf) in sorted(unread.items()):
        if b not in scanned or b in listed_erp:
            continue  # not scanned: no claim; stocked in the ERP: its rows were judged above (short or recount)
        if unread_conf >= min_confidence and b not in stocked:
            add(b, "", "unexpected_sku", 0, n, conf=unread_conf, why="sku_unread")
        else:
            add(b, "", "needs_recount", 0, n, why="sku_unread")
    df = pd.DataFrame(rows, columns=DISCREPANCY_COLUMNS).sort_values(["bin_id", "sku", "kind"]).reset_index(drop=True)
    n_site = len(site_bins) if site_bins is not None else len(scanned | {b for b, _ in erp_q})
    scanned_site = scanned if site_bins is None else scanned & set(site_bins)
    judged = df[~df.kind.isin(["not_scanned", "needs_recount"])]
    all_match = (judged["kind"] == "match").groupby(judged["bin_id"]).all()
    bins_ok = set(all_match.index[all_match.to_numpy(bool)])
    listed = set(df["bin_id"])
    empty_ok = scanned_site - listed  # scanned empty, ERP empty
    short = judged[(judged.delta < 0) & (judged.kind != "misplaced")]
    over = judged[(judged.delta > 0) & (judged.kind != "misplaced")]
    def priced(d: pd.DataFrame) -> pd.Series:
        return d["unit_price"].map(lambda p: p is not None and p == p).astype(bool)

    def val(d: pd.DataFrame) -> float | None:
        ok = priced(d)
        if len(d) and not ok.any():
            return None
        return float(sum(abs(x) * p for x, p in zip(d["delta"][ok], d["unit_price"][ok])))

    summary = ReconciliationSummary(
        bins_on_site=n_site, bins_in_erp=len({b for b, _ in erp_q}), bins_scanned=len(scanned_site),
        coverage=len(scanned_site) / n_site if n_site else 0.0,
        matching_rate=(len(bins_ok) + len(empty_ok)) / len(scanned_site) if scanned_site else 0.0,
        units_short=int(-short["delta"].sum()), units_over=int(over["delta"].sum()),
        value_short=val(short), value_over=val(over),
        by_kind={k: int((df.kind == k).sum()) for k in KINDS},
        unpriced_short=int((~priced(short)).sum()), unpriced_over=int((~priced(over)).sum()),
    )
    return ReconciliationResult(df, summary, named)
