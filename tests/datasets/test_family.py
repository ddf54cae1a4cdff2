"""World families: deterministic worlds drawn within their ranges, disjoint splits, one-line errors."""

import subprocess

import pytest
import yaml

from datasets.errors import DatasetError
from datasets.family import load_family, world_dict, world_scenario
from tests.conftest import REPO

FAMILY = REPO / "datasets" / "families" / "tire-stores.yaml"
RACKSCAN = str(REPO / ".venv" / "bin" / "rackscan")


@pytest.fixture(scope="module")
def fam():
    return load_family(FAMILY)


def test_a_world_is_the_same_every_time_and_worlds_differ(fam):
    assert world_dict(fam, 10003) == world_dict(fam, 10003)
    assert world_dict(fam, 10003) != world_dict(fam, 10004)
    assert world_scenario(fam, 10003).spec.seed == 10003


def test_draws_stay_in_their_ranges_and_cover_them(fam):
    specs = [world_scenario(fam, k).spec for k in range(10000, 10040)]
    z = [s.site_size for s in specs]
    assert {x.levels for x in z} <= set(range(2, 8)) and len({x.levels for x in z}) >= 4
    assert all(1.8 <= x.bay_width_m <= 3.6 and 2.2 <= x.aisle_width_m <= 4.0 for x in z)
    assert {x.layout for x in z} == {"paired", "single"}
    lux = [s.lighting.lux for s in specs]
    assert all(8 <= v <= 1500 for v in lux) and min(lux) < 30 and max(lux) > 500
    assert any(s.lighting.mixed_k for s in specs) and any(s.lighting.mixed_k is None for s in specs)
    assert all(3 <= len(s.catalogue) <= 7 for s in specs)
    # the site records the light, as a survey would
    assert world_scenario(fam, 10000).site.spec.light_lux == specs[0].lighting.lux


def test_splits(fam):
    assert fam.split_of(0) == "train" and fam.split_of(10500) == "dev" and fam.split_of(20019) == "test"
    assert fam.worlds("test", 3) == [20000, 20001, 20002]
    with pytest.raises(DatasetError, match="in no split"):
        fam.split_of(15000)
    with pytest.raises(DatasetError, match="--worlds 5000: split test holds worlds 20000-20999"):
        fam.worlds("test", 5000)


def _family(tmp_path, **over):
    data = yaml.safe_load(FAMILY.read_text())
    data["base"] = str(FAMILY.parent / data["base"])
    for k, v in over.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


BAD = [
    ({"family": None}, "family: expected the family's name"),
    ({"splits": {"train": [0, 10], "dev": [5, 20], "test": [30, 40]}}, "splits: train and dev share world 5"),
    ({"splits": {"train": [0, 10], "dev": [11, 20]}}, "splits.test: expected [first, last] world numbers"),
    ({"draw": {"site_size": {"levels": [2, 40]}}}, "world 0: site_size.levels: Input should be less than or equal to 12"),
    ({"draw": [1, 2]}, "draw: expected a mapping"),
]


@pytest.mark.parametrize("over,fragment", BAD, ids=[b[1][:30] for b in BAD])
def test_bad_family_files(tmp_path, over, fragment):
    with pytest.raises(DatasetError) as e:
        load_family(_family(tmp_path, **over))
    assert fragment in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_synth_draws_a_world_from_the_cli(tmp_path):
    out = tmp_path / "w"
    r = subprocess.run([RACKSCAN, "synth", str(REPO / "datasets/families/tiny.yaml"), str(out), "--world", "201",
                        "--frames", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "world 201 of tiny (test split)" in r.stdout
    sc = yaml.safe_load((out / "scenario.yaml").read_text())
    assert sc["seed"] == 201 and sc["lighting"]["lux"] in (600, 120, 4)
    assert yaml.safe_load((out / "site.yaml").read_text())["light_lux"] == sc["lighting"]["lux"]
    r = subprocess.run([RACKSCAN, "synth", str(REPO / "datasets/families/tiny.yaml"), str(out)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().endswith("a world family; expected --world K (see its splits)")
