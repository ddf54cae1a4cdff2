"""The results store on SQLite and on a real PostgreSQL server: idempotent re-runs, reviews."""

import pandas as pd
import pytest
from sqlalchemy import inspect

from reconciliation.diff import reconcile
from reconciliation.erp import ErpSnapshot
from reconciliation.errors import ReconciliationError
from reconciliation.store import ResultsStore


def _erp():
    rows = pd.DataFrame({"bin_id": ["A01-B01-L1-P1", "A01-B01-L1-P2", "A01-B03-L1-P1"], "sku": ["000401001", "000401002", "000401003"],
                         "qty": [4, 6, 2], "description": ["Lốp", "", ""], "lot": ["", "", ""], "unit_price": [95.0, None, None]})
    return ErpSnapshot("erp.csv", "abc123", rows)


def _obs():
    return pd.DataFrame({"bin_id": ["A01-B01-L1-P1", "A01-B01-L1-P2", "A01-B03-L1-P1"], "sku": ["000401001", "000401002", ""],
                         "count": [4, 5, 0], "confidence": [0.99, 0.97, 0.95], "n_views": [5, 6, 4],
                         "evidence_path": ["evidence/a.jpg", "evidence/b.jpg", "evidence/c.jpg"], "reason": ["", "", ""]})


def _exercise(store: ResultsStore):
    site_id = store.upsert_site("demo", "name: demo\n")
    assert store.upsert_site("demo", "name: demo\n") == site_id
    fid = store.upsert_flight("flight-1", site_id=site_id, bundle_path="/tmp/b", observations=_obs())
    sid = store.import_erp_snapshot(_erp())
    assert store.import_erp_snapshot(_erp()) == sid
    result = reconcile(_erp().rows, _obs())
    rid = store.save_reconciliation(fid, sid, result, {"min_confidence": 0.8})
    d = store.list_discrepancies(rid)
    assert sorted(d.kind) == ["ghost", "short"]
    assert store.list_discrepancies(rid, include_matches=True).shape[0] == 3
    short_id = int(d.loc[d.kind == "short", "id"].iloc[0])
    assert store.record_review([short_id], "accepted", "lan", "controller", "counted again by hand") == 1
    # re-running the same reconciliation replaces it and keeps the review
    rid2 = store.save_reconciliation(fid, sid, result, {"min_confidence": 0.8})
    assert rid2 == rid
    d2 = store.list_discrepancies(rid)
    assert len(d2) == 2 and d2.set_index("kind").loc["short", "status"] == "accepted"
    reviews = store.list_reviews(rid)
    assert reviews[["user", "role", "action", "comment"]].iloc[0].tolist() == ["lan", "controller", "accepted", "counted again by hand"]
    summ = store.reconciliation_summary(rid)
    assert summ["flight_key"] == "flight-1" and summ["by_kind"]["ghost"] == 1
    detail = store.bin_detail(rid, "A01-B01-L1-P2")
    assert detail["erp"][0]["qty"] == 6 and detail["observations"][0]["count"] == 5
    assert store.latest_reconciliation(fid) == rid
    assert store.list_flights()["flight_key"].tolist() == ["flight-1"]
    assert len(store.trend()) == 1
    with pytest.raises(ReconciliationError, match="role operator"):
        store.record_review([short_id], "accepted", "op", "operator")
    with pytest.raises(ReconciliationError, match="adjusted quantity"):
        store.record_review([short_id], "adjusted", "lan", "controller")
    assert store.list_discrepancies(rid, statuses=["accepted"]).shape[0] == 1
    tables = set(inspect(store.engine).get_table_names())
    assert {"sites", "flights", "observations", "erp_snapshots", "erp_rows", "reconciliations", "discrepancies",
            "review_actions", "alembic_version"} <= tables


