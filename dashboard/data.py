"""All dashboard logic and caching; pages only lay out what these functions return."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from dashboard import gate
from reconciliation.diff import KINDS
from reconciliation.store import ResultsStore
from warehouse.site import Site, site_from_dict

STATUS_COLORS = {
    "match": "#2e7d32", "empty": "#b0bec5", "short": "#c62828", "over": "#ef6c00", "misplaced": "#6a1b9a",
    "ghost": "#ad1457", "unexpected_sku": "#1565c0", "not_scanned": "#616161", "needs_recount": "#f9a825",
}
STATUS_ORDER = ["short", "ghost", "misplaced", "over", "unexpected_sku", "needs_recount", "not_scanned", "match", "empty"]


def store() -> ResultsStore:
    return gate.store()


def reconciliations() -> pd.DataFrame:
    return store().list_reconciliations()


def current_reconciliation() -> int | None:
    rid = st.session_state.get("reconciliation_id")
    if rid is None:
        rid = store().latest_reconciliation()
        st.session_state["reconciliation_id"] = rid
    return rid


def summary(rid: int) -> dict:
    return store().reconciliation_summary(rid)


def trend() -> pd.DataFrame:
    return store().trend()


def discrepancies(rid: int, kinds=None, statuses=None, aisle=None) -> pd.DataFrame:
    return store().list_discrepancies(rid, kinds=kinds or None, statuses=statuses or None, aisle=aisle or None)


UNREAD_SKU = "(label unread)"


def sku_shown(df: pd.DataFrame) -> pd.Series:
    """The SKU column as a reader sees it: goods counted whose label no camera read (sku "", a count)
    show :data:`UNREAD_SKU`, not a blank a controller could take for "no goods"."""
    sku = df["sku"].fillna("").astype(str)
    return sku.where((sku != "") | (df["counted_qty"].fillna(0) <= 0), UNREAD_SKU)


@st.cache_resource(show_spinner=False, max_entries=8)
def _site_from_yaml(text: str) -> Site:
    """The site a stored site file describes, parsed once per file (immutable: shared, not copied;
    a 20,000-bin site takes half a second to parse)."""
    return site_from_dict(yaml.safe_load(text), source="results store")


def _site(s: ResultsStore, rid: int) -> Site | None:
    """The site a reconciliation's flight counted (None when the store has no site file for it)."""
    text = s.flight_site_yaml(s.reconciliation_flight(rid)["id"])
    return _site_from_yaml(text) if text else None


def site_of(rid: int) -> Site | None:
    return _site(store(), rid)


BIN_STATUS_COLUMNS = ["bin_id", "face_id", "aisle", "bay", "level", "position", "status", "erp_qty", "counted_qty", "sku"]


@st.cache_data(show_spinner=False, max_entries=8)
def _bin_status(url: str, rid: int, version: str) -> pd.DataFrame:
    """``version``: the reconciliation's creation time, so a re-run reconciliation is read again."""
    s = gate._store(url)
    site = _site(s, rid)
    if site is None:
        return pd.DataFrame(columns=BIN_STATUS_COLUMNS)
    bins = pd.DataFrame([(b.bin_id, b.face_id, b.aisle_id, b.bay, b.level, b.position) for b in site.bins],
                        columns=BIN_STATUS_COLUMNS[:6])
    d = s.list_discrepancies(rid, include_matches=True)
    if d.empty:
        return bins.assign(status="empty", erp_qty=0, counted_qty=0, sku="")
    d = d.assign(rank=d["kind"].map(STATUS_ORDER.index))
    worst = d.sort_values("rank").drop_duplicates("bin_id").set_index("bin_id")["kind"].rename("status")
    per = d.groupby("bin_id").agg(erp_qty=("erp_qty", "sum"), counted_qty=("counted_qty", "sum"),
                                  sku=("sku", lambda x: ", ".join(sorted(set(x) - {""}))))
    out = bins.join(per.join(worst), on="bin_id")
    out["status"] = out["status"].fillna("empty")
    out["sku"] = out["sku"].fillna("")
    out[["erp_qty", "counted_qty"]] = out[["erp_qty", "counted_qty"]].fillna(0).astype(int)
    return out[BIN_STATUS_COLUMNS]


