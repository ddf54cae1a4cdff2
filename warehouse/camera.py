"""Pinhole camera with Brown-Conrady distortion, and the label-reading physics.

Camera frame (OpenCV convention): ``x`` right, ``y`` down, ``z`` forward along the optical axis.
``T_site_camera`` maps camera coordinates into the site frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from warehouse.errors import SiteError
from warehouse.validation import load_yaml_model

# Minimum sampling for a decoder to read a symbol (DESIGN.md "Physics").
MIN_BAR_PX_1D = 2.0
MIN_MODULE_PX_2D = 3.0
TWO_D_SYMBOLOGIES = frozenset({"qr", "datamatrix"})


class CameraSpec(BaseModel):
    """The camera file (YAML): sensor, lens, exposure, distortion and how it is mounted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default-1080p"
    image_width_px: int = Field(1920, gt=0, le=16384)
    image_height_px: int = Field(1080, gt=0, le=16384)
    sensor_width_mm: float = Field(6.17, gt=0)
    focal_mm: float = Field(6.0, gt=0)
    exposure_s: float = Field(1 / 2000, gt=0, le=1, description="shortest exposure, for the fastest flight")
    max_blur_px: float = Field(1.0, gt=0)
    # light (warehouse.light): lux x seconds a correct exposure needs at gain 1, the longest
    # exposure and the most gain the exposure program may use, and lights carried on board
    sensitivity_lux_s: float = Field(0.25, gt=0, description="500 lux needs 1/2000 s at gain 1")
    max_exposure_s: float = Field(1 / 30, gt=0, le=1)
    max_gain: float = Field(16.0, ge=1, le=1000, description="24 dB")
    noise_sigma: float = Field(3.0, ge=0, le=50, description="sensor noise at gain 1, grey levels (8-bit)")
    light_lux_at_1m: float = Field(0.0, ge=0, description="on-board lights, lux on a face 1 m away")
    fps: float = Field(5.0, gt=0, le=240)
    # Brown-Conrady k1, k2, p1, p2, k3 (OpenCV order)
    distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    # camera-to-body extrinsic: lever arm (body FRD metres) and gimbal pitch (deg, 0 = level)
    lever_arm_body_m: tuple[float, float, float] = (0.1, 0.0, 0.05)
    gimbal_pitch_deg: float = Field(0.0, ge=-90, le=30)
    # one camera of this model at each yaw about the body's down axis (0 forward, 90 right): (0,) is
    # one forward camera; (-90, 90) a pair looking left and right, both faces of an aisle in one pass
    # (issue 21). Each is mounted at the lever arm turned by its yaw.
    mounts_yaw_deg: tuple[float, ...] = Field((0.0,), min_length=1, max_length=2)

    @field_validator("mounts_yaw_deg")
    @classmethod
    def _mounts(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not -180.0 <= y <= 180.0 for y in v):
            raise ValueError(f"each mount's yaw must be within -180..180 degrees, got {list(v)}")
        if len(v) == 2 and sorted(v) != [-90.0, 90.0]:
            raise ValueError(f"two cameras are a left and right pair, [-90, 90]; got {list(v)}")
        return v

    @property
    def is_pair(self) -> bool:
        """A left and right pair: both faces of an aisle in one pass down its middle."""
        return len(self.mounts_yaw_deg) == 2

    def mount(self, k: int) -> "CameraSpec":
        """Camera ``k`` of the rig alone, as one bundle's camera (its one mount)."""
        return self.model_copy(update={"mounts_yaw_deg": (self.mounts_yaw_deg[k],)})

    @property
    def fx_px(self) -> float:
        return self.focal_mm * self.image_width_px / self.sensor_width_mm

    def model(self) -> "CameraModel":
        f = self.fx_px
        K = np.array(
            [[f, 0, self.image_width_px / 2.0], [0, f, self.image_height_px / 2.0], [0, 0, 1.0]]
        )
        return CameraModel(
            K=K,
            dist=np.asarray(self.distortion, dtype=np.float64),
            width_px=self.image_width_px,
            height_px=self.image_height_px,
        )

    def gsd_mm_px(self, distance_m: float) -> float:
        """Ground sample distance at ``distance_m`` (DESIGN.md formula)."""
        return distance_m * 1000.0 * self.sensor_width_mm / (self.focal_mm * self.image_width_px)

    def max_standoff_m(self, *, module_mm: float, symbology: str) -> float:
        """Largest distance at which a symbol of ``module_mm`` still has enough pixels per module."""
        need_px = MIN_MODULE_PX_2D if symbology in TWO_D_SYMBOLOGIES else MIN_BAR_PX_1D
        gsd_needed_mm = module_mm / need_px
        return gsd_needed_mm * self.focal_mm * self.image_width_px / (self.sensor_width_mm * 1000.0)

    def max_speed_m_s(self, distance_m: float, exposure_s: float | None = None) -> float:
        """Fastest flight at ``distance_m`` that keeps motion blur under ``max_blur_px`` with an
        exposure of ``exposure_s`` (default: the camera's shortest)."""
        return self.max_blur_px * self.gsd_mm_px(distance_m) / 1000.0 / (exposure_s or self.exposure_s)

    def fov_deg(self) -> tuple[float, float]:
        w = self.sensor_width_mm
        h = w * self.image_height_px / self.image_width_px
        return (
            float(np.degrees(2 * np.arctan(w / (2 * self.focal_mm)))),
            float(np.degrees(2 * np.arctan(h / (2 * self.focal_mm)))),
        )


