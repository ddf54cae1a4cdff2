"""Real flights in: logs (.tlog, DataFlash .bin, PX4 .ulg), a video or EXIF-timed photos and a
camera file become the same flight bundle `rackscan fly` records (``import_flight``); camera
calibration from board views (``calibrate``); a bundle exported back out as a real camera's and
autopilot's files (``export``). Imports warehouse and flight only; nothing below imports it."""
