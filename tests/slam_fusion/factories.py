"""Factories for slam_fusion tests (the scene generator lives in slam_fusion.synthetic)."""

from slam_fusion.synthetic import *  # noqa: F401,F403
from slam_fusion.synthetic import camera_facing, linear_trajectory, make_camera, make_site  # noqa: F401
