"""rackscan dashboard: every run passes the gate; only then are the pages of the user's role registered.

Pages live in ``views/`` (not ``pages/``, which Streamlit would serve on its own, beside this gate).
"""

from __future__ import annotations

import streamlit as st

from dashboard import access, gate

st.set_page_config(page_title="rackscan", page_icon=":material/inventory_2:", layout="wide")

user = gate.signed_in_user()
if user is None:
    # whatever URL was asked for, the sign-in form is the only thing there is; a page's own URL
    # shows it too, so a bookmark opens that page once signed in (if the role allows it)
    st.navigation([st.Page(gate.sign_in_page, title="Sign in", icon=":material/login:", default=True)]
                  + [st.Page(gate.sign_in_page, title="Sign in", url_path=p.key) for p in access.PAGES],
                  position="hidden").run()
    st.stop()

with st.sidebar:
    st.markdown(f"**{user.name}** · {user.role}")
    if st.button("Sign out", key="sign_out"):
        gate.sign_out()
        st.rerun()
entries = [(st.Page(p.file, title=p.title, icon=p.icon, url_path=p.key), p) for p in access.pages_for(user.role)]
page = st.navigation([pg for pg, _ in entries])
try:
    gate.require(next(spec for pg, spec in entries if pg.title == page.title).permission)
except access.AccessDenied as exc:
    st.error(str(exc))
    st.stop()
page.run()
