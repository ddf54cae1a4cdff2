import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.camera import (
    CameraModel, CameraSpec, R_ned_body_from_euler, T_body_camera, invert_transform,
    load_camera, transform_points,
)
from warehouse.errors import SiteError


def test_gsd_formula_from_design():
    c = CameraSpec(sensor_width_mm=6.17, focal_mm=6.0, image_width_px=1920)
    assert c.gsd_mm_px(1.5) == pytest.approx(1500 * 6.17 / (6.0 * 1920))


@pytest.mark.parametrize("symbology,module_mm,need_px", [("qr", 5.0, 3.0), ("code128", 1.0, 2.0), ("ean13", 0.66, 2.0)])
def test_max_standoff_gives_exactly_the_needed_pixels(symbology, module_mm, need_px):
    c = CameraSpec()
    d = c.max_standoff_m(module_mm=module_mm, symbology=symbology)
    assert module_mm / c.gsd_mm_px(d) == pytest.approx(need_px)


def test_speed_keeps_blur_at_limit():
    c = CameraSpec(exposure_s=1 / 1000, max_blur_px=1.0)
    v = c.max_speed_m_s(2.0)
    assert v * c.exposure_s / (c.gsd_mm_px(2.0) / 1000) == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-0.2, 0.2), st.floats(-0.05, 0.05), st.floats(-0.002, 0.002), st.floats(-0.002, 0.002),
    st.floats(-1.0, 1.0), st.floats(-0.5, 0.5), st.floats(0.5, 10),
)
def test_project_then_ray_round_trip(k1, k2, p1, p2, x, y, z):
    cam = CameraSpec(distortion=(k1, k2, p1, p2, 0.0)).model()
    p = np.array([[x * z * 0.5, y * z * 0.5, z]])
    uv, ok = cam.project(p)
    assert ok[0]
    ray = cam.pixel_rays(uv)[0]
    np.testing.assert_allclose(ray, p[0] / np.linalg.norm(p[0]), atol=1e-6)


def test_points_behind_camera_are_flagged():
    cam = CameraSpec().model()
    _, ok = cam.project(np.array([[0, 0, -1.0], [0, 0, 1.0]]))
    assert ok.tolist() == [False, True]


def test_camera_model_checks_shapes():
    with pytest.raises(SiteError, match="3x3"):
        CameraModel(K=np.eye(2))
    with pytest.raises(SiteError, match="5 numbers"):
        CameraModel(K=np.eye(3), dist=np.zeros(4))


@settings(max_examples=100, deadline=None)
@given(st.floats(-3.1, 3.1), st.floats(-1.5, 1.5), st.floats(-3.1, 3.1), st.lists(st.floats(-50, 50), min_size=3, max_size=3))
def test_transform_inverse_is_identity(roll, pitch, yaw, t):
    T = np.eye(4)
    T[:3, :3] = R_ned_body_from_euler(roll, pitch, yaw)
    T[:3, 3] = t
    np.testing.assert_allclose(invert_transform(T) @ T, np.eye(4), atol=1e-9)
    p = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(transform_points(invert_transform(T), transform_points(T, p)), p, atol=1e-9)


def test_level_camera_looks_along_body_forward():
    T = T_body_camera(CameraSpec(gimbal_pitch_deg=0.0))
    np.testing.assert_allclose(T[:3, :3] @ [0, 0, 1], [1, 0, 0])  # optical axis = body forward
    np.testing.assert_allclose(T[:3, :3] @ [0, 1, 0], [0, 0, 1])  # image down = body down


@pytest.mark.parametrize("yaw_deg,axis,lever", [
    (0.0, [1, 0, 0], [0.1, 0.0, 0.05]),
    (90.0, [0, 1, 0], [0.0, 0.1, 0.05]),  # FRD: turned right
    (-90.0, [0, -1, 0], [0.0, -0.1, 0.05]),
])
def test_a_mount_turns_the_camera_and_its_lever_arm_about_body_down(yaw_deg, axis, lever):
    T = T_body_camera(CameraSpec(mounts_yaw_deg=(yaw_deg,), lever_arm_body_m=(0.1, 0.0, 0.05)))
    np.testing.assert_allclose(T[:3, :3] @ [0, 0, 1], axis, atol=1e-12)  # optical axis
    np.testing.assert_allclose(T[:3, :3] @ [0, 1, 0], [0, 0, 1], atol=1e-12)  # image down stays body down
    np.testing.assert_allclose(T[:3, 3], lever, atol=1e-12)


def test_a_pair_is_a_left_and_right_camera():
    spec = CameraSpec(mounts_yaw_deg=(-90.0, 90.0))
    assert spec.is_pair and not CameraSpec().is_pair
    np.testing.assert_allclose(T_body_camera(spec, 1), T_body_camera(spec.mount(1)))
    assert spec.mount(0).mounts_yaw_deg == (-90.0,)


def test_yaw_90_faces_east():
    np.testing.assert_allclose(R_ned_body_from_euler(0, 0, np.pi / 2) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("focal_mm: -3\n", "focal_mm: Input should be greater than 0"),
        ("distortion: [0.1, 0.2]\n", "distortion"),
        ("lens: wide\n", "lens: unknown field"),
        ("mounts_yaw_deg: [0, 90]\n", "mounts_yaw_deg: .*a left and right pair"),
        ("mounts_yaw_deg: [-90, 0, 90]\n", "mounts_yaw_deg"),
        ("mounts_yaw_deg: [200]\n", "mounts_yaw_deg: .*-180..180"),
    ],
)
def test_bad_camera_file(tmp_path, content, fragment):
    p = tmp_path / "cam.yaml"
    p.write_text(content)
    with pytest.raises(SiteError, match=fragment) as e:
        load_camera(p)
    assert str(e.value).startswith(f"{p}:1")


@settings(max_examples=60, deadline=None)
@given(st.floats(-180, 180), st.floats(-90, 30), st.lists(st.floats(-0.5, 0.5), min_size=3, max_size=3))
def test_any_mount_is_a_rigid_transform_that_keeps_image_down_down_when_level(yaw, pitch, lever):
    spec = CameraSpec(mounts_yaw_deg=(yaw,), gimbal_pitch_deg=pitch, lever_arm_body_m=tuple(lever))
    T = T_body_camera(spec)
    R = T[:3, :3]
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    # the yaw turns about body down: the lever arm keeps its height and its length
    assert T[2, 3] == pytest.approx(lever[2]) and np.linalg.norm(T[:2, 3]) == pytest.approx(np.linalg.norm(lever[:2]))
    # the optical axis points along the mount's heading, tilted by the gimbal
    axis = R @ [0, 0, 1]
    y, p = np.radians(yaw), np.radians(pitch)
    np.testing.assert_allclose(axis, [np.cos(p) * np.cos(y), np.cos(p) * np.sin(y), -np.sin(p)], atol=1e-9)
