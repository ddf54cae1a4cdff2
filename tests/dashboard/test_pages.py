"""One AppTest per page: log in, open the page, check real content from the demo store."""

import pytest
from streamlit.testing.v1 import AppTest

from reconciliation.store import ResultsStore
from tests.conftest import REPO

APP = str(REPO / "dashboard" / "app.py")


def _app(role="controller", name="lan"):
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user"] = {"name": name, "role": role}
    return at


def _open(at, page):
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_login_gate_and_password_check(app_env):
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert at.title[0].value == "rackscan"
    at.text_input(key="login_name").input("lan")
    at.text_input(key="login_password").input("wrong-password")
    at.button[0].click().run()
    assert "wrong password" in at.error[0].value
    at.text_input(key="login_password").input("lan-secret-1")
    at.button[0].click().run()
    assert at.session_state["user"] == {"name": "lan", "role": "controller"}


def test_overview(app_env):
    at = _open(_app(), "overview")
    labels = {m.label: m.value for m in at.metric}
    s = ResultsStore(app_env["url"]).reconciliation_summary(ResultsStore(app_env["url"]).latest_reconciliation())
    assert labels["Bins scanned"] == f"{s['bins_scanned']} / 96"
    assert labels["Matching rate"] == f"{s['matching_rate']:.1%}"


def test_rack_view_opens_a_bin(app_env):
    at = _open(_app(), "rack_view")
    at.selectbox(key="rack_face").select("R02/front").run()
    ids = at.selectbox(key="rack_bin").options
    assert len(ids) == 24
    at.selectbox(key="rack_bin").select(ids[3]).run()
    assert at.subheader[0].value == ids[3]
    assert {m.label for m in at.metric} == {"Counted", "ERP", "Confidence"}


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
    at.button[0].click().run()
    assert not at.exception
    after = store.list_discrepancies(rid, statuses=["recount_ordered"])
    assert target in set(after.id)
    log = store.list_reviews(rid)
    assert log.iloc[-1][["user", "role", "action", "comment"]].tolist() == ["lan", "controller", "recount_ordered", "send a picker"]


def test_operator_sees_only_overview_and_flights(app_env):
    at = _app("operator", "minh")
    at.run()
    assert at.title[0].value == "Overview"
    with pytest.raises(ValueError, match=r"Known pages: \[.*overview.py', .*flights.py'\]"):
        at.switch_page("pages/discrepancies.py")


def test_flights_page_shows_the_path_and_telemetry(app_env):
    at = _open(_app(), "flights")
    assert at.subheader[0].value.startswith("Flight ")
    assert len(at.get("plotly_chart")) == 1
    assert at.get("imgs") or at.get("image")


def test_export_page_offers_both_formats(app_env):
    at = _open(_app(), "export")
    assert "rows in the current filter" in at.caption[-1].value
    assert len(at.get("download_button")) == 2


def test_erp_upload_page(app_env):
    at = _open(_app(), "erp_upload")
    assert at.title[0].value == "ERP upload"
    assert len(at.get("file_uploader")) == 1