def test_sqlite_store(tmp_path):
    _exercise(ResultsStore(f"sqlite:///{tmp_path / 'results.db'}"))
    # reopening runs the migrations again without harm
    store = ResultsStore(str(tmp_path / "results.db"))
    assert len(store.list_flights()) == 1


@pytest.mark.postgres
def test_postgresql_store(postgres_url):
    _exercise(ResultsStore(postgres_url))


def _open_at_once(url: str, n: int = 4) -> list:
    """``n`` processes opening the store together (a flight, its live counter and viewers)."""
    import subprocess  # nosec B404: our own interpreter, fixed argv
    import sys

    code = "import sys; from reconciliation.store import ResultsStore; ResultsStore(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # nosec B603
                              text=True) for _ in range(n)]
    return [(p.wait(timeout=120), p.stderr.read()) for p in procs]


def test_processes_opening_a_new_sqlite_store_together_all_get_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    for _ in range(3):  # a race: a few rounds, each on a new store
        (tmp_path / "results.db").unlink(missing_ok=True)
        results = _open_at_once(url)
        assert [rc for rc, _ in results] == [0] * 4, [err for _, err in results]
        assert len(ResultsStore(url).list_flights()) == 0


@pytest.mark.postgres
def test_processes_opening_a_postgresql_store_together_all_get_it(postgres_url):
    results = _open_at_once(postgres_url)
    assert [rc for rc, _ in results] == [0] * 4, [err for _, err in results]


def test_unreachable_database_is_one_line():
    with pytest.raises(ReconciliationError, match=r"--db postgresql\+psycopg://x@127.0.0.1:1/none: cannot open the results store"):
        ResultsStore("postgresql+psycopg://x@127.0.0.1:1/none")


LOOKUP_INDICES = {"ix_observations_flight_bin", "ix_erp_rows_snapshot_bin", "ix_discrepancies_rec_bin",
                  "ix_discrepancies_rec_aisle_kind"}


def _index_names(engine) -> set[str]:
    ins = inspect(engine)
    return {ix["name"] for t in ("observations", "erp_rows", "discrepancies") for ix in ins.get_indexes(t)}


