"""A campaign of the default site counted over three partial flights plus a recount flight gives the
same count and the same reconciliation as one flight over the same faces (real flights: recorded,
detected, fused)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world
from rackscan.cli import main
from reconciliation.campaign import load_campaign
from reconciliation.store import ResultsStore
from tests.conftest import REPO

FACES = {"night1": ["R01/back"], "night2": ["R02/front"], "night3": ["R03/back"], "recount": ["R02/front"],
         "full": ["R01/back", "R02/front", "R03/back"]}


@pytest.fixture(scope="module")
def flights(tmp_path_factory):
    from rackscan.process import process_bundle

    root = tmp_path_factory.mktemp("campaign")
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    world.erp.to_csv(root / "erp.csv", index=False)
    now = dt.datetime.now(dt.timezone.utc)
    flown: dict[tuple[str, ...], Path] = {}
    for i, (name, faces) in enumerate(FACES.items()):
        b = root / name
        again = flown.get(tuple(faces))
        if again:  # the same faces flown again: rendered alike, so detected and fused alike
            shutil.copytree(again, b)
        else:
            record_synthetic_flight(world, b, face_ids=faces, max_passes_per_face=2)
        meta = json.loads((b / "flight.json").read_text())  # each flight its own id and night, as real flights have
        meta.update(flight_id=name, started_utc=(now - dt.timedelta(days=5 - i)).isoformat())
        (b / "flight.json").write_text(json.dumps(meta))
        if again:
            obs = pd.read_parquet(b / "observations.parquet").assign(flight_id=name)
            obs.to_parquet(b / "observations.parquet", index=False)
        else:
            process_bundle(b, log=lambda s: None)
            flown[tuple(faces)] = b
    return root


def test_three_partial_flights_and_a_recount_count_as_one_full_flight(flights, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'dc.db'}"
    site = flights / "full" / "site.yaml"
    assert main(["campaign", "new", "default", "--site", str(site), "--db", db]) == 0
    assert main(["campaign", "add", "default", *(str(flights / n) for n in ("night1", "night2", "night3", "recount")),
                 "--db", db]) == 0
    assert main(["campaign", "status", "default", "--db", db]) == 0
    full = pd.read_parquet(flights / "full" / "observations.parquet")
    trusted = int((full.groupby("bin_id")["confidence"].min() >= 0.8).sum())  # two passes leave tall stacks to recount
    assert 0 < trusted <= full.bin_id.nunique() and f"{trusted} of 96 bins counted" in capsys.readouterr().out
    assert main(["campaign", "close", "default", "--erp", str(flights / "erp.csv"), "--out", str(tmp_path / "camp"),
                 "--db", db]) == 0
    assert main(["reconcile", "--flight", str(flights / "full"), "--erp", str(flights / "erp.csv"),
                 "--out", str(tmp_path / "full"), "--db", db]) == 0
    cols = ["bin_id", "sku", "count"]
    merged = load_campaign(ResultsStore(db), "default").merged().observations
    pd.testing.assert_frame_equal(merged[cols].sort_values(cols).reset_index(drop=True),
                                  full[cols].sort_values(cols).reset_index(drop=True), check_dtype=False)
    assert set(merged.flight_key) == {"night1", "recount", "night3"}  # the recount's word on R02/front won
    disc = {k: pd.read_csv(tmp_path / k / "discrepancies.csv", dtype=str).fillna("") for k in ("camp", "full")}
    key = ["bin_id", "sku", "kind", "paired_bin_id"]
    assert sorted(map(tuple, disc["camp"][key].values)) == sorted(map(tuple, disc["full"][key].values))
