"""One AppTest per page, signed in as the role the page is for; the gate, expiry and denials."""

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.access import Session, utcnow
from dashboard.gate import SESSION_KEY
from reconciliation.store import ResultsStore
from tests.conftest import REPO

APP = str(REPO / "dashboard" / "app.py")


def _app(name="lan", *, age_s=0.0, idle_s=0.0):
    at = AppTest.from_file(APP, default_timeout=90)
    now = utcnow()
    at.session_state[SESSION_KEY] = Session(name, "apptest", now - dt.timedelta(seconds=age_s), now - dt.timedelta(seconds=idle_s))
    return at


def _open(at, page):
    at.run()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_login_gate_and_password_check(app_env):
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert at.title[0].value == "rackscan"
    assert not at.metric and not at.dataframe  # nothing from the store before signing in
    at.text_input(key="login_name").input("lan")
    at.text_input(key="login_password").input("wrong-password")
    at.button[0].click().run()
    assert "wrong password" in at.error[0].value
    at.text_input(key="login_password").input("lan-secret-1")
    at.button[0].click().run()
    assert at.session_state[SESSION_KEY].user == "lan"
    assert at.title[0].value == "Overview"
    events = ResultsStore(app_env["url"]).access_events(user="lan").event.tolist()
    assert events[:2] == ["sign_in", "sign_in_failed"]


def test_no_page_is_known_before_signing_in(app_env):
    at = AppTest.from_file(APP, default_timeout=90).run()
    for page in ("overview", "discrepancies", "export", "erp_upload", "users"):
        with pytest.raises(ValueError, match="Known pages"):
            at.switch_page(f"views/{page}.py")


def test_an_idle_session_ends_and_shows_no_data(app_env):
    at = _app(idle_s=31 * 60).run()
    assert at.title[0].value == "rackscan"
    assert "Your session ended (idle for more than 30 min)" in at.info[0].value
    assert not at.metric and not at.dataframe
    assert SESSION_KEY not in at.session_state
    assert ResultsStore(app_env["url"]).access_events(user="lan", events=("session_expired",)).shape[0] >= 1


def test_a_session_past_its_age_ends(app_env):
    at = _app(age_s=13 * 3600, idle_s=1).run()
    assert "signed in more than 12 h ago" in at.info[0].value


def test_overview(app_env):
    at = _open(_app(), "overview")
    labels = {m.label: m.value for m in at.metric}
    s = ResultsStore(app_env["url"]).reconciliation_summary(ResultsStore(app_env["url"]).latest_reconciliation())
    assert labels["Bins scanned"] == f"{s['bins_scanned']} / 96"
    assert labels["Matching rate"] == f"{s['matching_rate']:.1%}"
    # the site heat map (one dot per bay) and the aisle summary agree with the discrepancy list
    rid = ResultsStore(app_env["url"]).latest_reconciliation()
    d = ResultsStore(app_env["url"]).list_discrepancies(rid)
    issues = d[d.kind.isin(["short", "ghost", "misplaced", "over", "unexpected_sku"])].bin_id.nunique()
    heat = [c for c in at.get("plotly_chart") if "site_heat" in str(c.proto.id)]
    assert len(heat) == 1
    aisles = next(df.value for df in at.dataframe if "aisle" in df.value.columns)
    assert set(aisles.aisle) == {"A01", "A02"} and aisles["bins"].sum() == 96
    assert sum(aisles.get(k, 0).sum() for k in ["short", "ghost", "misplaced", "over", "unexpected_sku"]) == issues


def test_rack_view_opens_a_bin(app_env):
    at = _open(_app(), "rack_view")
    at.selectbox(key="rack_face").select("R02/front").run()
    ids = at.selectbox(key="rack_bin").options
    assert len(ids) == 24
    at.selectbox(key="rack_bin").select(ids[3]).run()
    assert at.subheader[0].value == ids[3]
    assert {m.label for m in at.metric} == {"Counted", "ERP", "Confidence"}
    captions = [c for img in at.get("image") for c in img.captions]
    assert f"{ids[3]}, cut out of its best frame" in captions  # the evidence crop reaches the controller


def test_discrepancies_filter_and_review(app_env):
    store = ResultsStore(app_env["url"])
    rid = store.latest_reconciliation()
    at = _open(_app(), "discrepancies")
    at.multiselect(key="filter_kinds").select("ghost").run()
    ghosts = store.list_discrepancies(rid, kinds=["ghost"], statuses=["open"])
    assert f"{len(ghosts)} discrepancies" in at.caption[0].value
    target = int(ghosts.id.iloc[0])
    at.multiselect(key="review_ids").select(target)
    at.radio(key="review_action").set_value("recount_ordered")
    at.text_input(key="review_comment").input("send a picker")
    at.button(key="FormSubmitter:review-Record review").click().run()
    assert not at.exception
    after = store.list_discrepancies(rid, statuses=["recount_ordered"])
    assert target in set(after.id)
    log = store.list_reviews(rid)
    assert log.iloc[-1][["user", "role", "action", "comment"]].tolist() == ["lan", "controller", "recount_ordered", "send a picker"]


