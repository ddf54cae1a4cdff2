import plotly.express as px
import streamlit as st

from dashboard import data
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
