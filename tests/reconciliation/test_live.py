"""Live flights in the store: written in batches, read by any viewer, and where a flight stands
(passes and bins flown, the link, the ETA) from its plan and samples."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from reconciliation.errors import ReconciliationError
from reconciliation.live import (LINK_LOST_S, StoreLiveSink, add_samples, begin_live, end_live, live_flight, live_flights,
                                 live_progress, live_samples)
from reconciliation.store import ResultsStore

PLAN = [(5, ["a", "b"]), (9, ["b", "c"]), (13, ["d"])]  # bin b is seen by two passes: done after the second
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)


def _samples(seqs, *, link_age_s=0.1, written_s_ago=0.5):
    at = NOW - dt.timedelta(seconds=written_s_ago)
    return pd.DataFrame({"t_s": [float(i) for i in range(len(seqs))], "mission_seq": seqs,
                         "link_age_s": [0.1] * (len(seqs) - 1) + [link_age_s], "at": [at] * len(seqs)})


@pytest.mark.parametrize("seqs, ended, status, passes, bins, link", [
    ([1, 2], False, "flying", 0, 0, "ok"),  # taking off
    ([1, 6], False, "flying", 1, 1, "ok"),  # a done; b waits for its second pass
    ([1, 6, 10], False, "flying", 2, 3, "ok"),
    ([1, 6, 10, 14], True, "complete", 3, 4, "ok"),
    ([1, 6, 10], True, "rtl_battery", 2, 3, "ok"),  # ended early: only what was flown
])
def test_progress_table(seqs, ended, status, passes, bins, link):
    fl = {"plan": PLAN, "n_items": 16, "ended_at": NOW if ended else None, "status": status}
    p = live_progress(fl, _samples(seqs), now=NOW)
    assert (p.passes_done, p.bins_done, p.bins_total, p.link) == (passes, bins, 4, link)


@pytest.mark.parametrize("link_age_s, written_s_ago, ended, link", [
    (0.2, 0.5, False, "ok"),
    (LINK_LOST_S + 5, 0.5, False, "lost"),  # the ground station writes on, the vehicle is silent
    (0.2, LINK_LOST_S + 5, False, "no word"),  # nothing written for a while: not a drone hovering still
    (0.2, 600.0, True, "ok"),  # a flight that ended long ago is not silent
])
def test_a_silent_vehicle_or_writer_shows(link_age_s, written_s_ago, ended, link):
    fl = {"plan": PLAN, "n_items": 16, "ended_at": NOW if ended else None, "status": "complete" if ended else "flying"}
    p = live_progress(fl, _samples([1, 6], link_age_s=link_age_s, written_s_ago=written_s_ago), now=NOW)
    assert p.link == link and (p.silent_s > LINK_LOST_S) == (link != "ok")


def test_eta_at_the_pace_so_far():
    fl = {"plan": PLAN, "n_items": 16, "ended_at": None, "status": "flying"}
    s = pd.DataFrame({"t_s": [0.0, 10.0, 30.0], "mission_seq": [1, 5, 6], "link_age_s": [0.1] * 3, "at": [NOW] * 3})
    assert live_progress(fl, s, now=NOW).eta_s == pytest.approx(20.0 * 2)  # one pass in 20 s, two to go


def _exercise(url):
    sink = StoreLiveSink(url)
    sink.begin(flight_key="night-1", site_name="s", site_yaml="name: s\n", plan=PLAN, n_items=16)
    row = {"t_s": 0.5, "x_m": 1.0, "y_m": 2.0, "alt_m": 1.2, "yaw_deg": 90.0, "battery_pct": 77.0, "voltage_v": 11.7,
           "mode": "AUTO", "armed": True, "fix_type": 6, "mission_seq": 6, "link_age_s": 0.1}
    sink.add([row, {**row, "t_s": 1.0, "mission_seq": 10}])
    store = ResultsStore(url)  # a viewer's own connection
    flights = live_flights(store)
    assert flights[["flight_key", "status", "samples"]].values.tolist() == [["night-1", "flying", 2]]
    lid = int(flights.id.iloc[0])
    sm = live_samples(store, lid)
    assert sm.mission_seq.tolist() == [6, 10] and sm.armed.tolist() == [1, 1]
    assert live_samples(store, lid, after_id=int(sm.id.iloc[0])).t_s.tolist() == [1.0]
    fl = live_flight(store, lid)
    assert fl["plan"] == [[5, ["a", "b"]], [9, ["b", "c"]], [13, ["d"]]] and fl["site_yaml"] == "name: s\n"
    sink.end("complete")
    assert live_flight(store, lid)["status"] == "complete"
    with pytest.raises(ReconciliationError, match="no live flight with id 999"):
        live_flight(store, 999)


def test_sqlite_live_flight(tmp_path):
    _exercise(f"sqlite:///{tmp_path / 'r.db'}")


@pytest.mark.postgres
def test_postgresql_live_flight(postgres_url):
    _exercise(postgres_url)


def test_many_viewers_see_the_same_flight(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = ResultsStore(url)
    lid = begin_live(store, "k", site_name="s", site_yaml="", plan=PLAN, n_items=16)
    add_samples(store, lid, [{"t_s": 0.0, "x_m": None, "y_m": None, "alt_m": 0.0, "yaw_deg": 0.0, "battery_pct": -1.0,
                              "voltage_v": -1.0, "mode": "STABILIZE", "armed": False, "fix_type": 3, "mission_seq": 0,
                              "link_age_s": 0.0}])
    end_live(store, lid, "failed")
    views = [live_samples(ResultsStore(url), lid) for _ in range(3)]
    assert all(v.equals(views[0]) for v in views) and views[0].x_m.isna().all()
