"""Campaigns: one site count made of many flights (several nights, several drones, recount flights).

Each bin's **latest trusted observation** wins: among the campaign's flights that observed the bin,
the most recent one (by its start time, then by the order it was added) whose confidence for the
bin is at least the campaign's ``min_confidence``; a bin that no flight saw well enough keeps its
latest observation and goes to recount. Every observation stays in the history. A trusted count
older than ``stale_after_days`` is stale: it still counts, and the status asks for it again.

The pure steps (:func:`merge_observations`, :func:`campaign_progress`) work on DataFrames, in
n log n of the observations; the store steps (:func:`create_campaign`, :func:`add_flight`,
:func:`load_campaign`, :func:`close_campaign`) read and write the results store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reconciliation.diff import ERP_SKU_CONFIDENCE, count_confidence_of
from reconciliation.errors import ReconciliationError

MIN_CONFIDENCE = 0.8  # reconciliation's own threshold: under it a bin is a recount
STALE_AFTER_DAYS = 14.0
MERGED_COLUMNS = ["bin_id", "sku", "gtin", "count", "confidence", "n_views", "evidence_path", "evidence_crop_path",
                  "reason", "count_confidence", "n_serials", "count_lo", "count_hi", "size_fits", "flight_key",
                  "flown_at", "trusted"]
HISTORY_COLUMNS = ["bin_id", "flight_order", "flight_key", "flown_at", "sku", "count", "confidence", "trusted", "won"]


@dataclass(frozen=True)
class FlightObservations:
    """One flight of a campaign: its observations (one row per bin and SKU; an empty scanned bin is
    a row with count 0) and when it flew."""

    flight_key: str
    flown_at: dt.datetime  # UTC; the flight's start, or when it was added when the bundle had none
    observations: pd.DataFrame
    bundle_path: str = ""


@dataclass(frozen=True)
class MergedCount:
    observations: pd.DataFrame  # MERGED_COLUMNS: the winning flight's rows of every observed bin
    history: pd.DataFrame  # HISTORY_COLUMNS: every flight's word on every bin, ``won`` marking the winner


@dataclass(frozen=True)
class CampaignProgress:
    bins_on_site: int
    counted: int  # a trusted, fresh count
    stale: int  # a trusted count older than stale_after_days
    recount: int  # observed, never trusted
    left: int  # never observed
    by_aisle: pd.DataFrame  # aisle, bins, counted, stale, recount, left
    over_time: pd.DataFrame  # flight_key, flown_at, bins_observed, new_trusted, trusted_total, coverage

    @property
    def done(self) -> float:
        return self.counted / self.bins_on_site if self.bins_on_site else 0.0


def _utc(ts) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def merge_observations(flights: list[FlightObservations], *, min_confidence: float = MIN_CONFIDENCE) -> MergedCount:
    """The campaign's count: per bin, the latest trusted flight's rows (else the latest flight's)."""
    frames = []
    for order, f in enumerate(sorted(enumerate(flights), key=lambda t: (_utc(t[1].flown_at), t[0]))):
        _, fo = f
        o = fo.observations
        if o.empty:
            continue
        o = o.copy()
        for col, default in (("gtin", ""), ("n_views", 0), ("evidence_path", ""), ("evidence_crop_path", ""), ("reason", "")):
            if col not in o.columns:
                o[col] = default
        if fo.bundle_path:  # evidence paths relative to each flight's own bundle become absolute
            for col in ("evidence_path", "evidence_crop_path"):
                o[col] = [str(Path(fo.bundle_path) / p) if p else "" for p in o[col].fillna("").astype(str)]
        o["sku"] = o["sku"].fillna("").astype(str)
        o["count_confidence"] = count_confidence_of(o)  # NULL in the store before revision 0009
        ns = o["n_serials"] if "n_serials" in o.columns else pd.Series(0, index=o.index)
        o["n_serials"] = pd.to_numeric(ns, errors="coerce").fillna(0).astype(int)  # NULL before revision 0010
        lo = o["count_lo"] if "count_lo" in o.columns else pd.Series(0, index=o.index)
        o["count_lo"] = pd.to_numeric(lo, errors="coerce").fillna(0).astype(int)  # NULL before revision 0011: any count
        hi = o["count_hi"] if "count_hi" in o.columns else pd.Series(None, index=o.index, dtype=float)
        o["count_hi"] = pd.to_numeric(hi, errors="coerce").astype("Int64")  # NULL: no upper bound
        fits = o["size_fits"] if "size_fits" in o.columns else pd.Series("", index=o.index)
        o["size_fits"] = fits.map(lambda v: v if isinstance(v, str) else "")  # NULL before revision 0012: no size known
        o["flight_key"] = fo.flight_key
        o["flown_at"] = _utc(fo.flown_at)
        o["flight_order"] = order  # by start time, then as added
        frames.append(o)
    if not frames:
        return MergedCount(pd.DataFrame(columns=MERGED_COLUMNS), pd.DataFrame(columns=HISTORY_COLUMNS))
    allobs = pd.concat(frames, ignore_index=True)
    per = allobs.groupby(["bin_id", "flight_order"], sort=False)["confidence"].min().rename("bin_conf").reset_index()
    per["trusted"] = per["bin_conf"] >= min_confidence
    # the winner: trusted before untrusted, then the latest
    win = per.sort_values(["bin_id", "trusted", "flight_order"]).groupby("bin_id", sort=False).tail(1)[["bin_id", "flight_order"]]
    allobs = allobs.merge(per[["bin_id", "flight_order", "trusted"]], on=["bin_id", "flight_order"], how="left")
    won = allobs.merge(win.assign(won=True), on=["bin_id", "flight_order"], how="left")["won"].eq(True)
    allobs["won"] = won.to_numpy()
    merged = allobs[allobs["won"]].sort_values(["bin_id", "sku"]).reset_index(drop=True)[MERGED_COLUMNS]
    history = allobs.sort_values(["bin_id", "flight_order", "sku"]).reset_index(drop=True)[HISTORY_COLUMNS]
    return MergedCount(merged, history)


def campaign_progress(site_bins: dict[str, str], flights: list[FlightObservations], *, now: dt.datetime,
                      min_confidence: float = MIN_CONFIDENCE, stale_after_days: float = STALE_AFTER_DAYS) -> CampaignProgress:
    """Bins counted, stale, to recount and left (``site_bins``: bin id -> aisle), per aisle and flight by flight."""
    merged = merge_observations(flights, min_confidence=min_confidence)
    per_bin = merged.observations.groupby("bin_id").agg(trusted=("trusted", "all"), flown_at=("flown_at", "max"))
    per_bin = per_bin[per_bin.index.isin(list(site_bins))]
    cutoff = _utc(now) - pd.Timedelta(days=stale_after_days)
    state = pd.Series("left", index=pd.Index(list(site_bins), name="bin_id"))
    state[per_bin.index[~per_bin["trusted"]]] = "recount"
    ok = per_bin[per_bin["trusted"]]
    state[ok.index[ok["flown_at"] >= cutoff]] = "counted"
    state[ok.index[ok["flown_at"] < cutoff]] = "stale"
    table = pd.DataFrame({"aisle": [site_bins[b] for b in state.index], "state": state.to_numpy()})
    by_aisle = (pd.crosstab(table["aisle"], table["state"]).reindex(columns=["counted", "stale", "recount", "left"], fill_value=0))
    by_aisle.insert(0, "bins", by_aisle.sum(axis=1))
    by_aisle = by_aisle.reset_index()
    rows, trusted_so_far = [], set()
    h = merged.history
    for (_, key), g in h.groupby(["flight_order", "flight_key"], sort=True):
        new = set(g.loc[g["trusted"], "bin_id"]) - trusted_so_far
        trusted_so_far |= new
        rows.append({"flight_key": key, "flown_at": g["flown_at"].iloc[0], "bins_observed": int(g["bin_id"].nunique()),
                     "new_trusted": len(new), "trusted_total": len(trusted_so_far),
                     "coverage": len(trusted_so_far & set(site_bins)) / max(1, len(site_bins))})
    over_time = pd.DataFrame(rows, columns=["flight_key", "flown_at", "bins_observed", "new_trusted", "trusted_total",
                                            "coverage"])
    counts = state.value_counts()
    return CampaignProgress(bins_on_site=len(site_bins), counted=int(counts.get("counted", 0)),
                            stale=int(counts.get("stale", 0)), recount=int(counts.get("recount", 0)),
                            left=int(counts.get("left", 0)), by_aisle=by_aisle, over_time=over_time)


# -- the store --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    site_id: int
    site_yaml: str
    min_confidence: float
    stale_after_days: float
    created_at: dt.datetime
    closed_at: dt.datetime | None
    reconciliation_id: int | None
    flights: list[FlightObservations] = field(default_factory=list)

    def site(self):
        import yaml

        from warehouse.site import site_from_dict

        return site_from_dict(yaml.safe_load(self.site_yaml), source=f"campaign {self.name!r} site")

    def progress(self, now: dt.datetime | None = None) -> CampaignProgress:
        site = self.site()
        return campaign_progress({b.bin_id: b.aisle_id for b in site.bins}, self.flights,
                                 now=now or dt.datetime.now(dt.timezone.utc), min_confidence=self.min_confidence,
                                 stale_after_days=self.stale_after_days)

    def merged(self) -> MergedCount:
        return merge_observations(self.flights, min_confidence=self.min_confidence)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def create_campaign(store, name: str, site_file: str | Path, *, by: str = "", min_confidence: float = MIN_CONFIDENCE,
                    stale_after_days: float = STALE_AFTER_DAYS) -> int:
    from sqlalchemy import insert, select

    from reconciliation import audit
    from reconciliation import schema as S
    from warehouse.site import load_site

    if not name.strip():
        raise ReconciliationError("campaign name: empty; expected a name such as 'DC1 2026-Q4'")
    if not 0.0 < min_confidence <= 1.0 or stale_after_days <= 0:
        raise ReconciliationError(f"campaign {name!r}: min_confidence {min_confidence} and stale_after_days "
                                  f"{stale_after_days}; expected 0 < min_confidence <= 1 and stale_after_days > 0")
    site = load_site(site_file)
    site_id = store.upsert_site(site.spec.name, Path(site_file).read_text(encoding="utf-8"))
    with store.engine.begin() as c:
        if c.execute(select(S.campaigns.c.id).where(S.campaigns.c.name == name)).first():
            raise ReconciliationError(f"campaign {name!r}: exists already; expected a new name (`rackscan campaign status` lists them)")
        cid = c.execute(insert(S.campaigns).values(name=name, site_id=site_id, created_at=_now(), created_by=by,
                                                   min_confidence=min_confidence, stale_after_days=stale_after_days)
                        ).inserted_primary_key[0]
        audit.append(c, "campaign", subject=name, actor=by, payload={"event": "new", "site": site.spec.name,
                                                                      "bins": len(site.bins), "min_confidence": min_confidence,
                                                                      "stale_after_days": stale_after_days})
    return cid


def _campaign_row(c, name: str):
    from sqlalchemy import select

    from reconciliation import schema as S

    row = c.execute(select(S.campaigns, S.sites.c.site_yaml).select_from(S.campaigns.join(S.sites))
                    .where(S.campaigns.c.name == name)).mappings().first()
    if row is None:
        names = [r[0] for r in c.execute(select(S.campaigns.c.name).order_by(S.campaigns.c.id))]
        raise ReconciliationError(f"campaign {name!r}: not in the store; expected one of {names}" if names else
                                  f"campaign {name!r}: not in the store; create it with `rackscan campaign new`")
    return row


def list_campaigns(store) -> pd.DataFrame:
    from sqlalchemy import func, select

    from reconciliation import schema as S

    n = (select(func.count(S.campaign_flights.c.id)).where(S.campaign_flights.c.campaign_id == S.campaigns.c.id)
         .scalar_subquery())
    return store._df(select(S.campaigns.c.id, S.campaigns.c.name, S.sites.c.name.label("site"), S.campaigns.c.created_at,
                            S.campaigns.c.closed_at, n.label("flights"))
                     .select_from(S.campaigns.join(S.sites)).order_by(S.campaigns.c.id))


def load_campaign(store, name: str) -> Campaign:
    """The campaign and its flights' observations (read with one query filtered in SQL)."""
    from sqlalchemy import select

    from reconciliation import schema as S

    with store.engine.connect() as c:
        row = _campaign_row(c, name)
        fl = c.execute(select(S.flights.c.id, S.flights.c.flight_key, S.flights.c.started_utc, S.flights.c.bundle_path,
                              S.campaign_flights.c.added_at)
                       .select_from(S.campaign_flights.join(S.flights))
                       .where(S.campaign_flights.c.campaign_id == row["id"]).order_by(S.campaign_flights.c.id)).mappings().all()
        o = S.observations
        res = c.execute(select(o.c.flight_id, o.c.bin_id, o.c.sku, o.c.gtin, o.c.count, o.c.confidence, o.c.n_views,
                               o.c.evidence_path, o.c.evidence_crop_path, o.c.reason, o.c.count_confidence,
                               o.c.n_serials, o.c.count_lo, o.c.count_hi, o.c.size_fits)
                        .where(o.c.flight_id.in_([f["id"] for f in fl])))
        obs = pd.DataFrame(res.mappings().all(), columns=list(res.keys()))
    flights = []
    for f in fl:
        when = f["started_utc"] or f["added_at"]
        try:
            flown_at = _utc(when)
        except (ValueError, TypeError):
            flown_at = _utc(f["added_at"])
        flights.append(FlightObservations(f["flight_key"], flown_at.to_pydatetime(),
                                          obs[obs["flight_id"] == f["id"]].drop(columns="flight_id").reset_index(drop=True),
                                          bundle_path=f["bundle_path"] or ""))
    return Campaign(row["id"], row["name"], row["site_id"], row["site_yaml"], row["min_confidence"], row["stale_after_days"],
                    row["created_at"], row["closed_at"], row["reconciliation_id"], flights)


def add_flight(store, name: str, flight: str | Path, *, by: str = "") -> str:
    """Add a flight to an open campaign: a processed bundle folder (its observations are stored
    now) or the key of a flight already in the store. Returns the flight key."""
    from sqlalchemy import insert, select

    from reconciliation import audit
    from reconciliation import schema as S

    camp = load_campaign(store, name)
    if camp.closed_at is not None:
        raise ReconciliationError(f"campaign {name!r}: closed on {camp.closed_at:%Y-%m-%d %H:%M}; expected an open "
                                  "campaign (start a new one for the next count)")
    site_bins = {b.bin_id for b in camp.site().bins}
    path = Path(flight)
    if path.is_dir():
        from reconciliation.pipeline import read_observations
        from slam_fusion.tools.io import flight_info

        obs, _ = read_observations(path)
        info = flight_info(path)
        key = info.flight_key
        unknown = sorted(set(obs["bin_id"]) - site_bins)
        if unknown:
            raise ReconciliationError(f"{path / 'observations.parquet'}: bin {unknown[0]!r} ({len(unknown)} of "
                                      f"{obs['bin_id'].nunique()} bins) is not on campaign {name!r}'s site; expected a "
                                      "flight of the same site")
        with store.engine.connect() as c:
            other = c.execute(select(S.flights.c.bundle_path).where(S.flights.c.flight_key == key)).scalar()
        if other and Path(other).resolve() != Path(info.bundle_path).resolve():
            raise ReconciliationError(f"{path / 'flight.json'}: flight_id {key!r} is already in the store from {other}; "
                                      "expected each flight to have its own id")
        store.upsert_flight(key, site_id=camp.site_id, bundle_path=info.bundle_path, started_utc=info.started_utc,
                            n_frames=info.n_frames, flight_time_s=info.flight_time_s, observations=obs, actor=by)
    else:
        key = str(flight)
    with store.engine.begin() as c:
        fid = c.execute(select(S.flights.c.id).where(S.flights.c.flight_key == key)).scalar()
        if fid is None:
            raise ReconciliationError(f"{flight}: neither a flight bundle folder nor a flight in the store; expected a "
                                      "processed bundle (`rackscan process`) or a key `rackscan fleet list` shows")
        bins = {r[0] for r in c.execute(select(S.observations.c.bin_id).where(S.observations.c.flight_id == fid))}
        if not bins:
            raise ReconciliationError(f"flight {key!r}: no observations in the store; expected a processed flight")
        if not bins <= site_bins:
            raise ReconciliationError(f"flight {key!r}: bin {sorted(bins - site_bins)[0]!r} is not on campaign {name!r}'s "
                                      "site; expected a flight of the same site")
        if c.execute(select(S.campaign_flights.c.id).where((S.campaign_flights.c.campaign_id == camp.id)
                                                           & (S.campaign_flights.c.flight_id == fid))).first():
            raise ReconciliationError(f"flight {key!r}: in campaign {name!r} already")
        c.execute(insert(S.campaign_flights).values(campaign_id=camp.id, flight_id=fid, added_at=_now(), added_by=by))
        audit.append(c, "campaign", subject=name, actor=by, payload={"event": "add", "flight_key": key, "bins": len(bins)})
    return key


@dataclass(frozen=True)
class ClosedCampaign:
    reconciliation_id: int
    result: object  # ReconciliationResult
    report_xlsx: Path
    discrepancies_csv: Path
    warnings: list[str]


def close_campaign(store, name: str, erp_path: str | Path, *, out_dir: str | Path, mapping_path=None,
                   product_master_path=None, duplicates: str = "sum", tolerance: int = 0, by: str = "",
                   erp_sku_confidence: float = ERP_SKU_CONFIDENCE) -> ClosedCampaign:
    """Reconcile the campaign's merged count against the ERP export, store it (as the count of
    flight ``campaign:<name>``, so every dashboard page shows it), write the reports, and close it.
    Goods no label of which was read are named by the ERP where their size fits its SKU, held to
    ``erp_sku_confidence``, as a single flight's are (``reconciliation.diff.name_by_erp``)."""
    from sqlalchemy import update

    from reconciliation import audit
    from reconciliation import schema as S
    from reconciliation.diff import reconcile
    from reconciliation.erp import ColumnMapping, load_erp, load_mapping
    from reconciliation.pipeline import match_products
    from reconciliation.report import write_reports

    camp = load_campaign(store, name)
    if camp.closed_at is not None:
        raise ReconciliationError(f"campaign {name!r}: closed already on {camp.closed_at:%Y-%m-%d %H:%M}")
    if not camp.flights:
        raise ReconciliationError(f"campaign {name!r}: no flights; expected `rackscan campaign add` first")
    site = camp.site()
    snap = load_erp(erp_path, load_mapping(mapping_path) if mapping_path else ColumnMapping(), site=site,
                    duplicates=duplicates)
    merged = camp.merged()
    obs, warns = match_products(merged.observations, snap, erp_path, product_master_path, label=f"campaign {name!r}")
    warns = list(snap.warnings) + warns
    result = reconcile(snap.rows, obs, site_bins=[b.bin_id for b in site.bins], scanned_bins=set(obs["bin_id"]),
                       min_confidence=camp.min_confidence, tolerance=tolerance, bin_positions=site.bin_centres_site(),
                       erp_sku_confidence=erp_sku_confidence)
    key = f"campaign:{name}"
    fid = store.upsert_flight(key, site_id=camp.site_id, bundle_path="", started_utc=str(max(f.flown_at for f in camp.flights)),
                              n_frames=0, flight_time_s=None, observations=obs, actor=by)
    sid = store.import_erp_snapshot(snap)
    aisle_of = {b.bin_id: b.aisle_id for b in site.bins}
    rid = store.save_reconciliation(fid, sid, result, {"min_confidence": camp.min_confidence, "tolerance": tolerance,
                                                       "erp_sku_confidence": erp_sku_confidence,
                                                       "erp_file": str(erp_path), "campaign": name}, aisle_of=aisle_of, actor=by)
    xlsx, csv_path = write_reports(result, out_dir, aisle_of=aisle_of, title=f"rackscan campaign {name}")
    with store.engine.begin() as c:
        c.execute(update(S.campaigns).where(S.campaigns.c.id == camp.id).values(closed_at=_now(), reconciliation_id=rid))
        audit.append(c, "campaign", subject=name, actor=by, payload={
            "event": "close", "reconciliation_id": rid, "flights": [f.flight_key for f in camp.flights],
            "bins_counted": int(obs["bin_id"].nunique()), "counts_sha256": audit.rows_digest(
                [[r.bin_id, r.sku, int(r.count), r.flight_key] for r in merged.observations.itertuples()])})
    return ClosedCampaign(rid, result, xlsx, csv_path, warns)
