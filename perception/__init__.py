"""rackscan perception: see ../shared/DESIGN.md for this package's job."""
