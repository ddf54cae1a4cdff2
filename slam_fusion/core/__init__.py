"""Pure numpy core of slam_fusion: trajectories, time association, projection, fusion."""
