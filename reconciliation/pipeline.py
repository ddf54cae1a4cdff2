"""Reconcile one flight bundle against an ERP export, store it, write the reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reconciliation.diff import ERP_SKU_CONFIDENCE, ReconciliationResult, reconcile
from reconciliation.erp import ColumnMapping, load_erp, load_mapping
from reconciliation.errors import ReconciliationError
from reconciliation.report import write_reports
from reconciliation.store import ResultsStore, default_url
from slam_fusion.tools.io import annotated_frame  # noqa: F401 - the dashboard's frame viewer reaches it here

OBS_COLUMNS = ["bin_id", "sku", "count", "confidence"]


@dataclass
class FlightReconciliation:
    result: ReconciliationResult
    reconciliation_id: int
    db_url: str
    report_xlsx: Path
    discrepancies_csv: Path
    warnings: list[str]


JUDGED_OBSERVATIONS = "observations.parquet"  # in the report folder: the observations the diff judged


def read_observations(bundle: Path) -> tuple[pd.DataFrame, set[str] | None]:
    p = bundle / "observations.parquet"
    if not p.exists():
        raise ReconciliationError(f"{p}: missing; run `rackscan fuse {bundle}` first (observations per bin)")
    obs = pd.read_parquet(p)
    miss = [c for c in OBS_COLUMNS if c not in obs.columns]
    if miss:
        raise ReconciliationError(f"{p}: missing column(s) {miss}; expected {OBS_COLUMNS} (+ n_views, evidence_path, reason)")
    obs["sku"] = obs["sku"].fillna("").astype(str)
    cov = bundle / "coverage.parquet"
    scanned = None
    if cov.exists():
        c = pd.read_parquet(cov)
        scanned = set(c.loc[c["scanned"].astype(bool), "bin_id"])
    return obs, scanned


def flight_path(bundle: Path, *, hz: float = 2.0) -> pd.DataFrame | None:
    """The corrected trajectory fusion saved (``fusion/trajectory.parquet``), ``hz`` samples a second,
    for the store: t_s, x_m, y_m, z_m, speed_m_s; None when the bundle was not fused."""
    import numpy as np

    p = bundle / "fusion" / "trajectory.parquet"
    if not p.exists():
        return None
    t = pd.read_parquet(p)
    if t.empty:
        return None
    t_s = (t["t_ns"] - t["t_ns"].iloc[0]) / 1e9
    keep = np.r_[True, np.diff(np.floor(t_s.to_numpy() * hz)) > 0]
    d = t[keep].reset_index(drop=True)
    ts = t_s[keep].to_numpy()
    xyz = d[["x_m", "y_m", "z_m"]].to_numpy(float)
    step = np.linalg.norm(np.diff(xyz[:, :2], axis=0), axis=1) / np.maximum(np.diff(ts), 1e-9)
    return pd.DataFrame({"t_s": ts, "x_m": xyz[:, 0], "y_m": xyz[:, 1], "z_m": xyz[:, 2],
                         "speed_m_s": np.r_[step[:1] if len(step) else [0.0], step]})


def match_products(obs: pd.DataFrame, snap, erp_path, product_master_path=None, *, label: str) -> tuple[pd.DataFrame, list[str]]:
    """Observations whose SKUs are GTINs mapped to the ERP's materials: through the product master
    when given, else the ERP export's own EAN column when it has one; ``label`` names the
    observations in a warning."""
    from reconciliation.master import apply_product_master, gtin14, load_product_master, master_from_table

    master = None
    if product_master_path:
        master = load_product_master(product_master_path)
    elif "gtin" in snap.rows.columns and (snap.rows["gtin"].astype(str).str.strip() != "").any():
        master = master_from_table(f"{erp_path} (its EAN column)", snap.rows[["sku", "gtin"]])
    if master is not None:
        return apply_product_master(obs, master, erp_materials=snap.rows["sku"])
    if any(gtin14(s) for s in obs["sku"] if s) and not set(obs["sku"]) & set(snap.rows["sku"]):
        return obs, [f"{label}: the SKUs are GTINs (the flight had no catalogue) and the ERP counts materials; give "
                     "the product master (--product-master, e.g. SAP MEAN: MATNR, EAN11)"]
    return obs, []


def reconcile_flight(bundle: str | Path, erp_path: str | Path, *, mapping_path=None, site_path=None, db_url=None,
                     out_dir=None, min_confidence=0.8, tolerance=0, duplicates="sum",
                     product_master_path=None, flight=None,
                     erp_sku_confidence=ERP_SKU_CONFIDENCE) -> FlightReconciliation:
    """``product_master_path``: material <-> GTIN/EAN (SAP MEAN, a material master, catalogue.csv);
    without it the ERP export's own EAN column serves when it has one. ``flight``: the bundle's
    ``FlightInfo`` (``slam_fusion.tools.io.flight_info``; read from the bundle when not given).
    ``erp_sku_confidence``: goods unread named by the ERP's SKU are held to it (``reconciliation.diff.name_by_erp``)."""
    from warehouse.site import load_site

    bundle = Path(bundle)
    if not bundle.is_dir():
        raise ReconciliationError(f"{bundle}: not a flight bundle directory")
    site_file = Path(site_path) if site_path else bundle / "site.yaml"
    if not site_file.exists():
        raise ReconciliationError(f"{site_file}: site file not found; pass --site")
    site = load_site(site_file)
    mapping = load_mapping(mapping_path) if mapping_path else ColumnMapping()
    snap = load_erp(erp_path, mapping, site=site, duplicates=duplicates)
    obs, scanned = read_observations(bundle)
    obs, more = match_products(obs, snap, erp_path, product_master_path, label=str(bundle / "observations.parquet"))
    warns = list(snap.warnings) + more
    result = reconcile(snap.rows, obs, site_bins=[b.bin_id for b in site.bins], scanned_bins=scanned,
                       min_confidence=min_confidence, tolerance=tolerance, bin_positions=site.bin_centres_site(),
                       erp_sku_confidence=erp_sku_confidence)
    out = Path(out_dir) if out_dir else bundle / "report"
    out.mkdir(parents=True, exist_ok=True)
    url = db_url or default_url(out / "results.db")
    store = ResultsStore(url)
    site_id = store.upsert_site(site.spec.name, site_file.read_text(encoding="utf-8"))
    if flight is None:
        from slam_fusion.tools.io import flight_info

        flight = flight_info(bundle)
    fid = store.upsert_flight(flight.flight_key, site_id=site_id, bundle_path=flight.bundle_path,
                              started_utc=flight.started_utc, n_frames=flight.n_frames, flight_time_s=flight.flight_time_s,
                              observations=obs)
    path = flight_path(bundle)
    if path is not None:
        store.save_flight_path(fid, path)
    sid = store.import_erp_snapshot(snap)
    aisle_of = {b.bin_id: b.aisle_id for b in site.bins}
    rid = store.save_reconciliation(fid, sid, result, {"min_confidence": min_confidence, "tolerance": tolerance,
                                                       "erp_sku_confidence": erp_sku_confidence,
                                                       "erp_file": str(erp_path)}, aisle_of=aisle_of)
    xlsx, csv_path = write_reports(result, out, evidence_base=bundle, aisle_of=aisle_of)
    # the observations as the diff judged them (goods unread named by the ERP's SKU where their size fits
    # it); the store keeps the camera's own, so a later ERP is not judged on this one's word
    result.observations.to_parquet(out / JUDGED_OBSERVATIONS, index=False)
    return FlightReconciliation(result, rid, url, xlsx, csv_path, warns)
