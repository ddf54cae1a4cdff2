"""Side-effecting edges of slam_fusion: telemetry logs, files."""