ISSUE_KINDS = ["short", "ghost", "misplaced", "over", "unexpected_sku"]


@st.cache_data(show_spinner=False, max_entries=8)
def _site_views(url: str, rid: int, version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bays, aisles): per rack bay, its centre on the site plan and its bins' discrepancies; per
    aisle, bins by status and the matching rate. One pass over the bins, cached per reconciliation."""
    b = _bin_status(url, rid, version)
    site = _site(gate._store(url), rid)
    if b.empty or site is None:
        return pd.DataFrame(), pd.DataFrame()
    centres = site.bin_centres_site()
    b = b.assign(x_m=[centres[i][0] for i in b.bin_id], y_m=[centres[i][1] for i in b.bin_id],
                 issue=b.status.isin(ISSUE_KINDS), recount=b.status.eq("needs_recount"))
    bays = (b.groupby(["aisle", "face_id", "bay"], as_index=False)
            .agg(x_m=("x_m", "mean"), y_m=("y_m", "mean"), bins=("bin_id", "size"), discrepancies=("issue", "sum"),
                 recount=("recount", "sum")))
    aisles = pd.crosstab(b.aisle, b.status).reindex(columns=[k for k in STATUS_ORDER if k in set(b.status)], fill_value=0)
    judged = b[~b.status.isin(["not_scanned", "needs_recount"])]
    ok = judged.status.isin(["match", "empty"]).groupby(judged.aisle).mean()
    aisles.insert(0, "bins", aisles.sum(axis=1))
    aisles["matching_rate"] = ok.reindex(aisles.index)
    aisles.columns.name = None
    return bays, aisles.reset_index()


def site_views(rid: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _site_views(gate.settings().db_url, rid, str(summary(rid)["created_at"]))


def bin_status(rid: int) -> pd.DataFrame:
    """One row per bin of the site: status (worst discrepancy kind, match, or empty), counts."""
    return _bin_status(gate.settings().db_url, rid, str(summary(rid)["created_at"]))


def bin_detail(rid: int, bin_id: str) -> dict:
    return store().bin_detail(rid, bin_id)


def aisles(rid: int) -> list[str]:
    """The site's aisle ids (bin naming is each site's own: never parsed out of a bin id)."""
    site = site_of(rid)
    return list(site.aisle_ids) if site else []


def evidence_image(bundle_path: str | None, evidence_path: str | None) -> bytes | None:
    if not bundle_path or not evidence_path:
        return None
    p = Path(bundle_path) / evidence_path
    return p.read_bytes() if p.exists() else None


def review(ids: list[int], action: str, comment: str, adjusted_qty: int | None = None) -> int:
    user = gate.require("review")
    return store().record_review(ids, action, user.name, user.role, comment, adjusted_qty)


def export_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """The rows as CSV or XLSX (pure: the page checks the export permission before offering it)."""
    if fmt == "csv":
        return df.to_csv(index=False).encode("utf-8-sig")
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        df.to_excel(xw, index=False, sheet_name="Discrepancies")
    return buf.getvalue()


def flight_path(flight_id: int) -> pd.DataFrame:
    """The corrected path fusion counted with, as the results store keeps it (t_s, x_m, y_m, z_m, speed_m_s)."""
    return store().flight_path(flight_id)


@st.cache_data(show_spinner=False, max_entries=16)
def _flight_plan_png(url: str, flight_id: int, imported_at: str) -> bytes | None:
    """The site plan with the flight's path, drawn once per flight import (a big site takes seconds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # not pyplot: no global figure state in a server

    from warehouse.plan_view import plot_site

    s = gate._store(url)
    text = s.flight_site_yaml(flight_id)
    if not text:
        return None
    traj = s.flight_path(flight_id)
    fig = Figure(figsize=(7, 5), dpi=100)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.09, top=0.95)  # fixed margins: a tight box draws twice
    ax = fig.add_subplot()
    plot_site(_site_from_yaml(text), ax)
    if len(traj):
        ax.plot(traj.x_m, traj.y_m, color="#1f77b4", lw=1.2)
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def flight_plan_png(flight: dict) -> bytes | None:
    """``flight``: a row of the flights table (``ResultsStore.reconciliation_flight``)."""
    return _flight_plan_png(gate.settings().db_url, int(flight["id"]), str(flight["imported_at"]))


