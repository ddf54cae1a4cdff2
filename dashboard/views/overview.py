import plotly.express as px
import streamlit as st

from dashboard import data, ops_data
from dashboard.widgets import pick_reconciliation

st.title("Overview")
rid = pick_reconciliation()
if rid is not None:
    s = data.summary(rid)
    st.caption(f"Flight **{s['flight_key']}** against **{s['erp_file'].split('/')[-1]}**")
    c = st.columns(5)
    c[0].metric("Bins scanned", f"{s['bins_scanned']} / {s['bins_on_site']}")
    c[1].metric("Coverage", f"{s['coverage']:.1%}")
    c[2].metric("Matching rate", f"{s['matching_rate']:.1%}")
    c[3].metric("Units short", s["units_short"])
    c[4].metric("Units over", s["units_over"])
    by_kind = {k: v for k, v in s["by_kind"].items() if k != "match"}
    left, right = st.columns(2)
    with left:
        st.subheader("Discrepancies by kind")
        fig = px.bar(x=list(by_kind), y=list(by_kind.values()), color=list(by_kind),
                     color_discrete_map=data.STATUS_COLORS, labels={"x": "kind", "y": "count"})
        fig.update_layout(showlegend=False, height=320, margin=dict(t=10, b=10))
        st.plotly_chart(fig, width="stretch")
    with right:
        st.subheader("Trend over flights")
        t = data.trend()
        fig = px.line(t, x="reconciliation_id", y=["coverage", "matching_rate"], markers=True)
        fig.update_layout(height=320, margin=dict(t=10, b=10), yaxis_tickformat=".0%")
        st.plotly_chart(fig, width="stretch")
    st.dataframe(data.trend(), hide_index=True, width="stretch")
    bays, aisles = data.site_views(rid)
    if len(bays):
        st.subheader("Discrepancies over the site")
        fig = px.scatter(bays, x="x_m", y="y_m", color="discrepancies", size="bins", size_max=9, render_mode="webgl",
                         color_continuous_scale=["#e8f5e9", "#ffb300", "#c62828"], hover_data=["aisle", "face_id", "bay",
                                                                                                 "recount"],
                         labels={"x_m": "x (m)", "y_m": "y (m)", "discrepancies": "per bay"}, height=420)
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
        fig.update_layout(margin=dict(t=10, b=10), plot_bgcolor="#fafafa")
        st.plotly_chart(fig, width="stretch", key="site_heat")
        st.caption("Each dot is a rack bay on the site plan, coloured by its bins' discrepancies (short, ghost, misplaced, "
                   "over, unexpected SKU); hover for the bins still to recount.")
        st.subheader("Aisles")
        st.dataframe(aisles, hide_index=True, width="stretch", key="aisle_summary",
                     column_config={"matching_rate": st.column_config.ProgressColumn(min_value=0, max_value=1)})
    sv = ops_data.savings()
    mine = sv[sv.reconciliation_id == rid]
    if len(mine):
        r = mine.iloc[0]
        st.subheader("Savings against a manual count")
        c = st.columns(4)
        c[0].metric("Counting time", f"{r.drone_time_h:.2f} h", f"{-r.time_reduction:.0%} vs {r.manual_time_h:.2f} h by hand",
                    delta_color="inverse")
        c[1].metric("Labour", f"{r.drone_labour_h:.2f} person-h",
                    f"{-r.labour_reduction:.0%} vs {r.manual_labour_h:.2f} by hand", delta_color="inverse")
        c[2].metric("Time reduction (promised)", f"{r.time_reduction:.0%}", f"{r.time_reduction - r.claimed_time_reduction:+.0%} vs "
                    f"{r.claimed_time_reduction:.0%} promised")
        c[3].metric("Labour reduction (promised)", f"{r.labour_reduction:.0%}",
                    f"{r.labour_reduction - r.claimed_labour_reduction:+.0%} vs {r.claimed_labour_reduction:.0%} promised")
        st.caption(f"{int(r.locations)} locations; {r.flight_h * 60:.1f} min in the air plus setup; the manual baseline "
                   "(people, locations per person-hour) and the drone's setup and review times are set in the savings "
                   "baseline file (`rackscan dashboard --savings-baseline`).")
        st.dataframe(sv, hide_index=True, width="stretch", key="savings_table")
