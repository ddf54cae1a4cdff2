import streamlit as st

from dashboard import access, data, gate
from dashboard.widgets import pick_reconciliation
from warehouse.errors import RackscanError

st.title("Discrepancies")
rid = pick_reconciliation()
if rid is not None:
    c = st.columns(3)
    kinds = c[0].multiselect("Kind", data.kinds(), key="filter_kinds")
    statuses = c[1].multiselect("Status", ["open", "accepted", "recount_ordered", "adjusted"], default=["open"], key="filter_status")
    aisle = c[2].selectbox("Aisle", ["all", *data.aisles(rid)], key="filter_aisle")
    df = data.discrepancies(rid, kinds, statuses, None if aisle == "all" else aisle)
    st.session_state["current_filter"] = df
    st.caption(f"{len(df)} discrepancies")
    view = df[["id", "bin_id", "sku", "kind", "erp_qty", "counted_qty", "delta", "paired_bin_id", "confidence", "status"]]
    view = view.assign(sku=data.sku_shown(view))
    picked = st.dataframe(view, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row",
                          key="disc_table", column_config={"confidence": st.column_config.ProgressColumn(min_value=0, max_value=1)})
    rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
    default_ids = [int(view.iloc[i]["id"]) for i in rows]
    user = gate.signed_in_user()
    if not access.allowed(user.role, "review"):
        st.info(f"Your role ({user.role}) can view discrepancies; reviews need a controller or engineer.")
    else:
        with st.form("review"):
            label = {int(i): f"#{i} {b} {k}" for i, b, k in zip(view["id"], view["bin_id"], view["kind"])}
            ids = st.multiselect("Discrepancies to review", view["id"].tolist(), default=default_ids, key="review_ids",
                                 format_func=lambda i: label[int(i)])
            action = st.radio("Action", ["accepted", "recount_ordered", "adjusted"], horizontal=True, key="review_action",
                              format_func=lambda a: {"accepted": "Accept", "recount_ordered": "Order recount", "adjusted": "Adjust"}[a])
            qty = st.number_input("Adjusted quantity (for Adjust)", min_value=0, value=0, key="review_qty")
            comment = st.text_input("Comment", key="review_comment")
            if st.form_submit_button("Record review"):
                if not ids:
                    st.warning("Pick at least one discrepancy.")
                else:
                    try:
                        n = data.review(ids, action, comment, int(qty) if action == "adjusted" else None)
                    except RackscanError as exc:
                        st.error(str(exc))
                    else:
                        st.session_state["flash"] = f"{n} discrepancies marked {action} by {user.name}."
                        st.rerun()
    if "flash" in st.session_state:
        st.success(st.session_state.pop("flash"))
    st.subheader("Review log")
    st.dataframe(data.store().list_reviews(rid), hide_index=True, width="stretch")
