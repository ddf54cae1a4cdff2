"""The dashboard's settings, with their defaults in one place.

``rackscan dashboard`` builds them from its options and hands them to the Streamlit process in
the environment (``to_env``); the app reads them back with ``from_env``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from dashboard.errors import DashboardError

_ENV = {
    "db_url": "RACKSCAN_DB",
    "users_path": "RACKSCAN_USERS",
    "idle_timeout_min": "RACKSCAN_SESSION_IDLE_MIN",
    "max_session_h": "RACKSCAN_SESSION_MAX_H",
    "max_upload_mb": "RACKSCAN_MAX_UPLOAD_MB",
    "signin_delay_s": "RACKSCAN_SIGNIN_DELAY_S",
    "maintenance_rules": "RACKSCAN_MAINTENANCE_RULES",
    "savings_baseline": "RACKSCAN_SAVINGS_BASELINE",
}


@dataclass(frozen=True)
class DashboardSettings:
    db_url: str = "sqlite:///results.db"
    users_path: Path | None = None  # None: ~/.config/rackscan/users.yaml
    idle_timeout_min: float = 30.0  # a session unused this long ends
    max_session_h: float = 12.0  # and every session ends this long after its sign-in
    max_upload_mb: float = 10.0  # an ERP upload; a 100,000-bin CSV export is about 5 MB
    signin_delay_s: float = 2.0  # the first delay after the free wrong passwords; it doubles with each more
    maintenance_rules: Path | None = None  # None: operations' shipped maintenance.yaml
    savings_baseline: Path | None = None  # None: operations' shipped savings_baseline.yaml

    def __post_init__(self) -> None:
        for name in ("idle_timeout_min", "max_session_h", "max_upload_mb", "signin_delay_s"):
            if not getattr(self, name) > 0:
                raise DashboardError(f"{_ENV[name]}: {getattr(self, name)!r}; expected a number > 0")

    @classmethod
    def from_env(cls, env=None) -> DashboardSettings:
        env = os.environ if env is None else env
        kw: dict = {}
        for f in fields(cls):
            raw = env.get(_ENV[f.name])
            if raw in (None, ""):
                continue
            if f.name in ("users_path", "maintenance_rules", "savings_baseline"):
                kw[f.name] = Path(raw)
            elif f.name == "db_url":
                kw[f.name] = raw
            else:
                try:
                    kw[f.name] = float(raw)
                except ValueError:
                    raise DashboardError(f"{_ENV[f.name]}: {raw!r}; expected a number") from None
        return cls(**kw)

    def to_env(self) -> dict[str, str]:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            out[_ENV[f.name]] = str(v)
        return out

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)
