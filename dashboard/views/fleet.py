import plotly.express as px
import streamlit as st

from dashboard import ops_data

st.title("Fleet")
f = ops_data.fleet()
due = ops_data.due_table()
late = due[due.status != "ok"]
c = st.columns(4)
c[0].metric("Airframes", int(f["airframe"].retired_at.isna().sum()) if len(f["airframe"]) else 0)
c[1].metric("Batteries", int(f["battery"].retired_at.isna().sum()) if len(f["battery"]) else 0)
c[2].metric("Overdue", int((due.status == "overdue").sum()))
c[3].metric("Due soon", int((due.status == "due_soon").sum()))
st.subheader("Maintenance due")
if late.empty:
    st.success("Nothing due.")
else:
    st.dataframe(late, hide_index=True, width="stretch")
    st.caption("Record maintenance done with `rackscan fleet service KIND SERIAL --task RULE --by NAME`.")
left, right = st.columns(2)
with left:
    st.subheader("Airframes")
    st.dataframe(f["airframe"].reindex(columns=["serial", "model", "flights", "hours", "retired_at"]), hide_index=True,
                 width="stretch", key="fleet_airframes")
with right:
    st.subheader("Batteries")
    st.dataframe(f["battery"].reindex(columns=["serial", "model", "cells", "capacity_mah", "flights", "cycles",
                                               "capacity_pct", "retired_at"]), hide_index=True, width="stretch",
                 key="fleet_batteries")
st.subheader("Battery voltage sag per cycle")
sag = ops_data.sag_by_cycle(f["log"])
if sag.empty:
    st.info("No flights logged yet (`rackscan fly --airframe ... --battery ...`, or `rackscan fleet log BUNDLE`).")
else:
    st.plotly_chart(px.line(sag, x="cycle", y="sag_v", color="battery", markers=True,
                            labels={"cycle": "cycles before the flight", "sag_v": "sag under load (V)"}, height=340),
                    width="stretch")
    st.caption("Sag: the resting voltage before arming minus the lowest voltage in flight. A pack whose sag grows "
               "at the same mission is ageing (its resistance rises).")
st.subheader("Cameras")
st.dataframe(f["camera"].reindex(columns=["serial", "model", "flights", "calibrated_at", "retired_at"]), hide_index=True,
             width="stretch", key="fleet_cameras")
