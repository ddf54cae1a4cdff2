import plotly.express as px
import streamlit as st

from dashboard import data
from dashboard.widgets import pick_reconciliation

st.title("Flights")
st.dataframe(data.store().list_flights(), hide_index=True, width="stretch")
rid = pick_reconciliation()
if rid is not None:
    fl = data.store().reconciliation_flight(rid)
    st.subheader(f"Flight {fl['flight_key']}")
    traj = data.flight_path(fl["id"])
    left, right = st.columns(2)
    with left:
        png = data.flight_plan_png(fl)
        if png:
            st.image(png, caption="the site plan and the flight's corrected path", width="stretch")
        else:
            st.info("No site plan stored with this flight.")
    with right:
        if traj is not None and len(traj):
            st.plotly_chart(px.line(traj, x="t_s", y=["z_m", "speed_m_s"], labels={"value": "", "t_s": "time (s)",
                                                                                    "z_m": "height (m)"},
                                    height=360), width="stretch")
            st.caption("The path fusion counted with: telemetry smoothed and corrected by the location labels.")
        else:
            st.info("No fused path for this flight in the results store (run `rackscan process` or `rackscan fuse`).")
    n = int(fl["n_frames"] or 0)
    shot = data.frame_with_detections(fl["bundle_path"], st.slider("Frame", 0, max(1, n - 1), 0, key="frame_idx")) if n else None
    if shot is not None:
        st.image(shot[0], caption=shot[1], width="stretch")
