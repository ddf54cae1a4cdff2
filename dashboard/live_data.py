"""The Live page's data: a live flight's state read fresh from the store on every refresh (the
store is the only channel from the flight), the site plan's faces drawn once per site, and the
pure steps between (progress, faces coloured by how much of them has been flown)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gate

REFRESH_S = 2.0  # the page reads the store this often while it is open


def _url() -> str:
    return gate.settings().db_url


def flights() -> pd.DataFrame:
    from reconciliation.live import live_flights

    return live_flights(gate._store(_url()))


def state(live_id: int) -> tuple[dict, pd.DataFrame]:
    """The flight's row and all its samples (a flight at 2 samples a second: a few thousand rows)."""
    from reconciliation.live import live_flight, live_samples

    s = gate._store(_url())
    return live_flight(s, live_id), live_samples(s, live_id)


def progress(flight: dict, samples: pd.DataFrame):
    from reconciliation.live import live_progress

    return live_progress(flight, samples)


@st.cache_data(show_spinner=False, max_entries=8)
def face_segments(site_yaml: str) -> pd.DataFrame:
    """Each rack face's foot on the site plan (x0, y0, x1, y1) with its bins."""
    from dashboard.data import _site_from_yaml

    site = _site_from_yaml(site_yaml)
    rows = []
    for f in site.faces:
        a, b = f.face_to_site([[0.0, 0.0, 0.0], [f.length_m, 0.0, 0.0]])
        rows.append((f.face_id, float(a[0]), float(a[1]), float(b[0]), float(b[1]), [x.bin_id for x in f.bins]))
    return pd.DataFrame(rows, columns=["face_id", "x0", "y0", "x1", "y1", "bins"])


def faces_flown(faces: pd.DataFrame, flight: dict, done_bins: set[str]) -> pd.DataFrame:
    """Each face in this flight's plan: the share of its planned bins whose passes are all flown."""
    planned = {b for _, bs in flight["plan"] for b in bs}
    out = faces.assign(planned=[len(planned.intersection(bs)) for bs in faces["bins"]],
                       done=[len(done_bins.intersection(bs)) for bs in faces["bins"]])
    out["state"] = "not in this flight"
    inplan = out["planned"] > 0
    out.loc[inplan, "state"] = "to fly"
    out.loc[inplan & (out["done"] > 0), "state"] = "flying"
    out.loc[inplan & (out["done"] == out["planned"]), "state"] = "flown"
    return out


def done_bins(flight: dict, seq: int, complete: bool) -> set[str]:
    """Bins whose every pass is behind the vehicle (the item it flies to is past the pass's end)."""
    from reconciliation.live import last_pass_of

    last = last_pass_of(flight["plan"])
    return set(last) if complete else {b for b, q in last.items() if q < seq}


def bins(live_id: int) -> pd.DataFrame:
    """The bins live counting has written so far (provisional)."""
    from reconciliation.live import live_bins

    return live_bins(gate._store(_url()), live_id)


@st.cache_data(show_spinner=False, max_entries=8)
def face_bins(site_yaml: str) -> pd.DataFrame:
    """Every bin's place on its face's grid (face, column, level)."""
    from dashboard.data import _site_from_yaml

    site = _site_from_yaml(site_yaml)
    per = {f.face_id: max((b.position for b in f.bins), default=1) for f in site.faces}
    return pd.DataFrame([(b.bin_id, b.face_id, (b.bay - 1) * per[b.face_id] + b.position, b.level) for b in site.bins],
                        columns=["bin_id", "face_id", "col", "level"])


def face_grid(grid: pd.DataFrame, counted: pd.DataFrame, planned: set[str]) -> pd.DataFrame:
    """The planned faces' bins with their live state: the provisional kind once written, "to count"
    while their passes are not all flown."""
    g = grid[grid["face_id"].isin(set(grid.loc[grid["bin_id"].isin(planned), "face_id"]))].copy()
    kinds = counted.set_index("bin_id")["kind"] if len(counted) else pd.Series(dtype=str)
    g["state"] = [kinds.get(b, "to count" if b in planned else "not in this flight") for b in g["bin_id"]]
    return g


def offline(live_id: int):
    """The offline pass over the landed flight (``reconciliation.live.OfflinePass``), or None yet."""
    from reconciliation.live import offline_pass

    return offline_pass(gate._store(_url()), live_id)


def mark_replaced(grid: pd.DataFrame, changed: set[str] | None) -> pd.DataFrame:
    """The grid with each bin's provisional count marked as the offline pass left it: "stood",
    "changed", or "" (not counted live; every bin while there is no offline pass: ``changed`` None)."""
    counted = grid["state"].ne("to count") & grid["state"].ne("not in this flight") & (changed is not None)
    changed = changed or set()
    return grid.assign(offline=[("changed" if b in changed else "stood") if c else ""
                                for b, c in zip(grid["bin_id"], counted)])
