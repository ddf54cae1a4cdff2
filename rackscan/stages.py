"""Resumable stage bookkeeping for the offline pipeline (``rackscan process``).

Each stage writes its outputs into the bundle and then records, in ``BUNDLE/.rackscan/state.json``,
a fingerprint of its inputs and options. A later run skips a stage whose fingerprint still
matches and whose outputs still exist, so a killed run continues where it stopped and nothing is
computed twice. Frame-parallel stages keep per-chunk outputs under ``BUNDLE/.rackscan/chunks/`` so
a kill in the middle of perception loses at most the chunk in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable


def fingerprint(*parts: Any, files: Iterable[Path] = ()) -> str:
    """A stable hash of option values and of the size+mtime+name of input files."""
    h = hashlib.sha256()
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    for f in sorted(Path(p) for p in files):
        if f.exists():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            h.update(f"{f.name}:missing".encode())
    return h.hexdigest()[:16]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """A hash of a file's bytes (kept per path, size and time while the process lives): for inputs
    whose content, not place, decides a stage's result, such as detector weights, so a checkout
    moved or cloned elsewhere does not detect every recorded flight again."""
    p = Path(path).resolve()
    if not p.exists():  # the stage that reads it says so
        return f"{p.name}:missing"
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()[:16]
    return _DIGESTS[key]


def code_digest(*packages: str, leave_out: Iterable[str] = ()) -> str:
    """A hash of the Python sources of packages: a stage's fingerprint changes with its code, so an
    upgraded rackscan does not reuse outputs its older code computed. ``leave_out``: modules
    (``"datasets.world"``) whose results the caller hashes itself instead of their code."""
    import importlib.util

    skip = set(leave_out)
    h = hashlib.sha256()
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            h.update(f"{name}:missing".encode())
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        for f in sorted(root.rglob("*.py")):
            if ".".join((name, *f.relative_to(root).with_suffix("").parts)) in skip:
                continue
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class StageState:
    bundle: Path

    @property
    def _path(self) -> Path:
        return self.bundle / ".rackscan" / "state.json"

    def _load(self) -> dict:
        try:
            return json.loads(self._path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def is_done(self, stage: str, fp: str, outputs: Iterable[Path]) -> bool:
        rec = self._load().get(stage)
        return bool(rec) and rec.get("fingerprint") == fp and all(Path(o).exists() for o in outputs)

    def info(self, stage: str) -> dict:
        """What ``mark_done`` recorded for a stage ({} when nothing)."""
        return dict(self._load().get(stage) or {})

    def mark_done(self, stage: str, fp: str, **info: Any) -> None:
        data = self._load()
        data[stage] = {"fingerprint": fp, **info}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, self._path)

    def chunk_dir(self, stage: str, fp: str) -> Path:
        d = self.bundle / ".rackscan" / "chunks" / f"{stage}-{fp}"
        d.mkdir(parents=True, exist_ok=True)
        return d