def load_camera(path: str | Path) -> CameraSpec:
    """Read and validate a camera YAML file; errors name the file and the field."""
    return load_yaml_model(path, CameraSpec, what="camera file")


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics ``K`` (3x3), distortion (k1 k2 p1 p2 k3) and image size."""

    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    width_px: int = 1920
    height_px: int = 1080

    def __post_init__(self) -> None:
        if np.asarray(self.K).shape != (3, 3):
            raise SiteError(f"camera K must be a 3x3 matrix, got shape {np.asarray(self.K).shape}")
        if np.asarray(self.dist).shape != (5,):
            raise SiteError(
                f"camera distortion must be 5 numbers (k1 k2 p1 p2 k3), got shape "
                f"{np.asarray(self.dist).shape}"
            )

    def distort_normalized(self, xy: np.ndarray) -> np.ndarray:
        """(N,2) ideal normalised coordinates -> distorted normalised coordinates."""
        k1, k2, p1, p2, k3 = self.dist
        x, y = xy[:, 0], xy[:, 1]
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        return np.stack([xd, yd], axis=1)

    def undistort_normalized(self, xy_d: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Inverse of :meth:`distort_normalized` by fixed-point iteration."""
        xy = xy_d.copy()
        if not np.any(self.dist):
            return xy
        for _ in range(iterations):
            err = self.distort_normalized(xy) - xy_d
            xy = xy - err
            if not len(err) or np.max(np.abs(err)) < 1e-12:
                break
        return xy

    def project(self, p_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,3) camera-frame points -> (N,2) distorted pixels and a mask of points in front."""
        p = np.asarray(p_camera, dtype=np.float64).reshape(-1, 3)
        z = p[:, 2]
        in_front = z > 1e-6
        zs = np.where(in_front, z, 1.0)
        xy = p[:, :2] / zs[:, None]
        xy_d = self.distort_normalized(xy)
        uv = xy_d @ self.K[:2, :2].T + self.K[:2, 2]
        return uv, in_front

    def pixel_rays(self, uv: np.ndarray) -> np.ndarray:
        """(N,2) distorted pixels -> (N,3) unit rays in the camera frame."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        Kinv = np.linalg.inv(self.K)
        xy_d = (uv - self.K[:2, 2]) @ Kinv[:2, :2].T
        xy = self.undistort_normalized(xy_d)
        rays = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def transform_points(T_a_b: np.ndarray, p_b: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to (N,3) points: b-coordinates into a."""
    p = np.asarray(p_b, dtype=np.float64).reshape(-1, 3)
    return p @ T_a_b[:3, :3].T + T_a_b[:3, 3]


def invert_transform(T_a_b: np.ndarray) -> np.ndarray:
    """``T_b_a`` from ``T_a_b`` (rigid 4x4)."""
    R, t = T_a_b[:3, :3], T_a_b[:3, 3]
    T = np.eye(4)
    T[:3, :3] = R.T
    T[:3, 3] = -R.T @ t
    return T


def dump_camera(spec: CameraSpec, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))


def R_ned_body_from_euler(roll_rad: float, pitch_rad: float, yaw_rad: float) -> np.ndarray:
    """Body FRD -> local NED rotation from aerospace Z-Y-X Euler angles (MAVLink ATTITUDE)."""
    cr, sr, cp, sp, cy, sy = (np.cos(roll_rad), np.sin(roll_rad), np.cos(pitch_rad),
                              np.sin(pitch_rad), np.cos(yaw_rad), np.sin(yaw_rad))
    return np.array([
        [cp * cy, sr * sp * cy - cr * sy, cr * sp * cy + sr * sy],
        [cp * sy, sr * sp * sy + cr * cy, cr * sp * sy - sr * cy],
        [-sp, sr * cp, cr * cp],
    ])


def T_body_camera(spec: CameraSpec, mount: int = 0) -> np.ndarray:
    """Camera (x right, y down, z forward) -> body FRD, with the gimbal pitched up by
    ``gimbal_pitch_deg`` (negative looks down), turned by mount ``mount``'s yaw (to the right) and
    at the lever arm ``lever_arm_body_m`` turned with it."""
    base = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # columns: cam x,y,z in body
    p = np.radians(spec.gimbal_pitch_deg)
    # pitch up about body y (right): forward axis tilts toward -z (up in FRD)
    R_pitch = np.array([[np.cos(p), 0, np.sin(p)], [0, 1, 0], [-np.sin(p), 0, np.cos(p)]])
    y = np.radians(spec.mounts_yaw_deg[mount])
    # yaw about body z (down): forward turns toward +y (right)
    R_yaw = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3] = R_yaw @ R_pitch @ base
    T[:3, 3] = R_yaw @ np.asarray(spec.lever_arm_body_m, dtype=np.float64)
    return T


def T_body_cameras(spec: CameraSpec) -> list[np.ndarray]:
    """Each mounted camera's ``T_body_camera``, in the camera file's mount order."""
    return [T_body_camera(spec, k) for k in range(len(spec.mounts_yaw_deg))]
