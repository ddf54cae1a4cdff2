"""A recorded world's flight is kept exactly while what its frames are made of is unchanged
(``rackscan.worlds.flight_key``): the ERP's side of the world keeps it; a moved tire, another face
or another light do not; the code hashed leaves out only the modules whose results are hashed."""

from dataclasses import replace

import pandas as pd
import pytest

from datasets.family import load_family, world_scenario
from datasets.scenario import Scenario
from datasets.world import build_world
from rackscan.stages import code_digest
from rackscan.worlds import flight_key, refresh_truth
from tests.conftest import REPO

TINY = REPO / "datasets" / "families" / "tiny.yaml"


@pytest.fixture(scope="module")
def world():
    return build_world(world_scenario(load_family(TINY), 200))


def _faces(w) -> list[str]:
    return [f.face_id for f in w.site.faces]


def _moved_tire(w):
    i = next(i for i, o in enumerate(w.objects) if o.kind.startswith("tire"))
    objs = list(w.objects)
    objs[i] = replace(objs[i], u0=objs[i].u0 + 0.01, u1=objs[i].u1 + 0.01)
    return replace(w, objects=objs)


def _other_erp(w):
    erp = w.erp.copy()
    erp.loc[0, "Quantity"] = int(erp.loc[0, "Quantity"]) + 3
    disc = pd.concat([w.discrepancies, pd.DataFrame([{"kind": "short", "bin_id": erp.loc[0, "Bin"], "sku": erp.loc[0, "Material"],
                                                       "erp_qty": int(erp.loc[0, "Quantity"]), "true_qty": 0, "other_bin_id": ""}])])
    return replace(w, erp=erp, discrepancies=disc.reset_index(drop=True))


def _darker(w):
    spec = w.scenario.spec
    spec = spec.model_copy(update={"lighting": spec.lighting.model_copy(update={"lux": spec.lighting.lux / 3})})
    return replace(w, scenario=Scenario(spec, w.scenario.site, w.scenario.source))


@pytest.mark.parametrize("change,kept", [
    (lambda w: w, True),
    (_other_erp, True),  # the ERP's quantities and the discrepancy list: no frame changes
    (_moved_tire, False),
    (_darker, False),  # a longer exposure, a slower pass
])
def test_the_flight_is_kept_while_its_frames_would_be_the_same(world, change, kept):
    faces = _faces(world)
    assert (flight_key(change(world), faces) == flight_key(world, faces)) is kept


def test_another_face_is_another_flight():
    w = build_world(world_scenario(load_family(REPO / "datasets" / "families" / "tire-stores.yaml"), 10000))
    faces = _faces(w)
    assert len(faces) > 1 and flight_key(w, faces[:1]) != flight_key(w, faces)


def test_the_code_left_out_is_the_code_hashed_by_its_results():
    assert code_digest("datasets", leave_out=("datasets.world",)) != code_digest("datasets")
    assert code_digest("datasets", leave_out=("datasets.nothing_of_that_name",)) == code_digest("datasets")


def test_a_kept_flight_gets_the_worlds_discrepancy_list_again(world, tmp_path):
    (tmp_path / "truth").mkdir()
    path = tmp_path / "truth" / "discrepancies.csv"
    path.write_text("kind,bin_id\n")
    linked = tmp_path / "linked.csv"
    linked.hardlink_to(path)  # another weights' copy of the flight
    refresh_truth(world, tmp_path)
    assert path.read_text() == world.discrepancies.to_csv(index=False)
    assert linked.read_text() == "kind,bin_id\n"
    saved = path.stat().st_mtime_ns
    refresh_truth(world, tmp_path)
    assert path.stat().st_mtime_ns == saved  # unchanged: not written again
