"""Campaigns: each bin's latest trusted observation wins; progress; the store and the CLI verbs."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from flight.bundle import BundleWriter, FlightMeta
from rackscan.cli import main
from reconciliation.audit import KINDS
from reconciliation.campaign import FlightObservations, campaign_progress, load_campaign, merge_observations
from reconciliation.store import ResultsStore
from tests.conftest import DEFAULT_SITE
from tests.reconciliation.factories import erp_frame, observations, write_csv

DAY = dt.datetime(2026, 11, 1, 22, 0, tzinfo=dt.timezone.utc)
B1, B2, B3 = "A01-B01-L1-P1", "A01-B01-L1-P2", "A01-B03-L2-P1"


def fo(key: str, day: int, rows) -> FlightObservations:
    return FlightObservations(key, DAY + dt.timedelta(days=day), observations(rows), bundle_path=f"/flights/{key}")


@pytest.mark.parametrize("flights, winners", [
    # one flight: its word
    ([fo("n1", 0, [(B1, "s1", 4)])], {B1: ("n1", 4)}),
    # a later trusted flight wins over an earlier one
    ([fo("n1", 0, [(B1, "s1", 4)]), fo("n2", 1, [(B1, "s1", 3)])], {B1: ("n2", 3)}),
    # ... whatever order they were added in
    ([fo("n2", 1, [(B1, "s1", 3)]), fo("n1", 0, [(B1, "s1", 4)])], {B1: ("n2", 3)}),
    # a later doubtful flight does not overrule an earlier trusted one
    ([fo("n1", 0, [(B1, "s1", 4)]), fo("n2", 1, [(B1, "s1", 9, 0.5)])], {B1: ("n1", 4)}),
    # a recount flight, trusted, replaces a doubtful count
    ([fo("n1", 0, [(B1, "s1", 9, 0.5)]), fo("rc", 2, [(B1, "s1", 4)])], {B1: ("rc", 4)}),
    # nobody trusted: the latest word stands (and goes to recount)
    ([fo("n1", 0, [(B1, "s1", 9, 0.5)]), fo("n2", 1, [(B1, "s1", 7, 0.6)])], {B1: ("n2", 7)}),
    # an empty bin seen later wins over stock seen before (the stock left)
    ([fo("n1", 0, [(B1, "s1", 4)]), fo("n2", 1, [(B1, "", 0)])], {B1: ("n2", 0)}),
    # bins that only one flight saw keep that flight's word
    ([fo("n1", 0, [(B1, "s1", 4), (B2, "s2", 2)]), fo("n2", 1, [(B2, "s2", 5), (B3, "s3", 1)])],
     {B1: ("n1", 4), B2: ("n2", 5), B3: ("n2", 1)}),
    # a bin with two SKUs: one doubtful row makes the flight's word on the bin doubtful
    ([fo("n1", 0, [(B1, "s1", 2), (B1, "s2", 2)]), fo("n2", 1, [(B1, "s1", 2), (B1, "s2", 5, 0.4)])],
     {B1: ("n1", 4)}),
])
def test_latest_trusted_observation_wins(flights, winners):
    m = merge_observations(flights, min_confidence=0.8)
    got = m.observations.groupby("bin_id").agg(flight=("flight_key", "first"), count=("count", "sum"))
    assert {b: (r.flight, int(r["count"])) for b, r in got.iterrows()} == winners
    assert len(m.history) == sum(len(f.observations) for f in flights)  # every word kept
    assert set(m.history.loc[m.history["won"], "flight_key"] + m.history.loc[m.history["won"], "bin_id"]) == \
        {k + b for b, (k, _) in winners.items()}


def test_evidence_paths_point_into_each_flights_bundle():
    m = merge_observations([fo("n1", 0, [(B1, "s1", 4)])])
    assert m.observations["evidence_path"].tolist() == [f"/flights/n1/evidence/{B1}.jpg"]


def test_progress_counts_counted_stale_recount_and_left():
    site_bins = {B1: "A01", B2: "A01", B3: "A01", "A02-B01-L1-P1": "A02"}
    flights = [fo("old", 0, [(B1, "s1", 4)]), fo("new", 20, [(B2, "s2", 2), (B3, "s3", 1, 0.3)])]
    p = campaign_progress(site_bins, flights, now=DAY + dt.timedelta(days=21), stale_after_days=14)
    assert (p.counted, p.stale, p.recount, p.left, p.bins_on_site) == (1, 1, 1, 1, 4)
    assert p.by_aisle.set_index("aisle").loc["A02"].to_dict() == {"bins": 1, "counted": 0, "stale": 0, "recount": 0, "left": 1}
    assert p.over_time[["flight_key", "new_trusted", "trusted_total"]].values.tolist() == [["old", 1, 1], ["new", 1, 2]]


def ago(days: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()


def _bundle(path, rows, started: str):
    with BundleWriter(path, FlightMeta(flight_id=path.name, started_utc=started), site_yaml_text=DEFAULT_SITE.read_text()):
        pass
    observations(rows).to_parquet(path / "observations.parquet", index=False)
    return path


def test_campaign_cli_new_add_status_close(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'dc.db'}"
    n1 = _bundle(tmp_path / "night1", [(B1, "000401001", 4), (B2, "000401002", 6, 0.4)], ago(3))
    n2 = _bundle(tmp_path / "night2", [(B3, "", 0), ("A01-B05-L1-P1", "000401003", 2)], ago(2))
    rc = _bundle(tmp_path / "recount", [(B2, "000401002", 6)], ago(1))
    erp = write_csv(tmp_path / "erp.csv", erp_frame())
    assert main(["campaign", "new", "DC1 Q4", "--site", str(DEFAULT_SITE), "--db", db, "--by", "ana"]) == 0
    assert main(["campaign", "add", "DC1 Q4", str(n1), str(n2), "--db", db]) == 0
    assert main(["campaign", "status", "DC1 Q4", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "3 of 96 bins counted" in out and "1 to recount" in out and "92 left" in out
    assert main(["campaign", "add", "DC1 Q4", str(rc), "--db", db]) == 0
    assert main(["campaign", "close", "DC1 Q4", "--erp", str(erp), "--out", str(tmp_path / "rep"), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "campaign DC1 Q4" in out
    csv = pd.read_csv(tmp_path / "rep/discrepancies.csv", dtype=str)
    assert sorted(zip(csv.bin_id, csv.kind)) == [(B3, "misplaced")]  # B2 recounted: a match; B3's stock is in B05
    store = ResultsStore(db)
    camp = load_campaign(store, "DC1 Q4")
    assert camp.closed_at is not None and [f.flight_key for f in camp.flights] == ["night1", "night2", "recount"]
    assert store.reconciliation_flight(camp.reconciliation_id)["flight_key"] == "campaign:DC1 Q4"
    assert store.reconciliation_summary(camp.reconciliation_id)["bins_scanned"] == 4
    events = [e for e in ResultsStore(db).engine.connect().exec_driver_sql(
        "select payload from audit_records where kind = 'campaign'")]
    assert len(events) == 5 and "campaign" in KINDS  # new, add x3, close
    assert main(["campaign", "status", "--db", db]) == 0
    assert "DC1 Q4" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["campaign", "status", "nope"], "campaign 'nope': not in the store"),
    (["campaign", "add", "c", "no-such-flight"], "no-such-flight: neither a flight bundle folder nor a flight in the store"),
    (["campaign", "add", "c", "{other}"], "is not on campaign 'c''s site"),
    (["campaign", "add", "c", "{n1}", "{n1}"], "flight 'n1': in campaign 'c' already"),
    (["campaign", "add", "c", "{n1}", "{n1copy}"], "flight_id 'n1' is already in the store from"),
    (["campaign", "new", "c", "--site", "{site}"], "campaign 'c': exists already"),
    (["campaign", "new", "d", "--site", "{site}", "--min-confidence", "1.5"], "expected 0 < min_confidence <= 1"),
])
def test_campaign_errors_are_one_line(tmp_path, capsys, args, message):
    db = f"sqlite:///{tmp_path / 'dc.db'}"
    assert main(["campaign", "new", "c", "--site", str(DEFAULT_SITE), "--db", db]) == 0
    n1 = _bundle(tmp_path / "n1", [(B1, "000401001", 4)], ago(3))
    other = _bundle(tmp_path / "other", [("Z99-B01-L1-P1", "000401001", 4)], ago(3))
    shutil.copytree(n1, tmp_path / "n1copy")  # the same flight id in another folder
    capsys.readouterr()
    fill = {"{n1}": str(n1), "{n1copy}": str(tmp_path / "n1copy"), "{other}": str(other), "{site}": str(DEFAULT_SITE)}
    assert main([fill.get(a, a) for a in args] + ["--db", db]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_closed_campaign_takes_no_more_flights(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'dc.db'}"
    n1 = _bundle(tmp_path / "n1", [(B1, "000401001", 4)], ago(3))
    n2 = _bundle(tmp_path / "n2", [(B2, "000401002", 6)], ago(2))
    erp = write_csv(tmp_path / "erp.csv", erp_frame())
    main(["campaign", "new", "c", "--site", str(DEFAULT_SITE), "--db", db])
    main(["campaign", "add", "c", str(n1), "--db", db])
    assert main(["campaign", "close", "c", "--erp", str(erp), "--out", str(tmp_path / "rep"), "--db", db]) == 0
    capsys.readouterr()
    assert main(["campaign", "add", "c", str(n2), "--db", db]) == 1
    assert "campaign 'c': closed on" in capsys.readouterr().err


def test_a_campaign_names_goods_unread_by_the_erp_where_their_size_fits_unless_told_not_to(tmp_path, capsys):
    """A night whose bin B2 held six tires no label of which was read, their size fitting the ERP's SKU
    there: closed with the defaults, a match on the ERP's word (as ``rackscan reconcile`` judges a
    flight); with ``--erp-sku-confidence 0``, a recount."""
    n1 = _bundle(tmp_path / "night1", [(B1, "000401001", 4), (B2, "", 6, 0.1), (B3, "000401003", 2)], ago(1))
    obs = pd.read_parquet(n1 / "observations.parquet")
    obs.assign(count_confidence=[0.98, 0.97, 0.98], size_fits=["", "000401009;000401002", ""]).to_parquet(
        n1 / "observations.parquet", index=False)
    erp = write_csv(tmp_path / "erp.csv", erp_frame())
    got = {}
    for name, extra in (("default", []), ("off", ["--erp-sku-confidence", "0"])):
        db = f"sqlite:///{tmp_path / name}.db"
        assert main(["campaign", "new", name, "--site", str(DEFAULT_SITE), "--db", db]) == 0
        assert main(["campaign", "add", name, str(n1), "--db", db]) == 0
        assert main(["campaign", "close", name, "--erp", str(erp), "--out", str(tmp_path / name), "--db", db, *extra]) == 0
        csv = pd.read_csv(tmp_path / name / "discrepancies.csv", dtype=str, encoding="utf-8-sig")
        got[name] = sorted(zip(csv.bin_id, csv.kind))
        store = ResultsStore(db)
        params = store.reconciliation_summary(load_campaign(store, name).reconciliation_id)["params"]
        assert params["erp_sku_confidence"] == (0.0 if extra else 0.85)
    assert got == {"default": [], "off": [(B2, "needs_recount")]}
