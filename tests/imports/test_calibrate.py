"""`rackscan calibrate` on ChArUco and chessboard views rendered through the virtual camera
(tests/imports/boards.py): the focal length within 1% of the camera that rendered them, the YAML
loads as a camera file, and views that do not cover the image or do not fit are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from imports.calibrate import CalibrationOptions, calibrate, parse_board
from imports.errors import ImportsError
from rackscan.cli import main
from tests.imports.boards import render_views, spread_poses
from warehouse.camera import CameraSpec, load_camera

TRUE = CameraSpec(name="rendered", image_width_px=960, image_height_px=720, focal_mm=4.5, sensor_width_mm=6.17,
                  distortion=(-0.12, 0.03, 0.0, 0.0, 0.0))


@pytest.fixture(scope="module")
def charuco_views(tmp_path_factory):
    d = tmp_path_factory.mktemp("charuco")
    board = parse_board("charuco:9x7:30:22:5X5_100")
    render_views(board, TRUE.model(), spread_poses(TRUE.model()), d)
    return d, board


def test_charuco_views_give_the_focal_length_within_1_percent(charuco_views, tmp_path, capsys):
    d, _ = charuco_views
    out = tmp_path / "cam.yaml"
    rc = main(["calibrate", str(d), "--board", "charuco:9x7:30:22:5X5_100", "-o", str(out), "--sensor-width-mm", "6.17"])
    said = capsys.readouterr().out
    assert rc == 0, said
    spec = load_camera(out)
    assert abs(spec.fx_px - TRUE.fx_px) / TRUE.fx_px < 0.01
    assert abs(spec.focal_mm - TRUE.focal_mm) / TRUE.focal_mm < 0.01
    assert (spec.image_width_px, spec.image_height_px) == (960, 720)
    # the distortion it found bends the image edge as the true lens does (within 1 px at the corner)
    corner = np.array([[0.0, 0.0]])
    assert np.abs(spec.model().pixel_rays(corner) - TRUE.model().pixel_rays(corner)).max() < 1.0 / TRUE.fx_px
    head = out.read_text().splitlines()[:3]
    rms = float(head[1].split("RMS reprojection error ")[1].split(" px")[0])
    assert 0 < rms < 0.6 and "coverage" in head[1] and "RMS reprojection error" in said
    png = out.with_name("cam.coverage.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_base_camera_keeps_its_other_fields(charuco_views, tmp_path):
    d, board = charuco_views
    base = CameraSpec(name="drone-cam", fps=12.0, exposure_s=1 / 1000, gimbal_pitch_deg=-10.0, sensor_width_mm=6.17)
    res = calibrate(d, board, base=base)
    assert res.spec.name == "drone-cam" and res.spec.fps == 12.0 and res.spec.gimbal_pitch_deg == -10.0
    assert res.spec.sensor_width_mm == 6.17 and len(res.views_used) == 12 and not res.views_rejected


def test_chessboard_views_calibrate_too(tmp_path):
    board = parse_board("chessboard:9x7:30")
    render_views(board, TRUE.model(), spread_poses(TRUE.model()), tmp_path)
    res = calibrate(tmp_path, board)
    assert abs(res.fx_px - TRUE.fx_px) / TRUE.fx_px < 0.01 and res.rms_px < 0.6


def _central_poses():
    from tests.imports.boards import look_at

    return [look_at(np.array([0.0, 0.0, 0.9 + 0.05 * k]), (-1) ** k * 12, 8 * (k % 3 - 1), 5 * k) for k in range(8)]


def _refusal(tmp_path, capsys, args) -> str:
    rc = main(["calibrate", *args, "-o", str(tmp_path / "cam.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and err[0].startswith("error: "), err
    assert not (tmp_path / "cam.yaml").exists()
    return err[0]


def test_views_that_do_not_cover_the_image_are_refused(tmp_path, capsys):
    render_views(parse_board("charuco:9x7:30:22"), TRUE.model(), _central_poses(), tmp_path / "v")
    line = _refusal(tmp_path, capsys, [str(tmp_path / "v"), "--board", "charuco:9x7:30:22"])
    assert "of the image" in line and "expected >= 60%" in line and "cam.coverage.png" in line
    assert (tmp_path / "cam.coverage.png").exists()  # the picture that shows what is missing


def test_a_board_printed_out_of_scale_does_not_fit_and_is_refused(tmp_path, capsys):
    """A printer that shrank the board to 85% down the page: its squares are not square, no lens fits."""
    from tests.imports.boards import render_texture

    board = parse_board("charuco:9x7:30:22:5X5_100")
    tex = board.cv_board().generateImage((2400, 1867), marginSize=0)
    render_texture(tex, 0.27, 0.21 * 0.85, TRUE.model(), spread_poses(TRUE.model()), tmp_path / "v")
    line = _refusal(tmp_path, capsys, [str(tmp_path / "v"), "--board", "charuco:9x7:30:22:5X5_100"])
    assert "RMS reprojection error" in line and "expected <= 1 px" in line and "worst view" in line


def test_too_few_views_are_refused(charuco_views, tmp_path, capsys):
    import shutil

    d, _ = charuco_views
    few = tmp_path / "few"
    few.mkdir()
    for f in sorted(d.iterdir())[:3]:
        shutil.copy(f, few / f.name)
    line = _refusal(tmp_path, capsys, [str(few), "--board", "charuco:9x7:30:22"])
    assert "found in 3 of 3 images; expected at least 6 views" in line


@pytest.mark.parametrize("text,what", [
    ("charuco:9x7:30", "expected charuco:COLSxROWS"),
    ("charuco:9x7:30:40", "marker 40.0 mm; expected a marker smaller"),
    ("charuco:9x7:30:22:9X9_50", "dictionary '9X9_50'"),
    ("chessboard:2x7:30", "at least 3x3 squares"),
    ("aruco:9x7:30", "expected charuco:COLSxROWS"),
    ("chessboard:9by7:30", "expected charuco:COLSxROWS"),
])
def test_a_board_that_cannot_be_is_refused(text, what):
    with pytest.raises(ImportsError, match="--board") as e:
        parse_board(text)
    assert what in str(e.value)