@pytest.mark.parametrize("name,title,pages", [
    ("minh", "Overview", ["overview", "flights"]),
    ("ada", "Overview", ["overview", "flights", "users"]),
])
def test_roles_see_only_their_pages(app_env, name, title, pages):
    at = _app(name).run()
    assert at.title[0].value == title
    for p in ("discrepancies", "rack_view", "export", "erp_upload", "users"):
        if p not in pages:
            with pytest.raises(ValueError, match="Known pages"):
                at.switch_page(f"views/{p}.py")


def test_a_role_taken_away_closes_the_page_at_the_next_click(app_env, tmp_path, monkeypatch):
    import shutil

    from dashboard.auth import set_role

    users = tmp_path / "users.yaml"
    shutil.copy(app_env["users"], users)
    monkeypatch.setenv("RACKSCAN_USERS", str(users))
    at = _open(_app("lan"), "export")
    assert len(at.get("download_button")) == 2
    set_role("lan", "operator", users)
    at.run()
    assert not at.get("download_button")
    assert at.title[0].value == "Overview"  # the page is gone from the navigation; the default shows


def _require_script():
    import streamlit as st

    from dashboard import gate
    from dashboard.access import AccessDenied

    try:
        gate.require("review")
        st.write("allowed")
    except AccessDenied as exc:
        st.write(f"denied: {exc}")


@pytest.mark.parametrize("name,expected", [("minh", "denied: review: user 'minh' has role operator"), ("lan", "allowed"),
                                           (None, "denied: review: not signed in")])
def test_actions_are_checked_on_the_server_and_denials_logged(app_env, name, expected):
    at = AppTest.from_function(_require_script, default_timeout=60)
    if name:
        now = utcnow()
        at.session_state[SESSION_KEY] = Session(name, "apptest", now, now)
    at.run()
    assert at.markdown[0].value.startswith(expected)
    denied = ResultsStore(app_env["url"]).access_events(events=("denied",))
    if expected.startswith("denied"):
        assert denied.detail.iloc[0].startswith(expected.removeprefix("denied: "))


def test_flights_page_shows_the_path_and_telemetry(app_env):
    store = ResultsStore(app_env["url"])
    fl = store.list_flights().iloc[0]
    n_frames = len((app_env["bundle"] / "frames.csv").read_text().splitlines()) - 1
    assert fl["n_frames"] == n_frames and fl["flight_time_s"] > 5  # what the bundle holds, not 0 and empty
    assert len(store.flight_path(int(fl["id"]))) > 10  # the path fusion counted with, in the store
    at = _open(_app(), "flights")
    assert at.subheader[0].value.startswith("Flight ")
    assert len(at.get("plotly_chart")) == 1
    assert at.slider(key="frame_idx").max == fl["n_frames"] - 1
    assert at.get("imgs") or at.get("image")


def test_export_page_offers_both_formats(app_env):
    at = _open(_app(), "export")
    assert "rows in the current filter" in at.caption[-1].value
    assert len(at.get("download_button")) == 2


def test_erp_upload_page(app_env):
    at = _open(_app(), "erp_upload")
    assert at.title[0].value == "ERP upload"
    assert "At most 10 MB" in at.caption[0].value
    assert len(at.get("file_uploader")) == 1


def test_users_page_unlocks_a_locked_user(app_env):
    store = ResultsStore(app_env["url"])
    store.record_access("unlocked", user="eng", detail="test start")  # the store is shared by the module's tests
    for _ in range(10):
        store.record_access("sign_in_failed", user="eng", client="x")
    at = _open(_app("ada"), "users")
    table = at.dataframe[0].value.set_index("user")
    assert bool(table.loc["eng", "locked"]) and table.loc["eng", "failed_sign_ins"] == 10
    at.selectbox(key="unlock_user").select("eng")
    at.button(key="FormSubmitter:unlock-Unlock").click().run()
    assert not at.exception
    assert "eng unlocked." in at.success[0].value
    assert not bool(at.dataframe[0].value.set_index("user").loc["eng", "locked"])
    assert store.access_events(user="eng", events=("unlocked",)).detail.iloc[0] == "by ada"


def test_users_page_refuses_a_weak_password(app_env):
    at = _open(_app("ada"), "users")
    at.text_input(key="new_user_name").input("newbie")
    at.text_input(key="new_user_password").input("password1234")
    at.button(key="FormSubmitter:save_user-Save user").click().run()
    assert "This is a very common password" in at.error[0].value
