"""Maintenance rules and the pre-flight checklist, read from YAML (shipped defaults in
``operations/defaults/``); one-line errors naming the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from operations.errors import OperationsError

DEFAULTS = Path(__file__).parent / "defaults"
DEFAULT_RULES = DEFAULTS / "maintenance.yaml"
DEFAULT_CHECKLIST = DEFAULTS / "checklist.yaml"
ITEM_KINDS = ("airframe", "battery", "camera")
LIMITS = ("every_hours", "every_cycles", "every_days", "retire_at_cycles", "min_capacity_pct")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    id: str
    item: Literal["airframe", "battery", "camera"]
    text: str = ""
    every_hours: float | None = None
    every_cycles: float | None = None
    every_days: float | None = None
    retire_at_cycles: float | None = None
    min_capacity_pct: float | None = None
    blocks_flight: bool = True

    @model_validator(mode="after")
    def _one_limit(self):
        given = [k for k in LIMITS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"{len(given)} limits given ({', '.join(given) or 'none'}); expected exactly one of "
                             f"{', '.join(LIMITS)}")
        if getattr(self, given[0]) <= 0:
            raise ValueError(f"{given[0]}: must be above 0")
        if self.item != "battery" and given[0] in ("every_cycles", "retire_at_cycles", "min_capacity_pct"):
            raise ValueError(f"{given[0]}: applies to batteries only; this rule's item is {self.item}")
        if self.item == "camera" and given[0] == "every_hours":
            raise ValueError("every_hours: a camera's flight hours are not logged; use every_days")
        return self

    @property
    def limit(self) -> tuple[str, float]:
        k = next(k for k in LIMITS if getattr(self, k) is not None)
        return k, float(getattr(self, k))


class MaintenanceRules(_Strict):
    due_soon_frac: float = 0.9
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique(self):
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"rule ids {dup} repeated; expected each id once")
        if not 0 < self.due_soon_frac <= 1:
            raise ValueError("due_soon_frac: expected a fraction in (0, 1]")
        return self


class ChecklistItem(_Strict):
    id: str
    kind: Literal["confirm", "check"]
    text: str
    by: str = ""


class Checklist(_Strict):
    name: str
    valid_minutes: float = 60.0
    items: list[ChecklistItem]

    @property
    def to_confirm(self) -> list[ChecklistItem]:
        return [i for i in self.items if i.kind == "confirm"]


def _load(path: Path, model, what: str):
    from warehouse.validation import load_yaml_model

    return load_yaml_model(path, model, what=what, error=OperationsError)


def load_rules(path: str | Path | None = None) -> MaintenanceRules:
    return _load(Path(path) if path else DEFAULT_RULES, MaintenanceRules, "maintenance rules file")


def load_checklist(path: str | Path | None = None) -> Checklist:
    return _load(Path(path) if path else DEFAULT_CHECKLIST, Checklist, "checklist file")


__all__ = ["Rule", "MaintenanceRules", "Checklist", "ChecklistItem", "load_rules", "load_checklist", "DEFAULT_RULES",
           "DEFAULT_CHECKLIST", "ITEM_KINDS"]
