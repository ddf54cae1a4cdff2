"""The Fleet and Operations log pages' data, and the Overview's savings report: each step a cached
function of the store's URL (and the rules or baseline file), or a pure one of the frame before;
the pages only lay out what these return. Short TTLs: a flight logged at the field shows within
half a minute."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gate

TTL_S = 30


def _url() -> str:
    return gate.settings().db_url


def _path(p) -> str:
    return str(p) if p else ""


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _fleet(url: str) -> dict[str, pd.DataFrame]:
    from operations.fleet import fleet_table, flight_log

    store = gate._store(url)
    return {k: fleet_table(store, k) for k in ("airframe", "battery", "camera")} | {"log": flight_log(store)}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _due(url: str, rules_path: str) -> pd.DataFrame:
    from operations.fleet import due
    from operations.rules import load_rules

    ds = due(gate._store(url), load_rules(rules_path or None))
    return pd.DataFrame([{"status": d.status, "item": f"{d.kind} {d.serial}", "rule": d.rule, "used": d.used,
                          "limit": d.limit, "unit": d.unit, "what": d.text, "blocks flight": d.blocks_flight} for d in ds],
                        columns=["status", "item", "rule", "used", "limit", "unit", "what", "blocks flight"])


def fleet() -> dict[str, pd.DataFrame]:
    return _fleet(_url())


def due_table() -> pd.DataFrame:
    return _due(_url(), _path(gate.settings().maintenance_rules))


@st.cache_data(show_spinner=False)
def sag_by_cycle(log: pd.DataFrame) -> pd.DataFrame:
    """Per battery, each flight's voltage sag and resistance at the pack's cycle count then (the
    cycles of its flights before; cycles from before registration not included)."""
    cols = ["battery", "cycle", "sag_v", "resistance_mohm", "min_voltage_v", "flight_key"]
    if log.empty:
        return pd.DataFrame(columns=cols)
    df = log.sort_values(["battery", "logged_at", "id"]).copy()
    df["cycle"] = df.groupby("battery")["cycles"].cumsum() - df["cycles"]
    return df[cols].reset_index(drop=True)


@st.cache_data(show_spinner=False)
def flights_table(log: pd.DataFrame) -> pd.DataFrame:
    """The operations log: one row per flight, newest first."""
    cols = ["started_utc", "flight_key", "operator", "airframe", "battery", "camera", "status", "failsafes",
            "airborne_min", "consumed_mah", "min_voltage_v", "override_reason"]
    if log.empty:
        return pd.DataFrame(columns=cols)
    return log.assign(airborne_min=(log.airborne_s / 60.0).round(1),
                      override_reason=log.override_reason.fillna(""), camera=log.camera.fillna(""))[cols]


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _overrides(url: str) -> pd.DataFrame:
    from operations.fleet import overrides

    df = overrides(gate._store(url))
    if df.empty:
        return pd.DataFrame(columns=["at", "operator", "flight_key", "reason", "problems"])
    return df.assign(problems=df.problems.map(lambda p: "; ".join(p) if isinstance(p, list) else str(p)))[
        ["at", "operator", "flight_key", "reason", "problems"]]


def overrides() -> pd.DataFrame:
    return _overrides(_url())


def outcome_counts(table: pd.DataFrame) -> dict[str, int]:
    """Flights, completed, ended early (failsafe or abort), flown on an override."""
    st_ = table["status"].fillna("")
    return {"flights": len(table), "complete": int((st_ == "complete").sum()),
            "ended early": int(((st_ != "complete") & (st_ != "")).sum()),
            "overrides": int((table["override_reason"] != "").sum())}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _savings(url: str, baseline_path: str) -> pd.DataFrame:
    from operations.savings import flight_seconds, load_baseline, savings_table

    store = gate._store(url)
    return savings_table(store.trend(), flight_seconds(store), load_baseline(baseline_path or None))


def savings() -> pd.DataFrame:
    return _savings(_url(), _path(gate.settings().savings_baseline))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _chain(url: str) -> tuple[bool, str]:
    from operations.audit import verify
    from operations.errors import OperationsError

    try:
        rep = verify(gate._store(url))
    except OperationsError as exc:
        return False, str(exc)
    return True, f"{rep.n_records} records, head seq {rep.head_seq} {rep.head_hash[:16]}..."


def chain_status() -> tuple[bool, str]:
    """Whether the audit chain verifies, and its one line (head hash, or the first break); it reads
    the whole chain, so at most once per TTL."""
    return _chain(_url())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _history(url: str, bin_id: str) -> pd.DataFrame:
    from operations.audit import count_history

    return count_history(gate._store(url), bin_id)


def bin_history(bin_id: str) -> pd.DataFrame:
    """A bin's counts across flights as the audit chain recorded them (stock data: view_stock only)."""
    gate.require("view_stock")
    return _history(_url(), bin_id.strip())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _campaigns(url: str) -> pd.DataFrame:
    from reconciliation.campaign import list_campaigns

    return list_campaigns(gate._store(url))


def campaigns() -> pd.DataFrame:
    return _campaigns(_url())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _campaign_progress(url: str, name: str) -> dict:
    from reconciliation.campaign import load_campaign

    camp = load_campaign(gate._store(url), name)
    p = camp.progress()
    return {"bins": p.bins_on_site, "counted": p.counted, "stale": p.stale, "recount": p.recount, "left": p.left,
            "done": p.done, "by_aisle": p.by_aisle, "over_time": p.over_time, "flights": len(camp.flights),
            "stale_after_days": camp.stale_after_days, "closed_at": camp.closed_at,
            "reconciliation_id": camp.reconciliation_id}


def campaign_progress(name: str) -> dict:
    return _campaign_progress(_url(), name)


@st.cache_data(show_spinner=False)
def aisle_states(by_aisle: pd.DataFrame) -> pd.DataFrame:
    """The per-aisle table in long form (aisle, state, bins) for a stacked bar chart."""
    return by_aisle.drop(columns="bins").melt(id_vars=["aisle"], value_vars=["counted", "stale", "recount", "left"],
                                              var_name="state", value_name="bins")
