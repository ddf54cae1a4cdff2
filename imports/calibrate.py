"""Camera calibration from views of a ChArUco board or a chessboard (OpenCV), written as the
camera YAML (``warehouse.camera.CameraSpec``) with the RMS reprojection error and a picture of
how much of the image the board's corners covered.

``CameraSpec`` models a pinhole with square pixels and the principal point at the image centre
(k1 k2 p1 p2 k3 distortion), so the calibration fits that model (principal point and aspect
fixed); a free fit's principal point is reported beside it, and a warning says when the lens is
far off-centre. A set of views that does not cover the image, or fits worse than ``max_rms_px``,
is refused: such a calibration looks right in the middle and bends labels at the edges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from imports.errors import ImportsError

ARUCO_DICTS = ("4X4_50", "4X4_100", "4X4_250", "4X4_1000", "5X5_50", "5X5_100", "5X5_250", "5X5_1000", "6X6_50",
               "6X6_100", "6X6_250", "6X6_1000", "7X7_50", "7X7_100", "7X7_250", "7X7_1000", "ARUCO_ORIGINAL",
               "APRILTAG_36H11")
BOARD_HELP = "charuco:COLSxROWS:SQUARE_MM:MARKER_MM[:DICT] (squares; DICT e.g. 5X5_100) or chessboard:COLSxROWS:SQUARE_MM (squares)"
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True, kw_only=True)
class Board:
    kind: str  # charuco | chessboard
    cols: int  # squares across
    rows: int  # squares down
    square_mm: float
    marker_mm: float = 0.0
    dictionary: str = "5X5_100"

    def object_corners_m(self) -> np.ndarray:
        """(N,3) inner corners on the board (z = 0), metres, in OpenCV's order for the board."""
        return self.cv_board().getChessboardCorners().astype(np.float64) if self.kind == "charuco" else np.array(
            [[c * self.square_mm / 1000, r * self.square_mm / 1000, 0.0]
             for r in range(self.rows - 1) for c in range(self.cols - 1)])

    def cv_board(self):
        import cv2

        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, f"DICT_{self.dictionary}"))
        return cv2.aruco.CharucoBoard((self.cols, self.rows), self.square_mm / 1000, self.marker_mm / 1000, d)


def parse_board(text: str) -> Board:
    parts = (text or "").strip().split(":")
    kind = parts[0].lower()
    try:
        m = re.fullmatch(r"(\d+)[xX](\d+)", parts[1])
        if kind not in ("charuco", "chessboard") or not m:
            raise ValueError
        cols, rows = int(m.group(1)), int(m.group(2))
        square = float(parts[2])
        if kind == "charuco":
            if len(parts) not in (4, 5):
                raise ValueError
            marker = float(parts[3])
            dictionary = parts[4].upper().removeprefix("DICT_") if len(parts) == 5 else "5X5_100"
            if dictionary not in ARUCO_DICTS:
                raise ImportsError(f"--board {text!r}: dictionary {parts[4]!r}; expected one of {', '.join(ARUCO_DICTS)}")
            if not 0 < marker < square:
                raise ImportsError(f"--board {text!r}: marker {marker} mm; expected a marker smaller than the square")
            board = Board(kind=kind, cols=cols, rows=rows, square_mm=square, marker_mm=marker, dictionary=dictionary)
        else:
            if len(parts) != 3:
                raise ValueError
            board = Board(kind=kind, cols=cols, rows=rows, square_mm=square)
    except (ValueError, IndexError):
        raise ImportsError(f"--board {text!r}; expected {BOARD_HELP}") from None
    if cols < 3 or rows < 3 or square <= 0:
        raise ImportsError(f"--board {text!r}: at least 3x3 squares of a positive size; expected {BOARD_HELP}")
    return board


@dataclass(frozen=True, kw_only=True)
class CalibrationOptions:
    """What a calibration must reach to be written; the defaults live here."""

    min_views: int = 6
    max_rms_px: float = 1.0
    min_coverage: float = 0.6  # share of the grid's cells with a board corner in some view
    grid: tuple[int, int] = (8, 6)  # cells across, down
    min_corners: int = 8  # a view with fewer corners found is not used
    off_centre_warn: float = 0.03  # warn when the free fit's principal point is this far off (share of the size)


@dataclass(frozen=True, kw_only=True)
class CalibrationResult:
    spec: object  # warehouse.camera.CameraSpec
    rms_px: float
    views_used: tuple[str, ...]
    views_rejected: tuple[tuple[str, str], ...]  # (file, why)
    coverage: float
    fx_px: float
    free_principal_px: tuple[float, float]  # principal point of a free fit (the model fixes it at the centre)
    per_view_rms_px: dict = field(default_factory=dict)
    coverage_png: str = ""
    warnings: tuple[str, ...] = ()


