"""Camera sources for ``rackscan fly`` that live above ``flight/``: the synthetic warehouse's virtual
camera (``datasets`` renders it, and ``flight`` may not import ``datasets``)."""

from __future__ import annotations

from pathlib import Path

from flight.errors import FlightError
from flight.session import CameraSource, opencv_camera, parse_camera


def virtual_camera(scenario_yaml: Path) -> CameraSource:
    """The synthetic warehouse rendered from the vehicle's pose (the scenario's camera and site).

    From where a simulated vehicle really is when it says so (SIMSTATE, as ArduPilot SITL's and
    ``flight.sim``'s): an estimate that drifts (``SimConfig.drift_m_per_min``) then shows in the
    telemetry and not in the pictures, and fusion has to solve it from the location labels. A
    frame is stamped with the moment of the position it was rendered from (the SIMSTATE's
    arrival), on the camera's clock: the scenario's ``telemetry.clock_offset_s`` ahead of the
    telemetry's. A scenario whose camera is a left and right pair renders both cameras from the
    same pose (a tuple of two pictures, as ``flight.recorder`` takes them)."""
    import numpy as np

    from datasets.render import Renderer
    from datasets.world import build_world
    from flight.livecam import TimedFrame
    from warehouse.camera import R_ned_body_from_euler, T_body_cameras

    world = build_world(scenario_yaml)
    renderer = Renderer(world)
    origin = world.site.origin
    R_site_ned = origin.ned_to_site_rotation()
    T_bcs = T_body_cameras(world.camera)
    offset_ns = int(round(world.scenario.spec.telemetry.clock_offset_s * 1e9))

    def capture(pose):
        T_sb = np.eye(4)
        T_sb[:3, :3] = R_site_ned @ R_ned_body_from_euler(pose.roll_rad, pose.pitch_rad, pose.yaw_rad)
        true = pose.true_lat_deg is not None and pose.true_lon_deg is not None
        T_sb[:3, 3] = origin.geodetic_to_site(pose.true_lat_deg if true else pose.lat_deg,
                                              pose.true_lon_deg if true else pose.lon_deg, pose.alt_amsl_m)
        imgs = tuple(renderer.render(T_sb @ T_bc).image_bgr for T_bc in T_bcs)
        img = imgs if len(imgs) > 1 else imgs[0]
        # the picture shows the moment of the position it was rendered from: the true one's when it has it
        t_ns = int(pose.true_t_ns) if true and pose.true_t_ns else int(pose.t_ns)
        return TimedFrame(img, t_ns + offset_ns) if offset_ns or t_ns != pose.t_ns else img

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
