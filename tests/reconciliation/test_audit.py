"""The audit chain: every count, reconciliation and review appended with the previous record's hash;
an edit made with SQL behind the store's back is named by ``rackscan audit verify`` (SQLite and
PostgreSQL), and the auditor's export carries the head hash."""

import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from operations.audit import count_history, verify
from operations.errors import OperationsError
from rackscan.cli import main
from reconciliation.diff import reconcile
from reconciliation.store import ResultsStore
from tests.reconciliation.test_store import _erp, _obs


def _fill(store: ResultsStore) -> int:
    site_id = store.upsert_site("demo", "name: demo\n")
    fid = store.upsert_flight("flight-1", site_id=site_id, bundle_path="/tmp/b", observations=_obs(), actor="op1")
    obs2 = _obs().assign(count=[4, 6, 0])
    store.upsert_flight("flight-2", site_id=site_id, bundle_path="/tmp/c", observations=obs2)
    sid = store.import_erp_snapshot(_erp())
    rid = store.save_reconciliation(fid, sid, reconcile(_erp().rows, _obs()), {"min_confidence": 0.8})
    d = store.list_discrepancies(rid)
    store.record_review([int(d.id.iloc[0])], "accepted", "lan", "controller", "seen")
    store.record_access("sign_in", user="lan", client="127.0.0.1")
    return rid


def _chain_and_edits(store: ResultsStore, disable: str, enable: str) -> None:
    _fill(store)
    rep = verify(store)
    assert rep.n_records >= 6 and rep.n_flights_checked == 2 and rep.n_reviews_checked == 1
    hist = count_history(store, "A01-B01-L1-P2")
    assert hist["count"].tolist() == [5, 6] and hist["flight_key"].tolist() == ["flight-1", "flight-2"]

    # the chain's own rows refuse UPDATE and DELETE
    for stmt in ("UPDATE audit_records SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_records WHERE seq = 2",
                 "UPDATE review_actions SET comment = 'x'"):
        with pytest.raises(Exception, match="append-only"):
            with store.engine.begin() as c:
                c.execute(text(stmt))

    # a count edited with SQL: named by flight, bin and the record that vouches for it
    with store.engine.begin() as c:
        c.execute(text("UPDATE observations SET count = 9 WHERE bin_id = 'A01-B01-L1-P2' AND flight_id = "
                       "(SELECT id FROM flights WHERE flight_key = 'flight-2')"))
    with pytest.raises(OperationsError, match=r"observations of flight 'flight-2': bin A01-B01-L1-P2 sku '000401002': "
                                              r"count 9 .*recorded 6.*audit record seq \d+ \(counts flight-2\)"):
        verify(store)
    with store.engine.begin() as c:
        c.execute(text("UPDATE observations SET count = 6 WHERE bin_id = 'A01-B01-L1-P2' AND flight_id = "
                       "(SELECT id FROM flights WHERE flight_key = 'flight-2')"))
    verify(store)

    # a discrepancy edited
    with store.engine.begin() as c:
        c.execute(text("UPDATE discrepancies SET erp_qty = erp_qty + 1 WHERE kind = 'short'"))
    with pytest.raises(OperationsError, match=r"discrepancies of reconciliation \d+: .*\(reconciliation flight-1\|"):
        verify(store)
    with store.engine.begin() as c:
        c.execute(text("UPDATE discrepancies SET erp_qty = erp_qty - 1 WHERE kind = 'short'"))
    verify(store)

    # an audit record edited by someone who switched the trigger off: that record is named
    with store.engine.begin() as c:
        c.execute(text(disable))
        c.execute(text("UPDATE audit_records SET actor = 'someone else' WHERE kind = 'counts' AND subject = 'flight-1'"))
        seq = c.execute(text("SELECT seq FROM audit_records WHERE kind = 'counts' AND subject = 'flight-1'")).scalar()
        c.execute(text(enable))
    with pytest.raises(OperationsError, match=rf"^audit record seq {seq} \(counts flight-1\): hash: does not match"):
        verify(store)


def test_sqlite_chain_names_the_edited_record(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'results.db'}"
    store = ResultsStore(db)
    _fill(store)
    assert main(["audit", "verify", "--db", db]) == 0
    assert "audit chain ok" in capsys.readouterr().out
    assert main(["audit", "export", "--db", db, "--out", str(tmp_path / "audit.xlsx")]) == 0
    out = capsys.readouterr().out
    head = verify(store).head_hash
    assert head in out
    wb = load_workbook(tmp_path / "audit.xlsx")
    assert wb.sheetnames == ["Head", "Chain", "Counts", "Discrepancies", "Reviews"]
    assert [r[1].value for r in wb["Head"].iter_rows() if r[0].value == "head_hash"] == [head]
    assert main(["audit", "history", "A01-B01-L1-P1", "--db", db]) == 0
    with store.engine.begin() as c:
        c.execute(text("UPDATE observations SET count = 1 WHERE bin_id = 'A01-B01-L1-P1'"))
    assert main(["audit", "verify", "--db", db]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: observations of flight 'flight-1': bin A01-B01-L1-P1") and err.count("\n") == 1
    assert main(["audit", "export", "--db", db, "--out", str(tmp_path / "audit2.xlsx")]) == 1
    assert not (tmp_path / "audit2.xlsx").exists()


def test_sqlite_edits(tmp_path):
    _chain_and_edits(ResultsStore(f"sqlite:///{tmp_path / 'results.db'}"),
                     "DROP TRIGGER audit_records_no_update",
                     "CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records "
                     "BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END")


@pytest.mark.postgres
def test_postgresql_edits(postgres_url):
    name = f"audit_{uuid.uuid4().hex[:8]}"  # a database of its own: the session's server is shared
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    store = ResultsStore(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    _chain_and_edits(store, "ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only",
                     "ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only")
    store.engine.dispose()


def test_a_store_from_before_the_chain_upgrades_and_vouches_from_then_on(tmp_path):
    import datetime as dt

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import insert

    from reconciliation import schema as S
    from reconciliation.store import migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrate.__code__.co_filename).parent / "migrations"))
    with engine.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0003")
        now = dt.datetime.now(dt.timezone.utc)
        fid = c.execute(insert(S.flights).values(flight_key="old-flight", bundle_path="", started_utc="", n_frames=0,
                                                 imported_at=now)).inserted_primary_key[0]
        c.execute(insert(S.observations).values(flight_id=fid, bin_id="A01-B01-L1-P1", sku="1", count=3, confidence=0.9))
        heads = c.execute(text("SELECT count(*) FROM audit_head")).scalar()  # 0001 creates today's tables, empty
    engine.dispose()
    assert heads == 0
    store = ResultsStore(url)  # migrates to 0004: the chain starts, naming what was there before
    rep = verify(store)
    first = __import__("operations.audit", fromlist=["entries"]).entries(store)[0]
    assert rep.n_records == 1 and first.kind == "chain_started" and first.data()["flights_before"] == ["old-flight"]
    with store.engine.begin() as c:  # rows from before the chain are not vouched for
        c.execute(text("UPDATE observations SET count = 4"))
    verify(store)
    # from now on they are: the flight stored again is on the chain
    store.upsert_flight("old-flight", site_id=None, observations=_obs())
    with store.engine.begin() as c:
        c.execute(text("UPDATE observations SET count = 7 WHERE bin_id = 'A01-B01-L1-P1'"))
    with pytest.raises(OperationsError, match="observations of flight 'old-flight'"):
        verify(store)
