"""rackscan slam_fusion: see ../shared/DESIGN.md for this package's job."""
