"""Reading YAML files into plain data and turning validation failures into one-line errors.

Every error names the file, the path inside it (``racks[2].bays_m``) and, where the YAML parser
can tell, the line, then says what the value must look like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from warehouse.errors import SiteError


def load_yaml_mapping(path: str | Path, *, what: str, error=SiteError) -> dict[str, Any]:
    """Parse a YAML file whose top level must be a mapping; one-line errors otherwise."""
    p = Path(path)
    if not p.exists():
        raise error(f"{p}: {what} not found (expected a YAML file)")
    if p.is_dir():
        raise error(f"{p}: is a directory, expected a YAML {what}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not UTF-8 text at byte {exc.start}; expected a YAML {what}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where}: malformed YAML ({problem}); expected a YAML {what}") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise error(f"{p}: top level is {kind}; expected a mapping of fields (a YAML {what})")
    return data


def format_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def yaml_line(path: str | Path, loc: Iterable[Any]) -> int | None:
    """1-based line of the node at ``loc`` in a YAML file, or None when it cannot be found."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - a best-effort hint only
        return None
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = [v for k, v in node.value if getattr(k, "value", None) == part]
            if not match:
                return line
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            break
    if node is not None:
        line = node.start_mark.line + 1
    return line


def format_validation_error(path: str | Path, exc: ValidationError) -> str:
    """The first pydantic error as ``file:line: field.path: message``."""
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    line = yaml_line(path, loc)
    where = f"{path}:{line}" if line else str(path)
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling against the documented fields)"
    if err["type"] == "missing":
        msg = "required field is missing"
    more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return f"{where}: {format_loc(loc)}: {msg}{more}"


def load_yaml_model(path: str | Path, model, *, what: str, error=SiteError):
    """A YAML file validated into the pydantic ``model``; every failure one line naming the file,
    the field and, where known, the line (``error`` is the caller's package error)."""
    data = load_yaml_mapping(path, what=what, error=error)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(format_validation_error(path, exc)) from None
