"""rackscan synth: outputs, same seed -> same bytes, and one-line errors for bad files."""

import hashlib

import pandas as pd
import pytest
import yaml

from rackscan.cli import main
from tests.conftest import REPO
from tests.helpers import DELETE, set_path

SCEN_DIR = REPO / "datasets" / "scenarios"


def _scenario(tmp_path, mutate=None, site_mutate=None, name="s.yaml"):
    data = yaml.safe_load((SCEN_DIR / "default.yaml").read_text())
    site = yaml.safe_load((SCEN_DIR / "default_site.yaml").read_text())
    if mutate:
        mutate(data)
    if site_mutate:
        site_mutate(site)
    (tmp_path / "default_site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_synth_writes_everything_and_is_deterministic(tmp_path, capsys):
    s = SCEN_DIR / "default.yaml"
    assert main(["synth", str(s), str(tmp_path / "a"), "--frames", "3"]) == 0
    assert main(["synth", str(s), str(tmp_path / "b"), "--frames", "3"]) == 0
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b
    for f in ["site.yaml", "scenario.yaml", "camera.yaml", "catalogue.csv", "erp_stock.csv", "erp_stock.xlsx",
              "truth/stock.csv", "truth/discrepancies.csv", "truth/gallery_objects.parquet",
              "gallery/contact_sheet.png"]:
        assert f in a, f
    assert sum(k.startswith("gallery/") and k.endswith(".jpg") for k in a) == 3
    erp_csv = pd.read_csv(tmp_path / "a/erp_stock.csv", dtype=str)
    erp_xlsx = pd.read_excel(tmp_path / "a/erp_stock.xlsx", dtype=str)
    assert list(erp_csv.columns) == ["Bin", "Material", "Quantity", "Description", "Unit Price"]
    assert erp_csv["Unit Price"].astype(float).gt(0).all()  # the catalogue's prices reach the ERP export
    assert erp_csv["Material"].str.startswith("000").all()  # leading zeros kept
    for df in (erp_csv, erp_xlsx):  # a number in the sheet, text in the CSV ("120" / "120.0")
        df["Unit Price"] = df["Unit Price"].astype(float)
    pd.testing.assert_frame_equal(erp_csv, erp_xlsx)
    truth = pd.read_parquet(tmp_path / "a/truth/gallery_objects.parquet")
    assert {"frame_idx", "kind", "bin_id", "x1", "visible_frac", "text", "module_px"} <= set(truth.columns)
    # the resolved scenario in OUT synthesises the same world again
    assert main(["synth", str(tmp_path / "a/scenario.yaml"), str(tmp_path / "c"), "--frames", "0"]) == 0
    assert _digest(tmp_path / "c")["erp_stock.csv"] == a["erp_stock.csv"]


def test_site_size_generates_a_site(tmp_path):
    def m(d):
        d.pop("site")
        d["site_size"] = {"aisles": 1, "bays_per_face": 2, "levels": 2}
    p = _scenario(tmp_path, m)
    assert main(["synth", str(p), str(tmp_path / "o"), "--frames", "1"]) == 0
    site = yaml.safe_load((tmp_path / "o/site.yaml").read_text())
    assert len(site["racks"]) == 2 and len(site["aisles"]) == 1


def _set(path, value):
    """A mutation for ``_scenario``: set ``path`` to ``value`` (None removes it)."""
    return lambda d: set_path(d, path, DELETE if value is None else value)


BAD_SCENARIOS = [
    ("unknown field", _set(("colour",), "red"), None, "colour: unknown field"),
    ("bad tire size", _set(("catalogue", 0, "size"), "205-55-16"), None, "catalogue[0].size: tire size '205-55-16': expected a size code like '205/55R16'"),
    ("duplicate sku", _set(("catalogue", 1, "sku"), "000401001"), None, "duplicate sku '000401001'"),
    ("empty catalogue", _set(("catalogue",), []), None, "catalogue: List should have at least 1 item"),
    ("fill rate above 1", _set(("stock", "fill_rate"), 1.5), None, "stock.fill_rate: Input should be less than or equal to 1"),
    ("negative seed", _set(("seed",), -1), None, "seed: Input should be greater than or equal to 0"),
    ("both site and size", _set(("site_size",), {"aisles": 1}), None, "give exactly one of 'site'"),
    ("missing site file", _set(("site",), "nowhere.yaml"), None, "site: site file"),
    ("gain range reversed", _set(("lighting",), {"gain_min": 1.2, "gain_max": 0.8}), None, "gain_max (0.8) must be >= gain_min (1.2)"),
    ("rates too high", _set(("discrepancies",), {"short": 0.5, "over": 0.5}), None, "add up to more than 0.8"),
    ("bad gtin", _set(("catalogue", 0, "gtin"), "12ab"), None, "catalogue[0].gtin: String should match pattern"),
    ("camera focal negative", _set(("camera", "focal_mm"), -6), None, "camera.focal_mm: Input should be greater than 0"),
    ("site: level above ceiling", None, _set(("ceiling_m",), 2.0), "racks[0].levels_m[2]: level 3 beam at 3.0 m is above the ceiling"),
    ("site: overlapping racks", None, _set(("racks", 1, "start_m"), [0.0, 0.5]), "rack R02 overlaps rack R01"),
]


@pytest.mark.parametrize("name,mutate,site_mutate,fragment", BAD_SCENARIOS, ids=[c[0] for c in BAD_SCENARIOS])
def test_bad_scenarios_exit_1_with_one_line(tmp_path, capsys, name, mutate, site_mutate, fragment):
    p = _scenario(tmp_path, mutate, site_mutate)
    assert main(["synth", str(p), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    assert str(tmp_path) in err, err
    assert fragment in err, err


@pytest.mark.parametrize("content,fragment", [("seed: [1,\n", "malformed YAML"), ("", "top level is empty"), ("- 1\n", "top level is list")])
def test_unparseable_scenarios(tmp_path, capsys, content, fragment):
    p = tmp_path / "s.yaml"
    p.write_text(content)
    assert main(["synth", str(p), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert fragment in err and str(p) in err