def test_a_store_from_before_the_lookup_indices_gets_them_and_sqlite_uses_them(tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = ResultsStore(url)
    assert LOOKUP_INDICES <= _index_names(store.engine)
    with store.engine.begin() as c:  # the store as revision 0005 left it
        for name in LOOKUP_INDICES:
            c.execute(text(f"DROP INDEX {name}"))
        c.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    assert not LOOKUP_INDICES & _index_names(store.engine)
    store = ResultsStore(url)  # opening upgrades it
    assert LOOKUP_INDICES <= _index_names(store.engine)
    with store.engine.connect() as c:
        plan = " ".join(str(r[-1]) for r in c.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM discrepancies WHERE reconciliation_id = 1 AND aisle = 'A01' AND kind != 'match'")))
        assert "ix_discrepancies_rec_aisle_kind" in plan
        plan = " ".join(str(r[-1]) for r in c.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM observations WHERE flight_id = 1 AND bin_id = 'A01-B01-L1-P1'")))
        assert "ix_observations_flight_bin" in plan


def _upgraded_from(url: str, revision: str, table: str, *columns: str) -> ResultsStore:
    """The store at ``url`` put back as ``revision`` left it (``columns`` of ``table`` dropped), then
    opened again, which upgrades it: the columns are back."""
    from sqlalchemy import text

    with ResultsStore(url).engine.begin() as c:
        for column in columns:
            c.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        c.execute(text(f"UPDATE alembic_version SET version_num = '{revision}'"))
        assert not set(columns) & {x["name"] for x in inspect(c).get_columns(table)}
    store = ResultsStore(url)  # opening upgrades it
    assert set(columns) <= {x["name"] for x in inspect(store.engine).get_columns(table)}
    return store


def _campaign_of(store: ResultsStore, old: pd.DataFrame, new: pd.DataFrame):
    """A campaign over the default site of two flights, ``old`` (2026-12-01) and ``new`` (a day later):
    (the campaign as loaded, the new flight's id)."""
    from reconciliation.campaign import add_flight, create_campaign, load_campaign
    from tests.conftest import DEFAULT_SITE

    create_campaign(store, "c", DEFAULT_SITE)
    site_id = load_campaign(store, "c").site_id
    store.upsert_flight("old", site_id=site_id, bundle_path="", started_utc="2026-12-01T00:00:00+00:00", observations=old)
    fid = store.upsert_flight("new", site_id=site_id, bundle_path="", started_utc="2026-12-02T00:00:00+00:00", observations=new)
    for key in ("old", "new"):
        add_flight(store, "c", key)
    return load_campaign(store, "c"), fid


def test_a_store_from_before_frames_fused_gets_the_column_and_keeps_its_live_bins(tmp_path):
    from reconciliation.live import begin_live, live_bins, write_live_bins

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = ResultsStore(url)
    lid = begin_live(store, "f", site_name="s", site_yaml="", plan=[(5, ["A01-B01-L1-P1"])], n_items=9)
    write_live_bins(store, lid, [{"bin_id": "A01-B01-L1-P1", "count": 3, "sku": "X", "confidence": 0.95, "erp_qty": 3,
                                  "kind": "match", "latency_s": 1.5}])
    store = _upgraded_from(url, "0007", "live_bins", "frames_fused")
    rows = live_bins(store, lid)
    assert rows[["bin_id", "count"]].values.tolist() == [["A01-B01-L1-P1", 3]] and rows.frames_fused.isna().all()


def test_a_store_from_before_count_confidence_gets_the_column_and_a_campaign_reads_it(tmp_path):
    store = _upgraded_from(f"sqlite:///{tmp_path / 'old.db'}", "0008", "observations", "count_confidence")
    old = _obs()  # stored before fusion gave a count its own confidence
    new = _obs().assign(sku=["000401001", "000401002", ""], count=[4, 5, 2], count_confidence=[0.99, 0.97, 0.93])
    camp, fid = _campaign_of(store, old, new)
    assert store.flight_observations(fid)["count_confidence"].tolist() == [0.99, 0.97, 0.93]
    flights = {f.flight_key: f.observations.set_index("bin_id") for f in camp.flights}
    assert flights["old"]["count_confidence"].isna().all()  # NULL: the bin's confidence serves
    merged = camp.merged().observations.set_index("bin_id")
    assert merged.loc["A01-B03-L1-P1", "count_confidence"] == 0.93


def test_a_store_from_before_n_serials_gets_the_column_and_a_campaign_reconciles_on_it(tmp_path):
    store = _upgraded_from(f"sqlite:///{tmp_path / 'old.db'}", "0009", "observations", "n_serials")
    old = _obs().assign(confidence=[0.99, 0.5, 0.95])  # stored before fusion counted the labels read
    # A01-B01-L1-P2 sent to recount in both flights (the later wins): 7 of its labels read against the ERP's 6, over
    new = _obs().assign(confidence=[0.99, 0.6, 0.95], count=[4, 7, 0], n_serials=[4, 7, 0])
    camp, fid = _campaign_of(store, old, new)
    assert store.flight_observations(fid)["n_serials"].tolist() == [4, 7, 0]
    flights = {f.flight_key: f.observations.set_index("bin_id") for f in camp.flights}
    assert flights["old"]["n_serials"].isna().all()  # NULL: no labels counted, nothing proven
    merged = camp.merged().observations.set_index("bin_id")
    assert merged.loc["A01-B01-L1-P2", "n_serials"] == 7
    d = reconcile(_erp().rows, merged.reset_index()).discrepancies.set_index("bin_id")
    assert d.loc["A01-B01-L1-P2", "kind"] == "over" and "labels_over_erp" in d.loc["A01-B01-L1-P2", "reason"]


def test_a_store_from_before_count_ranges_gets_the_columns_and_a_campaign_reconciles_on_them(tmp_path):
    store = _upgraded_from(f"sqlite:///{tmp_path / 'old.db'}", "0010", "observations", "count_lo", "count_hi")
    old = _obs().assign(confidence=[0.99, 0.5, 0.95])  # stored before fusion gave a count its range
    # A01-B01-L1-P2 sent to recount in both flights (the later wins): 4 counted, an odd tire maybe none, so
    # 3 or 4 against the ERP's 6: short. A01-B01-L1-P1 has no upper bound (its labels are a floor)
    new = _obs().assign(confidence=[0.99, 0.75, 0.95], count=[4, 4, 0], count_lo=[4, 3, 0], count_hi=[None, 4, 0])
    camp, fid = _campaign_of(store, old, new)
    stored = store.flight_observations(fid)
    assert stored["count_lo"].tolist() == [4, 3, 0] and stored["count_hi"].isna().tolist() == [True, False, False]
    flights = {f.flight_key: f.observations.set_index("bin_id") for f in camp.flights}
    assert flights["old"][["count_lo", "count_hi"]].isna().all().all()  # NULL: any count, nothing bounded
    merged = camp.merged().observations.set_index("bin_id")
    assert (merged.loc["A01-B01-L1-P2", "count_lo"], merged.loc["A01-B01-L1-P2", "count_hi"]) == (3, 4)
    d = reconcile(_erp().rows, merged.reset_index()).discrepancies.set_index("bin_id")
    assert d.loc["A01-B01-L1-P2", "kind"] == "short" and "range_off_erp" in d.loc["A01-B01-L1-P2", "reason"]


def test_a_store_from_before_size_fits_gets_the_column_and_a_campaign_names_goods_by_the_erp(tmp_path):
    store = _upgraded_from(f"sqlite:///{tmp_path / 'old.db'}", "0011", "observations", "size_fits")
    old = _obs().assign(confidence=[0.99, 0.5, 0.5])  # stored before fusion kept the sizes goods unread fit
    # the later flight's word stands (neither trusted): no label read in either bin: A01-B03-L1-P1's size fits the ERP's SKU there (and another), A01-B01-L1-P2's
    # another SKU only
    new = _obs().assign(sku=["000401001", "", ""], count=[4, 6, 2], confidence=[0.99, 0.1, 0.1],
                        count_confidence=[0.99, 0.97, 0.93], reason=["", "no_label_read", "no_label_read"],
                        size_fits=["", "000401009", "000401001;000401003"])
    camp, fid = _campaign_of(store, old, new)
    assert store.flight_observations(fid)["size_fits"].tolist() == ["", "000401009", "000401001;000401003"]
    flights = {f.flight_key: f.observations.set_index("bin_id") for f in camp.flights}
    assert flights["old"]["size_fits"].isna().all()  # NULL: no size known
    merged = camp.merged().observations
    assert merged.set_index("bin_id")["size_fits"].to_dict() == {"A01-B01-L1-P1": "", "A01-B01-L1-P2": "000401009",
                                                                 "A01-B03-L1-P1": "000401001;000401003"}
    r = reconcile(_erp().rows, merged)
    judged = r.observations.set_index("bin_id")
    assert (judged.loc["A01-B03-L1-P1", "sku"], judged.loc["A01-B03-L1-P1", "confidence"]) == ("000401003", 0.85)
    assert "size_off_erp" in judged.loc["A01-B01-L1-P2", "reason"] and not judged.loc["A01-B01-L1-P2", "sku"]
    d = r.discrepancies.set_index("bin_id")
    assert d.loc["A01-B03-L1-P1", "kind"] == "match"  # 2 of the ERP's 2, on its word
    assert d.loc["A01-B01-L1-P2", "kind"] == "needs_recount"
