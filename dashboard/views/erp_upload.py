import streamlit as st

from dashboard import data, gate
from dashboard.widgets import pick_reconciliation
from warehouse.errors import RackscanError

st.title("ERP upload")
limit_mb = gate.settings().max_upload_mb
st.caption("Upload a stock export (CSV or XLSX); it is validated like `rackscan reconcile` and the "
           f"selected flight is reconciled against it. At most {limit_mb:g} MB.")
rid = pick_reconciliation()
if rid is not None:
    up = st.file_uploader("ERP stock export", type=["csv", "xlsx"], key="erp_file")
    if up is not None and st.button("Validate and reconcile", key="erp_go"):
        try:
            new_rid, warns = data.import_erp_upload(up.name, up.getvalue(), rid)
        except RackscanError as exc:
            st.error(str(exc))
        else:
            for w in warns:
                st.warning(w)
            st.session_state["reconciliation_id"] = new_rid
            st.success(f"Reconciliation #{new_rid} stored.")