def find_corners(gray: np.ndarray, board: Board) -> tuple[np.ndarray, np.ndarray] | None:
    """(object points (N,3) m, image points (N,2) px) of the board in one image, or None."""
    import cv2

    if board.kind == "charuco":
        det = cv2.aruco.CharucoDetector(board.cv_board())
        cc, ci, _, _ = det.detectBoard(gray)
        if cc is None or ci is None or len(cc) < 4:
            return None
        obj, img = board.cv_board().matchImagePoints(cc, ci)
        return obj.reshape(-1, 3).astype(np.float64), img.reshape(-1, 2).astype(np.float64)
    size = (board.cols - 1, board.rows - 1)
    ok, corners = cv2.findChessboardCorners(gray, size, cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
    if not ok:
        return None
    corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1),
                               (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3))
    return board.object_corners_m(), corners.reshape(-1, 2).astype(np.float64)


def coverage_of(points: list[np.ndarray], size: tuple[int, int], grid: tuple[int, int]) -> tuple[float, np.ndarray]:
    """Share of the grid's cells holding a corner, and the (rows, cols) bool grid."""
    w, h = size
    cells = np.zeros((grid[1], grid[0]), bool)
    for p in points:
        cx = np.clip((p[:, 0] / w * grid[0]).astype(int), 0, grid[0] - 1)
        cy = np.clip((p[:, 1] / h * grid[1]).astype(int), 0, grid[1] - 1)
        cells[cy, cx] = True
    return float(cells.mean()), cells


def draw_coverage(path: Path, points: list[np.ndarray], size: tuple[int, int], cells: np.ndarray,
                  coverage: float, title: str) -> Path:
    import cv2

    w, h = size
    s = 960 / w
    W, H = 960, int(round(h * s))
    img = np.full((H, W, 3), 245, np.uint8)
    gx, gy = cells.shape[1], cells.shape[0]
    for r in range(gy):
        for c in range(gx):
            x0, y0, x1, y1 = int(c * W / gx), int(r * H / gy), int((c + 1) * W / gx), int((r + 1) * H / gy)
            col = (200, 235, 200) if cells[r, c] else (200, 200, 245)
            cv2.rectangle(img, (x0, y0), (x1, y1), col, -1)
            cv2.rectangle(img, (x0, y0), (x1, y1), (160, 160, 160), 1)
    rng = np.random.default_rng(0)
    for p in points:
        colour = tuple(int(v) for v in rng.integers(30, 200, 3))
        for x, y in p * s:
            cv2.circle(img, (int(x), int(y)), 2, colour, -1)
    cv2.putText(img, f"{title}: {coverage * 100:.0f}% of the image covered", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


def list_images(src: str | Path) -> list[Path]:
    p = Path(src)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXT)
    elif p.is_file():
        files = [p]
    else:
        raise ImportsError(f"{p}: no such file or directory; expected a folder of board images")
    if not files:
        raise ImportsError(f"{p}: no images ({', '.join(IMAGE_EXT)}); expected photos of the calibration board")
    return files