def frame_with_detections(bundle_path: str, index: int):
    """(RGB image, caption) of a bundle frame with its detections drawn, or None."""
    from reconciliation.pipeline import annotated_frame

    return annotated_frame(bundle_path, index)


def import_erp_upload(name: str, raw: bytes, rid: int) -> tuple[int, list[str]]:
    """Validate an uploaded ERP file (the CLI's checks and errors, the upload's limits) and
    reconcile the current flight with it."""
    from reconciliation.diff import reconcile
    from reconciliation.erp import parse_erp

    user = gate.require("upload_erp")
    name = Path(name).name  # the browser's file name, never a path of ours
    site = site_of(rid)
    fl = store().reconciliation_flight(rid)
    snap = parse_erp(name, raw, site=site, limits=upload_limits())
    obs = store().flight_observations(fl["id"])
    result = reconcile(snap.rows, obs, site_bins=[b.bin_id for b in site.bins], bin_positions=site.bin_centres_site())
    sid = store().import_erp_snapshot(snap)
    new_rid = store().save_reconciliation(fl["id"], sid, result, {"erp_file": name, "uploaded_by": user.name},
                                          aisle_of={b.bin_id: b.aisle_id for b in site.bins})
    return new_rid, snap.warnings


def upload_limits():
    """The ERP checks' limits for a file uploaded through the browser (size from the settings)."""
    from reconciliation.erp import ErpLimits

    return ErpLimits(max_bytes=gate.settings().max_upload_bytes, max_rows=200_000,
                     max_uncompressed_bytes=256 * 2**20)


# -- accounts (the Users page; every call checks manage_users on the server) ---------------------
def users_table() -> pd.DataFrame:
    from dashboard import access
    from dashboard.auth import load_users

    gate.require("manage_users")
    rows = []
    for name, u in sorted(load_users(gate.settings().users_path).items()):
        failures, locked = access.lock_state(store(), name)
        rows.append({"user": name, "role": u["role"], "failed_sign_ins": failures, "locked": locked})
    return pd.DataFrame(rows, columns=["user", "role", "failed_sign_ins", "locked"])


def unlock_user(name: str) -> None:
    from dashboard import access

    admin = gate.require("manage_users")
    access.unlock(store(), name, by=admin.name, client=gate.client_address())


def save_user(name: str, role: str, password: str) -> None:
    from dashboard.auth import add_user

    admin = gate.require("manage_users")
    add_user(name, role, password, gate.settings().users_path)
    store().record_access("user_changed", user=name, client=gate.client_address(), detail=f"set role {role} and password by {admin.name}")


def delete_user(name: str) -> None:
    from dashboard.auth import remove_user

    admin = gate.require("manage_users")
    if name == admin.name:
        from dashboard.errors import DashboardError

        raise DashboardError(f"user {name!r}: you cannot remove your own account; ask another admin")
    remove_user(name, gate.settings().users_path)
    store().record_access("user_changed", user=name, client=gate.client_address(), detail=f"removed by {admin.name}")


def access_log(limit: int = 200) -> pd.DataFrame:
    gate.require("manage_users")
    return store().access_events(limit=limit)


def kinds() -> list[str]:
    return [k for k in KINDS if k != "match"]
