"""Optional parts of rackscan and the extra that installs each (pyproject's optional-dependencies).

The core (plan, fly, detect on ONNX Runtime, fuse, reconcile, dashboard) installs without them;
a verb that needs one says so in one line instead of failing on an import."""

from __future__ import annotations

import importlib.util

from warehouse.errors import RackscanError

EXTRA_OF = {"torch": "train", "ultralytics": "train", "ray": "scale", "rerun": "replay", "open3d": "slam"}


def require(module: str, what: str, error: type[RackscanError] = RackscanError) -> None:
    """Raise ``error`` (one line) when ``module`` is not installed; ``what`` says what needed it."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRA_OF.get(module, "all")
        raise error(f"{what}: needs {module}, which this install does not have; install it with "
                    f"`pip install -e '.[{extra}]'` (or `make test`, which installs everything)")
