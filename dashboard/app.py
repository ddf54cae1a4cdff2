"""rackscan dashboard: log in, then the pages your role may see (``st.navigation``)."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import ROLE_PAGES, authenticate
from dashboard.errors import DashboardError

st.set_page_config(page_title="rackscan", page_icon=":material/inventory_2:", layout="wide")

PAGES = {
    "overview": ("pages/overview.py", "Overview", ":material/dashboard:"),
    "rack_view": ("pages/rack_view.py", "Rack view", ":material/grid_view:"),
    "discrepancies": ("pages/discrepancies.py", "Discrepancies", ":material/report:"),
    "flights": ("pages/flights.py", "Flights", ":material/flight:"),
    "export": ("pages/export.py", "Export", ":material/download:"),
    "erp_upload": ("pages/erp_upload.py", "ERP upload", ":material/upload_file:"),
}


def login() -> None:
    st.title("rackscan")
    st.caption("Drone inventory counts against ERP stock — sign in to review")
    with st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        ok = st.form_submit_button("Sign in")
    if ok:
        try:
            user = authenticate(name, password)
        except DashboardError as exc:
            st.error(str(exc))
            return
        if user is None:
            st.error("Unknown user or wrong password.")
            return
        st.session_state["user"] = {"name": user.name, "role": user.role}
        st.rerun()


user = st.session_state.get("user")
if not user:
    st.navigation([st.Page(login, title="Sign in", icon=":material/login:")]).run()
else:
    with st.sidebar:
        st.markdown(f"**{user['name']}** · {user['role']}")
        if st.button("Sign out"):
            st.session_state.clear()
            st.rerun()
    pages = [st.Page(PAGES[k][0], title=PAGES[k][1], icon=PAGES[k][2], url_path=k) for k in ROLE_PAGES[user["role"]]]
    st.navigation(pages).run()
