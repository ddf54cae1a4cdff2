"""The Live page (AppTest, signed in as the operator) over a store a flight is writing to: the
site plan with the drone and the faces flown so far, progress, battery, a lost link shown as lost,
and a landed flight shown as landed."""

from __future__ import annotations

import pytest
import streamlit as st

from flight.live import LiveSample, pass_bins
from flight.planner import PlanOptions, plan
from reconciliation.live import add_samples, begin_live, end_live
from reconciliation.store import ResultsStore
from tests.conftest import DEFAULT_SITE
from tests.dashboard.test_pages import _app, _open
from warehouse.camera import CameraSpec
from warehouse.site import load_site

SITE = load_site(DEFAULT_SITE)
MISSION = plan(SITE, CameraSpec(), PlanOptions(aisles=("A01",))).missions[0]
PLAN = pass_bins(MISSION.items)


def _sample(t, seq, *, link_age_s=0.1, battery=80.0):
    return LiveSample(t_s=t, x_m=2.0 + 0.1 * t, y_m=2.0, alt_m=1.3, yaw_deg=90.0, battery_pct=battery, voltage_v=11.8,
                      mode="AUTO", armed=True, fix_type=6, mission_seq=seq, link_age_s=link_age_s)


@pytest.fixture()
def live_env(demo, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    monkeypatch.setenv("RACKSCAN_DB", url)
    monkeypatch.setenv("RACKSCAN_USERS", str(demo["users"]))
    st.cache_data.clear()
    return ResultsStore(url)


def _flight(store, *, upto_pass: int, **kw):
    lid = begin_live(store, "night-7", site_name=SITE.spec.name, site_yaml=DEFAULT_SITE.read_text(), plan=PLAN,
                     n_items=len(MISSION.items) + 1)
    seq = PLAN[upto_pass][0] + 1 if upto_pass < len(PLAN) else PLAN[-1][0] + 1
    add_samples(store, lid, [_sample(t, 1 if t < 3 else seq) for t in range(6)] + [_sample(6, seq, **kw)])
    return lid


def test_no_flight_yet_says_how_to_fly_one(live_env):
    at = _open(_app("minh"), "live")
    assert at.title[0].value == "Live" and "--live-db" in at.info[0].value


def test_a_flight_half_flown(live_env):
    _flight(live_env, upto_pass=len(PLAN) // 2 - 1)
    at = _open(_app("minh"), "live")
    m = {x.label: x.value for x in at.metric}
    assert m["Status"] == "AUTO" and m["Link"] == "ok" and m["Battery"] == "80%"
    assert m["Passes"] == f"{len(PLAN) // 2} / {len(PLAN)}"
    done, total = (int(v) for v in m["Bins flown"].split(" / "))
    assert total == len({b for _, bs in PLAN for b in bs}) and 0 < done < total
    assert m["ETA"].endswith("min")
    chart = at.get("plotly_chart")[0].proto.spec
    assert '"faces flown"' in chart or '"faces flying"' in chart
    assert '"drone"' in chart and '"path"' in chart
    assert not at.error


def test_a_lost_link_is_shown_lost_not_frozen(live_env):
    _flight(live_env, upto_pass=2, link_age_s=8.0)
    at = _open(_app("minh"), "live")
    assert "Link lost: no word from the vehicle for" in at.error[0].value
    assert {x.label: x.value for x in at.metric}["Link"] == "lost"


def test_a_landed_flight_shows_every_bin_flown(live_env):
    lid = _flight(live_env, upto_pass=len(PLAN))
    end_live(live_env, lid, "complete")
    at = _open(_app("minh"), "live")
    m = {x.label: x.value for x in at.metric}
    total = len({b for _, bs in PLAN for b in bs})
    assert m["Status"] == "complete" and m["Bins flown"] == f"{total} / {total}" and m["ETA"] == "landed"


def test_bins_counted_while_flying_fill_in_their_faces(live_env):
    from reconciliation.live import write_live_bins

    lid = _flight(live_env, upto_pass=2)
    first = PLAN[0][1]
    write_live_bins(live_env, lid, [
        {"bin_id": first[0], "count": 4, "sku": "000401003", "confidence": 0.97, "erp_qty": 4, "kind": "match", "latency_s": 1.7},
        {"bin_id": first[1], "count": 3, "sku": "000401005", "confidence": 0.82, "erp_qty": 5, "kind": "short", "latency_s": 2.9}])
    at = _open(_app("minh"), "live")
    assert "Counted so far (provisional)" in [h.value for h in at.subheader]
    cap = " ".join(c.value for c in at.caption)
    assert "2 of" in cap and "1 disagreeing with the ERP" in cap and "each within 3 s of its last pass" in cap
    issues = at.dataframe[0].value
    assert issues[["bin_id", "kind", "erp_qty", "count"]].values.tolist() == [[first[1], "short", 5, 3]]
    faces = [c.proto.spec for c in at.get("plotly_chart")[1:]]
    assert faces and any('"short"' in f and '"match"' in f and '"to count"' in f for f in faces)


def test_the_offline_pass_replaces_the_provisional_counts(live_env, tmp_path):
    """After landing, once ``rackscan process`` has stored the flight from the same bundle, the
    page says how many provisional counts stood, outlines the changed bins and lists them."""
    import pandas as pd

    from reconciliation.live import offline_pass, write_live_bins

    lid = _flight(live_env, upto_pass=len(PLAN))
    first = PLAN[0][1]
    write_live_bins(live_env, lid, [
        {"bin_id": first[0], "count": 4, "sku": "000401003", "confidence": 0.97, "erp_qty": 4, "kind": "match", "latency_s": 1.7},
        {"bin_id": first[1], "count": 3, "sku": "000401005", "confidence": 0.82, "erp_qty": 5, "kind": "short", "latency_s": 2.9}])
    end_live(live_env, lid, "complete")
    assert offline_pass(live_env, lid) is None
    live_env.upsert_flight("other", site_id=None, bundle_path=str(tmp_path / "elsewhere" / "night-8"),
                           observations=pd.DataFrame({"bin_id": [first[0]], "sku": ["x"], "count": [9], "confidence": [1.0]}))
    assert offline_pass(live_env, lid) is None  # another bundle's flight is not this one's offline pass
    live_env.upsert_flight("night-7-offline", site_id=None, bundle_path=str(tmp_path / "runs" / "night-7"),
                           observations=pd.DataFrame({"bin_id": [first[0], first[1]], "sku": ["000401003", "000401005"],
                                                      "count": [4, 5], "confidence": [0.99, 0.95]}))
    off = offline_pass(live_env, lid)
    assert off.flight_key == "night-7-offline"
    assert off.bins.values.tolist() == [[first[0], 4, 4, False], [first[1], 3, 5, True]]
    at = _open(_app("minh"), "live")
    assert "Counted while flying, replaced by the offline pass" in [h.value for h in at.subheader]
    cap = " ".join(c.value for c in at.caption)
    assert "1 of 2 stood, 1 changed (outlined in red)" in cap
    assert at.dataframe[0].value.values.tolist() == [[first[1], 3, 5]]
    faces = [c.proto.spec for c in at.get("plotly_chart")[1:]]
    assert any("changed offline" in f and "#c62828" in f for f in faces)
    assert not at.error
