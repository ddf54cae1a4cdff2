import streamlit as st

from dashboard import access, gate, ops_data

st.title("Operations log")
table = ops_data.flights_table(ops_data.fleet()["log"])
n = ops_data.outcome_counts(table)
c = st.columns(4)
for col, (label, value) in zip(c, n.items()):
    col.metric(label.capitalize(), value)
st.dataframe(table, hide_index=True, width="stretch", key="ops_flights")
st.subheader("Overrides")
ov = ops_data.overrides()
if ov.empty:
    st.caption("No flight was flown on an override.")
else:
    st.dataframe(ov, hide_index=True, width="stretch", key="ops_overrides")
st.subheader("Audit chain")
ok, line = ops_data.chain_status()
(st.success if ok else st.error)(f"{'Verified' if ok else 'Broken'}: {line}")
st.caption("`rackscan audit verify` checks the same; `rackscan audit export --out audit.xlsx` writes the auditor's copy.")
user = gate.signed_in_user()
if access.allowed(user.role, "view_stock"):
    st.subheader("A bin's count history")
    bin_id = st.text_input("Bin", key="history_bin", placeholder="e.g. A01-B03-L2-P1")
    if bin_id.strip():
        h = ops_data.bin_history(bin_id)
        if h.empty:
            st.info(f"No counts recorded for {bin_id.strip()}.")
        else:
            st.dataframe(h, hide_index=True, width="stretch")
            st.caption("Every count the chain recorded for this bin, replaced ones included "
                       "(`rackscan audit history BIN`).")
