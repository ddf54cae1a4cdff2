"""The Fleet and Operations log pages (AppTests, signed in as the operator) and the Overview's
savings report, over the demo store with a small fleet and two logged flights."""

import datetime as dt

import pytest
import streamlit as st
from sqlalchemy import insert, select

from operations.fleet import add_item, confirm_checklist, preflight
from operations.rules import load_checklist, load_rules
from reconciliation import schema as S
from reconciliation.store import ResultsStore
from tests.dashboard.test_pages import _app, _open


def _flight(c, key, a, b, *, cycles, sag, status="complete", override_id=None, minutes=6.0):
    now = dt.datetime.now(dt.timezone.utc)
    c.execute(insert(S.flight_log).values(
        flight_key=key, bundle_path="", airframe_id=a, battery_id=b, operator="minh", started_utc=now.isoformat(),
        status=status, failsafes="" if status == "complete" else "battery_low->RTL by vehicle", armed_s=minutes * 60 + 20,
        airborne_s=minutes * 60, energy_wh=20.0, consumed_mah=cycles * 3300, min_voltage_v=12.6 - sag - 0.4,
        peak_current_a=30.0, resting_v_start=12.6, resting_v_end=11.9, sag_v=sag, resistance_mohm=15.0, cycles=cycles,
        autopilot_id="sysid 1", source="tlog", override_id=override_id, logged_at=now))


@pytest.fixture()
def fleet_env(app_env):
    store = ResultsStore(app_env["url"])
    with store.engine.connect() as c:
        known = c.execute(select(S.airframes.c.id).where(S.airframes.c.serial == "AF-7")).first()
    if known is None:
        add_item(store, "airframe", "AF-7", model="quad 450")
        add_item(store, "battery", "BAT-7", cells=3, capacity_mah=3300, cycles_before=300)
        confirm_checklist(store, load_checklist(), operator="minh", airframe="AF-7", battery="BAT-7",
                          answers={i.id: True for i in load_checklist().to_confirm})
        gate = preflight(store, load_rules(), airframe="AF-7", battery="BAT-7", camera=None, operator="minh",
                         override="spare pack on order", flight_key="demo-2")
        with store.engine.begin() as c:
            a = c.execute(select(S.airframes.c.id).where(S.airframes.c.serial == "AF-7")).scalar()
            b = c.execute(select(S.batteries.c.id).where(S.batteries.c.serial == "BAT-7")).scalar()
            _flight(c, "demo-1", a, b, cycles=0.4, sag=0.9)
            _flight(c, "demo-2", a, b, cycles=0.45, sag=1.1, status="rtl_battery", override_id=gate.override_id)
    st.cache_data.clear()
    return app_env


def test_fleet_page(fleet_env):
    at = _open(_app("minh"), "fleet")
    assert at.title[0].value == "Fleet"
    m = {x.label: x.value for x in at.metric}
    assert m["Airframes"] == "1" and m["Batteries"] == "1"
    assert m["Overdue"] == "1"  # the pack: 300 + 0.85 of 300 cycles
    due = at.dataframe[0].value
    assert "battery BAT-7" in set(due["item"]) and "battery_retire_cycles" in set(due["rule"])
    bats = at.dataframe[2].value.set_index("serial")
    assert bats.loc["BAT-7", "flights"] == 2 and bats.loc["BAT-7", "cycles"] == pytest.approx(300.85)
    airframes = at.dataframe[1].value.set_index("serial")
    assert airframes.loc["AF-7", "hours"] == pytest.approx(12 / 60)
    assert len(at.get("plotly_chart")) == 1  # the sag trend


def test_operations_log_page(fleet_env):
    at = _open(_app("minh"), "operations_log")
    m = {x.label: x.value for x in at.metric}
    assert (m["Flights"], m["Complete"], m["Ended early"], m["Overrides"]) == ("2", "1", "1", "1")
    log = at.dataframe[0].value
    assert set(log.flight_key) == {"demo-1", "demo-2"}
    assert log.set_index("flight_key").loc["demo-2", "override_reason"] == "spare pack on order"
    ov = at.dataframe[1].value
    assert "battery_retire_cycles" in ov.problems.iloc[0] and ov.flight_key.iloc[0] == "demo-2"
    assert at.success[0].value.startswith("Verified:")


def test_overview_shows_the_savings(app_env):
    st.cache_data.clear()
    at = _open(_app(), "overview")
    labels = [m.label for m in at.metric]
    assert "Counting time" in labels and "Labour reduction (promised)" in labels
    sv = at.dataframe[-1].value
    assert (sv.manual_labour_h > 0).all() and sv.claimed_time_reduction.iloc[0] == 0.5


def test_operations_log_shows_a_bins_count_history_to_reviewers_only(fleet_env):
    at = _open(_app("lan"), "operations_log")
    at.text_input(key="history_bin").input("A01-B01-L1-P1").run()
    assert not at.exception, at.exception
    h = at.dataframe[-1].value
    assert list(h.columns) == ["seq", "at", "flight_key", "sku", "count", "confidence"] and len(h) >= 1
    at = _open(_app("minh"), "operations_log")  # an operator sees the fleet, not the stock
    assert "history_bin" not in [t.key for t in at.text_input]


def test_campaigns_page(app_env):
    from reconciliation.campaign import add_flight, create_campaign, list_campaigns, load_campaign

    store = ResultsStore(app_env["url"])
    if "night counts" not in set(list_campaigns(store)["name"]):
        create_campaign(store, "night counts", app_env["bundle"] / "site.yaml")
        add_flight(store, "night counts", app_env["bundle"])
    st.cache_data.clear()
    p = load_campaign(store, "night counts").progress()
    at = _open(_app("minh"), "campaigns")
    assert at.title[0].value == "Campaigns" and not at.exception
    m = {x.label: x.value for x in at.metric}
    assert m["Counted"] == f"{p.counted} / {p.bins_on_site}" and m["Left"] == str(p.left) and m["Stale"] == str(p.stale)
    assert p.counted + p.stale > 0  # the demo flight is dated 2026-01-01: its counts are stale by now
    assert len(at.get("plotly_chart")) == 2  # aisles, coverage over time
    assert at.dataframe[0].value["bins"].sum() == p.bins_on_site
