"""Small shared widgets: the reconciliation picker and status chips."""

from __future__ import annotations

import streamlit as st

from dashboard import data


def pick_reconciliation() -> int | None:
    recs = data.reconciliations()
    if recs.empty:
        st.info("No reconciliation in the results store yet: run `rackscan reconcile --flight ... --erp ...`.")
        return None
    labels = {int(r.id): f"#{r.id} · {r.flight_key} · {r.source_file.split('/')[-1]}" for r in recs.itertuples()}
    current = data.current_reconciliation()
    ids = list(labels)
    rid = st.sidebar.selectbox("Reconciliation", ids, index=ids.index(current) if current in ids else 0,
                               format_func=labels.get, key="pick_reconciliation")
    st.session_state["reconciliation_id"] = rid
    return rid


def status_legend() -> None:
    chips = " ".join(f"<span style='background:{c};color:white;padding:2px 8px;border-radius:10px;"
                     f"font-size:0.8em;margin-right:4px'>{k.replace('_', ' ')}</span>" for k, c in data.STATUS_COLORS.items())
    st.markdown(chips, unsafe_allow_html=True)
