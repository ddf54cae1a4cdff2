import streamlit as st

from dashboard import data
from dashboard.auth import ROLES
from warehouse.errors import RackscanError

st.title("Users")
st.caption("Accounts of this dashboard, their sign-in failures and lockouts, and the access log.")
users = data.users_table()
st.dataframe(users, hide_index=True, width="stretch")
locked = users.loc[users.locked | (users.failed_sign_ins > 0), "user"].tolist()
left, right = st.columns(2)
with left:
    st.subheader("Unlock")
    with st.form("unlock"):
        who = st.selectbox("User to unlock", locked, key="unlock_user", placeholder="nobody is locked or delayed")
        if st.form_submit_button("Unlock") and who:
            data.unlock_user(who)
            st.session_state["users_flash"] = f"{who} unlocked."
            st.rerun()
    st.subheader("Remove")
    with st.form("remove"):
        gone = st.selectbox("User to remove", users.user.tolist(), index=None, key="remove_user")
        if st.form_submit_button("Remove") and gone:
            try:
                data.delete_user(gone)
            except RackscanError as exc:
                st.error(str(exc))
            else:
                st.session_state["users_flash"] = f"{gone} removed."
                st.rerun()
with right:
    st.subheader("Add a user or set a password")
    with st.form("save_user"):
        name = st.text_input("User name", key="new_user_name", max_chars=100)
        role = st.selectbox("Role", ROLES, key="new_user_role")
        pw = st.text_input("Password (at least 12 characters, hard to guess)", type="password", key="new_user_password")
        if st.form_submit_button("Save user"):
            try:
                data.save_user(name.strip(), role, pw)
            except RackscanError as exc:
                st.error(str(exc))
            else:
                st.session_state["users_flash"] = f"{name.strip()} saved as {role}."
                st.rerun()
if "users_flash" in st.session_state:
    st.success(st.session_state.pop("users_flash"))
st.subheader("Access log")
st.dataframe(data.access_log(), hide_index=True, width="stretch")