def calibrate(images: str | Path | list[Path], board: Board, *, base=None, sensor_width_mm: float | None = None,
              opts: CalibrationOptions = CalibrationOptions(), coverage_png: str | Path | None = None,
              on_image: Callable[[int, int], None] | None = None) -> CalibrationResult:
    """Calibrate from the board views; ImportsError (one line) when the views are too few, do not
    cover the image, or fit worse than ``opts.max_rms_px``. ``base``: a CameraSpec whose other
    fields (exposure, fps, mounting) the result keeps; ``sensor_width_mm`` turns pixels into the
    focal length in mm (default: the base's, else the default camera's)."""
    import cv2

    from warehouse.camera import CameraSpec

    files = images if isinstance(images, list) else list_images(images)
    obj_pts, img_pts, used, rejected = [], [], [], []
    size = None
    for k, f in enumerate(files):
        gray = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise ImportsError(f"{f}: not a readable image; expected a photo of the calibration board")
        if size is None:
            size = (gray.shape[1], gray.shape[0])
        elif (gray.shape[1], gray.shape[0]) != size:
            raise ImportsError(f"{f}: {gray.shape[1]}x{gray.shape[0]} px; expected every view at {size[0]}x{size[1]} "
                               "(one camera, one mode)")
        found = find_corners(gray, board)
        if found is None or len(found[0]) < opts.min_corners:
            rejected.append((f.name, "board not found" if found is None else f"{len(found[0])} corners"))
        else:
            obj_pts.append(found[0].astype(np.float32))
            img_pts.append(found[1].astype(np.float32))
            used.append(f.name)
        if on_image:
            on_image(k + 1, len(files))
    src = files[0].parent if files else Path(".")
    if len(used) < opts.min_views:
        raise ImportsError(f"{src}: the board ({board.kind} {board.cols}x{board.rows}) was found in {len(used)} of "
                           f"{len(files)} images; expected at least {opts.min_views} views")
    cov, cells = coverage_of([p.astype(np.float64) for p in img_pts], size, opts.grid)
    png = Path(coverage_png) if coverage_png else None
    if png is not None:
        draw_coverage(png, [p.astype(np.float64) for p in img_pts], size, cells, cov, f"{len(used)} views")
    if cov < opts.min_coverage:
        raise ImportsError(f"{src}: the board's corners cover {cov * 100:.0f}% of the image ({opts.grid[0]}x{opts.grid[1]} "
                           f"cells); expected >= {opts.min_coverage * 100:.0f}%: add views with the board near the "
                           f"corners and edges{f' (see {png})' if png else ''}")
    w, h = size
    f0 = 0.8 * w
    K0 = np.array([[f0, 0, w / 2.0], [0, f0, h / 2.0], [0, 0, 1.0]])
    flags = cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_PRINCIPAL_POINT | cv2.CALIB_FIX_ASPECT_RATIO
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-9)
    rms, K, dist, rvecs, tvecs = cv2.calibrateCamera(obj_pts, img_pts, size, K0.copy(), np.zeros(5), flags=flags,
                                                     criteria=crit)
    _, Kf, _, _, _ = cv2.calibrateCamera(obj_pts, img_pts, size, K0.copy(), np.zeros(5),
                                         flags=cv2.CALIB_USE_INTRINSIC_GUESS, criteria=crit)
    per_view = {}
    for name, o, i, rv, tv in zip(used, obj_pts, img_pts, rvecs, tvecs):
        proj, _ = cv2.projectPoints(o, rv, tv, K, dist)
        per_view[name] = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - i) ** 2, axis=1))))
    if rms > opts.max_rms_px:
        worst = max(per_view, key=per_view.get)
        raise ImportsError(f"{src}: RMS reprojection error {rms:.2f} px over {len(used)} views; expected <= "
                           f"{opts.max_rms_px:g} px (worst view {worst}: {per_view[worst]:.2f} px; drop blurred or "
                           "moving views, check the --board sizes)")
    base = base or CameraSpec()
    sw = sensor_width_mm or base.sensor_width_mm
    fx = float(K[0, 0])
    d = [float(x) for x in np.asarray(dist).ravel()[:5]]
    spec = CameraSpec.model_validate({**base.model_dump(mode="json"), "image_width_px": w, "image_height_px": h,
                                      "sensor_width_mm": sw, "focal_mm": fx * sw / w, "distortion": d})
    warnings = []
    off = max(abs(Kf[0, 2] - w / 2) / w, abs(Kf[1, 2] - h / 2) / h)
    if off > opts.off_centre_warn:
        warnings.append(f"a free fit puts the principal point at ({Kf[0, 2]:.0f}, {Kf[1, 2]:.0f}) px, "
                        f"{off * 100:.1f}% off the centre the camera model assumes")
    return CalibrationResult(spec=spec, rms_px=float(rms), views_used=tuple(used), views_rejected=tuple(rejected),
                             coverage=cov, fx_px=fx, free_principal_px=(float(Kf[0, 2]), float(Kf[1, 2])),
                             per_view_rms_px=per_view, coverage_png=str(png or ""), warnings=tuple(warnings))


def write_camera_yaml(res: CalibrationResult, path: str | Path, *, board: Board) -> Path:
    """The camera YAML with the calibration's figures as comments (CameraSpec reads the fields only)."""
    import yaml

    head = [f"# rackscan calibrate: {board.kind} {board.cols}x{board.rows}, square {board.square_mm:g} mm"
            + (f", marker {board.marker_mm:g} mm, {board.dictionary}" if board.kind == "charuco" else ""),
            f"# RMS reprojection error {res.rms_px:.3f} px over {len(res.views_used)} views "
            f"({len(res.views_rejected)} rejected); image coverage {res.coverage * 100:.0f}%",
            f"# fx {res.fx_px:.2f} px; a free fit's principal point ({res.free_principal_px[0]:.1f}, "
            f"{res.free_principal_px[1]:.1f}) px"]
    body = yaml.safe_dump(res.spec.model_dump(mode="json"), sort_keys=False)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("\n".join(head) + "\n" + body, encoding="utf-8")
    return p


__all__ = ["Board", "CalibrationOptions", "CalibrationResult", "calibrate", "parse_board", "write_camera_yaml"]
