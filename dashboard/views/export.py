import streamlit as st

from dashboard import data
from dashboard.widgets import pick_reconciliation

st.title("Export")
rid = pick_reconciliation()
if rid is not None:
    df = st.session_state.get("current_filter")
    if df is None:
        df = data.discrepancies(rid)
        st.caption("No filter set on the Discrepancies page: exporting all open discrepancies.")
    st.caption(f"{len(df)} rows in the current filter")
    st.dataframe(df, hide_index=True, width="stretch")
    c = st.columns(2)
    # the files are made only when a button is pressed
    c[0].download_button("Download CSV", lambda: data.export_bytes(df, "csv"), "discrepancies.csv", "text/csv", key="dl_csv")
    c[1].download_button("Download XLSX", lambda: data.export_bytes(df, "xlsx"), "discrepancies.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx")
