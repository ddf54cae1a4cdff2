"""Shared test setup: offline Ultralytics, MAVLink 2, and the repository paths."""

import os
from pathlib import Path

os.environ.setdefault("MAVLINK20", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_SITE = REPO / "datasets" / "scenarios" / "default_site.yaml"
