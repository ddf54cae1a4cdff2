"""Bad site files: one line naming the file, the line, the field path and the rule; exit 1."""

import copy

import pytest
import yaml
from typer.testing import CliRunner

from rackscan.cli import app
from tests.helpers import DELETE as _DELETE
from tests.helpers import set_path as _set
from tests.warehouse.factories import site_dict


CASES = [
    # (id, path to change, new value, expected fragments of the one-line error)
    ("overlapping racks", ("racks", 1, "start_m"), [0.5, 0.5], ["racks[1]", "overlaps rack R01"]),
    ("face with no bays", ("racks", 0, "bays_m"), [], ["racks[0].bays_m", "no bays"]),
    ("level above ceiling", ("ceiling_m"), 2.0, ["racks[0].levels_m[2]", "above the ceiling"]),
    ("duplicate bin id", ("aisles", 0, "faces", 1, "bay_start"), 1, ["aisles[0].faces[1]", "duplicate bin id 'A01-B01-L1-P1'"]),
    ("unknown rack", ("aisles", 0, "faces", 0, "rack"), "R99", ["aisles[0].faces[0].rack", "unknown rack 'R99'"]),
    ("duplicate rack id", ("racks", 1, "id"), "R01", ["racks[1].id", "duplicate rack id"]),
    ("negative bay width", ("racks", 0, "bays_m"), [2.5, -1.0], ["racks[0].bays_m", "must be > 0"]),
    ("levels not increasing", ("racks", 0, "levels_m"), [0.0, 1.5, 1.0], ["racks[0].levels_m", "must increase"]),
    ("latitude out of range", ("origin", "lat_deg"), 123.0, ["origin.lat_deg", "less than or equal to 90"]),
    ("missing origin", ("origin",), _DELETE, ["origin", "required field is missing"]),
    ("unknown field", ("racks", 0, "colour"), "blue", ["racks[0].colour", "unknown field"]),
    ("wrong type", ("racks", 0, "positions_per_bay"), "two", ["racks[0].positions_per_bay", "integer"]),
    ("bad side", ("aisles", 0, "faces", 0, "side"), "left", ["aisles[0].faces[0].side", "'front' or 'back'"]),
    ("bad naming field", ("bin_naming",), "{aisle}-{shelf}", ["bin_naming", "unknown field(s) ['shelf']"]),
    ("face listed twice", ("aisles", 0, "faces", 1), {"rack": "R01", "side": "back", "bay_start": 2, "bay_step": 2}, ["aisles[0].faces[1]", "already listed"]),
    ("no-fly zone with two points", ("no_fly_zones",), [{"id": "z", "polygon_m": [[0, 0], [1, 1]]}], ["no_fly_zones[0].polygon_m", "at least 3"]),
]


@pytest.mark.parametrize("name,path,value,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_site_gives_one_line_error_and_exit_1(tmp_path, name, path, value, fragments):
    d = _set(copy.deepcopy(site_dict()), path if isinstance(path, tuple) else (path,), value)
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    res = CliRunner().invoke(app, ["site", "check", str(p)], standalone_mode=False)
    from rackscan.cli import main

    rc = main(["site", "check", str(p)])
    assert rc == 1
    err = res.exception
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(f"{p}:"), msg
    for frag in fragments:
        assert frag in msg, msg


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("racks: [\n  {id: R01\n", "malformed YAML"),
        ("", "top level is empty"),
        ("- just\n- a list\n", "top level is list"),
    ],
)
def test_unparseable_site_files(tmp_path, content, fragment):
    from warehouse.errors import SiteError
    from warehouse.site import load_site

    p = tmp_path / "site.yaml"
    p.write_text(content)
    with pytest.raises(SiteError, match=fragment) as e:
        load_site(p)
    assert str(e.value).startswith(str(p))


def test_missing_site_file_cli(tmp_path, capsys):
    from rackscan.cli import main

    assert main(["site", "check", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'nope.yaml'}: site file not found (expected a YAML file)"


def test_site_check_prints_summary_and_png(tmp_path, capsys):
    from rackscan.cli import main
    from tests.conftest import DEFAULT_SITE

    png = tmp_path / "plan.png"
    assert main(["site", "check", str(DEFAULT_SITE), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "96" in out and "43.2" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_error_line_number_points_into_the_file(tmp_path):
    from warehouse.errors import SiteError
    from warehouse.site import load_site

    d = site_dict()
    d["racks"][1]["bays_m"] = []
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(SiteError) as e:
        load_site(p)
    line_no = int(str(e.value).split(":")[1])
    assert "bays_m" in p.read_text().splitlines()[line_no - 1]
