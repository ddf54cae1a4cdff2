import plotly.graph_objects as go
import streamlit as st

from dashboard import data, live_data

st.title("Live")
flights = live_data.flights()


@st.fragment(run_every=live_data.REFRESH_S)
def watch_for_new_flights(newest: int | None) -> None:
    """A page opened before the flight (or left on an earlier one) picks up a new flight by itself."""
    f = live_data.flights()
    if (int(f.id.iloc[0]) if len(f) else None) != newest:
        st.rerun()


watch_for_new_flights(int(flights.id.iloc[0]) if len(flights) else None)
if flights.empty:
    st.info("No flight to watch yet. Fly with `rackscan fly PLAN --record BUNDLE --live-db URL` (this dashboard's "
            "store) and it shows here as it flies.")
    st.stop()
labels = {int(r.id): f"{r.flight_key} — {r.status} (started {r.started_at:%Y-%m-%d %H:%M})" for r in flights.itertuples()}
lid = st.selectbox("Flight", list(labels), format_func=labels.get, key="live_flight")
FACE_COLOURS = {"flown": "#2e7d32", "flying": "#f9a825", "to fly": "#1565c0", "not in this flight": "#bdbdbd"}
BIN_COLOURS = {**data.STATUS_COLORS, "counted": "#00838f", "to count": "#eceff1", "not in this flight": "#fafafa"}


@st.fragment(run_every=live_data.REFRESH_S)
def show(live_id: int) -> None:
    fl, sm = live_data.state(live_id)
    p = live_data.progress(fl, sm)
    last = sm.iloc[-1] if len(sm) else None
    ended = fl["ended_at"] is not None
    if p.link == "lost":
        st.error(f"Link lost: no word from the vehicle for {p.silent_s:.0f} s (last position shown).")
    elif p.link == "no word":
        st.warning(f"Nothing new from the flight for {p.silent_s:.0f} s (the ground station stopped writing).")
    c = st.columns(6)
    c[0].metric("Status", fl["status"] if ended else (str(last["mode"]) if last is not None else "connecting"))
    c[1].metric("Passes", f"{p.passes_done} / {p.passes_total}")
    c[2].metric("Bins flown", f"{p.bins_done} / {p.bins_total}")
    c[3].metric("Battery", f"{last['battery_pct']:.0f}%" if last is not None and last["battery_pct"] >= 0 else "-")
    c[4].metric("Link", {"ok": "ok", "lost": "lost", "no word": "silent"}[p.link])
    c[5].metric("ETA", f"{p.eta_s / 60:.1f} min" if p.eta_s is not None else ("landed" if ended else "-"))
    st.progress(p.bins_done / p.bins_total if p.bins_total else 0.0)
    fig = go.Figure()
    if fl.get("site_yaml"):
        faces = live_data.faces_flown(live_data.face_segments(fl["site_yaml"]), fl,
                                      live_data.done_bins(fl, p.seq, ended and fl["status"] == "complete"))
        for state, part in faces.groupby("state"):
            xs, ys = [], []
            for r in part.itertuples():
                xs += [r.x0, r.x1, None]
                ys += [r.y0, r.y1, None]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"faces {state}",
                                     line=dict(color=FACE_COLOURS[state], width=4), hoverinfo="skip"))
    xy = sm.dropna(subset=["x_m"])
    if len(xy):
        fig.add_trace(go.Scatter(x=xy["x_m"], y=xy["y_m"], mode="lines", name="path", line=dict(color="#555", width=1)))
        here = xy.iloc[-1]
        fig.add_trace(go.Scatter(x=[here["x_m"]], y=[here["y_m"]], mode="markers", name="drone",
                                 marker=dict(symbol="arrow", angle=90 - float(here["yaw_deg"]), size=18,
                                             color="#c62828" if p.link != "ok" else "#000")))
    fig.update_layout(height=460, margin=dict(t=10, b=10), legend=dict(orientation="h"),
                      yaxis=dict(scaleanchor="x", scaleratio=1, title="y (m)"), xaxis=dict(title="x (m)"))
    st.plotly_chart(fig, width="stretch", key=f"live_plan_{live_id}")
    counted = live_data.bins(live_id)
    if fl.get("site_yaml") and len(counted):
        off = live_data.offline(live_id) if ended else None
        changed = off.bins[off.bins["changed"]] if off is not None else None
        planned = {b for _, bs in fl["plan"] for b in bs}
        issues = counted[~counted["kind"].isin(["match", "counted"])]
        lat = counted["latency_s"].dropna()
        if off is None:
            st.subheader("Counted so far (provisional)")
            tail = ". The offline pass after landing replaces these counts."
        else:
            st.subheader("Counted while flying, replaced by the offline pass")
            tail = (f". The offline pass (flight {off.flight_key}, {off.imported_at:%H:%M}) replaced them: "
                    f"{len(off.bins) - len(changed)} of {len(off.bins)} stood, {len(changed)} changed"
                    + (" (outlined in red)" if len(changed) else "") + "; the other pages show the final counts.")
        st.caption(f"{len(counted)} of {len(planned)} bins counted while flying, {len(issues)} disagreeing with the ERP"
                   + (f"; each within {lat.max():.0f} s of its last pass (median {lat.median():.1f} s)" if len(lat) else "")
                   + tail)
        grid = live_data.face_grid(live_data.face_bins(fl["site_yaml"]), counted, planned)
        grid = live_data.mark_replaced(grid, set(changed["bin_id"]) if changed is not None else None)
        cols = st.columns(min(2, grid["face_id"].nunique()) or 1)
        for k, (face, g) in enumerate(grid.groupby("face_id")):
            red = g["offline"].eq("changed")
            gf = go.Figure(go.Scatter(x=g["col"], y=g["level"], mode="markers", text=g["bin_id"],
                                      marker=dict(symbol="square", size=22, color=[BIN_COLOURS.get(x, "#9e9e9e") for x in g["state"]],
                                                  line=dict(color=["#c62828" if r else "#9e9e9e" for r in red],
                                                            width=[3 if r else 1 for r in red])),
                                      customdata=[f"{s}, {o} offline" if o else s for s, o in zip(g["state"], g["offline"])],
                                      hovertemplate="%{text}: %{customdata}<extra></extra>"))
            gf.update_layout(title=face, height=80 + 45 * int(g["level"].max()), margin=dict(t=30, b=5, l=5, r=5),
                             xaxis=dict(visible=False), yaxis=dict(title="level", dtick=1), plot_bgcolor="#fff")
            cols[k % len(cols)].plotly_chart(gf, width="stretch", key=f"live_face_{live_id}_{face}")
        if changed is not None and len(changed):
            st.markdown("**Counts the offline pass changed**")
            st.dataframe(changed[["bin_id", "provisional", "final"]], hide_index=True,
                         width="stretch", key=f"live_changed_{live_id}")
        if len(issues):
            st.dataframe(issues[["bin_id", "kind", "erp_qty", "count", "sku", "confidence", "latency_s"]], hide_index=True,
                         width="stretch", key=f"live_issues_{live_id}")
    if last is not None:
        st.caption(f"Item {p.seq} of {p.n_items - 1}; height {last['alt_m']:.1f} m; fix type {int(last['fix_type'])}; "
                   f"{len(sm)} samples, the last {last['t_s']:.0f} s into the flight. Refreshes every "
                   f"{live_data.REFRESH_S:.0f} s.")


show(int(lid))
