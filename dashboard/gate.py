"""The dashboard's one gate: every run of the app passes here before any page or action.

``app.py`` calls :func:`signed_in_user` first; without a good session it shows only the sign-in
form (whatever URL was asked for) and no page is registered. Actions that change or release
data call :func:`require` again at the moment they act, so a page cannot skip the role check,
and a refusal is logged.
"""

from __future__ import annotations

import streamlit as st

from dashboard import access
from dashboard.auth import User
from dashboard.settings import DashboardSettings

SESSION_KEY = "_rackscan_session"
NOTICE_KEY = "_rackscan_notice"


@st.cache_resource(show_spinner=False)
def _store(url: str):
    from reconciliation.store import ResultsStore

    return ResultsStore(url)


def settings() -> DashboardSettings:
    return DashboardSettings.from_env()


def store():
    return _store(settings().db_url)


def client_address() -> str:
    """The browser's address as the server sees it.

    Behind a reverse proxy on the same machine, the server (uvicorn) takes it from the proxy's
    X-Forwarded-For, which it trusts from 127.0.0.1 only; Streamlit reports loopback as None.
    """
    ip = st.context.ip_address
    return ip[:100] if isinstance(ip, str) and ip else "localhost"


def signed_in_user() -> User | None:
    """The user of this browser session, re-checked now (expiry, account still there, its role now)."""
    check = access.check_session(st.session_state.get(SESSION_KEY), settings())
    if check.ended:
        old = st.session_state[SESSION_KEY]
        store().record_access("session_expired", user=old.user, client=old.client, detail=check.ended)
        st.session_state[NOTICE_KEY] = f"Your session ended ({check.ended}); sign in again."
    if check.session is None:
        st.session_state.pop(SESSION_KEY, None)
        return None
    st.session_state[SESSION_KEY] = check.session
    return check.user


def require(action: str) -> User:
    """The signed-in user if their role may do ``action``; else log the refusal and raise AccessDenied."""
    user = signed_in_user()
    try:
        return access.authorize(user, action)
    except access.AccessDenied as exc:
        store().record_access("denied", user=user.name if user else "", client=client_address(), detail=str(exc))
        raise


def sign_in_page() -> None:
    st.title("rackscan")
    st.caption("Drone inventory counts against ERP stock — sign in to review")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    with st.form("login"):
        name = st.text_input("User name", key="login_name", max_chars=100)
        password = st.text_input("Password", type="password", key="login_password", max_chars=200)
        ok = st.form_submit_button("Sign in")
    if ok:
        s = settings()
        client = client_address()
        result = access.attempt_sign_in(store(), s, name, password, client)
        if result.user is None:
            st.error(result.message)
            return
        now = access.utcnow()
        st.session_state.clear()  # nothing from before the sign-in carries over
        st.session_state[SESSION_KEY] = access.Session(result.user.name, client, now, now)
        st.rerun()


def sign_out() -> None:
    old = st.session_state.get(SESSION_KEY)
    if old is not None:
        store().record_access("signed_out", user=old.user, client=old.client)
    st.session_state.clear()
