"""Camera sources for ``rackscan fly`` that live above ``flight/``: the synthetic warehouse's virtual
camera (``datasets`` renders it, and ``flight`` may not import ``datasets``)."""

from __future__ import annotations

from pathlib import Path

from flight.errors import FlightError
from flight.session import CameraSource, opencv_camera, parse_camera


def virtual_camera(scenario_yaml: Path) -> CameraSource:
    """The synthetic warehouse rendered from the vehicle's pose (the scenario's camera and site)."""
    import numpy as np

    from datasets.render import Renderer
    from datasets.world import build_world
    from warehouse.camera import R_ned_body_from_euler, T_body_camera

    world = build_world(scenario_yaml)
    renderer = Renderer(world)
    origin = world.site.origin
    R_site_ned = origin.ned_to_site_rotation()
    T_bc = T_body_camera(world.camera)

    def capture(pose):
        T_sb = np.eye(4)
        T_sb[:3, :3] = R_site_ned @ R_ned_body_from_euler(pose.roll_rad, pose.pitch_rad, pose.yaw_rad)
        T_sb[:3, 3] = origin.geodetic_to_site(pose.lat_deg, pose.lon_deg, pose.alt_amsl_m)
        return renderer.render(T_sb @ T_bc).image_bgr

    capture.renders_pose = True  # the recorder stamps its frames with the pose's time
    return CameraSource(name="synthetic", capture=capture, spec=world.camera, site_yaml_text=world.site.to_yaml())


def camera_source(text: str, *, scenario_yaml: Path | None = None, camera_file: Path | None = None) -> CameraSource:
    """``--camera`` (none, opencv:INDEX, synthetic) with the files it needs."""
    kind, index = parse_camera(text)
    if kind == "synthetic":
        if not scenario_yaml:
            raise FlightError("--camera synthetic: needs --scenario SCENARIO.yaml (the warehouse to render)")
        return virtual_camera(scenario_yaml)
    if kind == "opencv":
        return opencv_camera(index, camera_file)
    return CameraSource()
