import plotly.express as px
import streamlit as st

from dashboard import ops_data

st.title("Campaigns")
camps = ops_data.campaigns()
if camps.empty:
    st.info("No campaign yet. A site count over several flights: `rackscan campaign new NAME --site SITE.yaml`, then "
            "`rackscan campaign add NAME BUNDLE ...` after each flight.")
    st.stop()
open_first = camps.sort_values("closed_at", na_position="first")
name = st.selectbox("Campaign", list(open_first["name"]), key="campaign")
p = ops_data.campaign_progress(name)
state = "open" if p["closed_at"] is None else f"closed {p['closed_at']:%Y-%m-%d %H:%M}"
st.caption(f"{p['flights']} flights; {state}. Each bin's latest trusted observation counts; a count older than "
           f"{p['stale_after_days']:g} days is stale.")
c = st.columns(5)
c[0].metric("Counted", f"{p['counted']} / {p['bins']}")
c[1].metric("Done", f"{p['done']:.1%}")
c[2].metric("Stale", p["stale"])
c[3].metric("To recount", p["recount"])
c[4].metric("Left", p["left"])
st.progress(min(1.0, p["done"]))
left, right = st.columns(2)
colours = {"counted": "#2e7d32", "stale": "#f9a825", "recount": "#ef6c00", "left": "#9e9e9e"}
with left:
    st.subheader("By aisle")
    st.plotly_chart(px.bar(ops_data.aisle_states(p["by_aisle"]), x="aisle", y="bins", color="state",
                           color_discrete_map=colours, height=340), width="stretch")
with right:
    st.subheader("Coverage flight by flight")
    if p["over_time"].empty:
        st.info("No flights in this campaign yet.")
    else:
        st.plotly_chart(px.line(p["over_time"], x="flown_at", y="coverage", markers=True, hover_name="flight_key",
                                labels={"flown_at": "flight", "coverage": "bins trusted (share of the site)"},
                                height=340), width="stretch")
st.dataframe(p["by_aisle"], hide_index=True, width="stretch", key="campaign_aisles")
st.dataframe(p["over_time"], hide_index=True, width="stretch", key="campaign_flights")
if p["reconciliation_id"]:
    st.caption(f"Reconciled on closing: reconciliation {p['reconciliation_id']} (flight 'campaign:{name}' on the "
               "Overview and Discrepancies pages).")
else:
    st.caption(f"Close it with `rackscan campaign close {name!r} --erp EXPORT` to reconcile the whole count.")
