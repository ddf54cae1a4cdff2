"""Accounts for the dashboard: a YAML file outside the repository, bcrypt password hashes, roles.

File (default ``~/.config/rackscan/users.yaml``, or ``$RACKSCAN_USERS``)::

    users:
      lan: {role: controller, password_hash: "$2b$12$..."}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml

from dashboard.errors import DashboardError

ROLES = ("operator", "controller", "engineer")
# which pages each role sees
ROLE_PAGES = {
    "operator": ("overview", "flights"),
    "controller": ("overview", "rack_view", "discrepancies", "flights", "export", "erp_upload"),
    "engineer": ("overview", "rack_view", "discrepancies", "flights", "export", "erp_upload"),
}


def default_users_path() -> Path:
    return Path(os.environ.get("RACKSCAN_USERS") or Path.home() / ".config" / "rackscan" / "users.yaml")


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def can_review(self) -> bool:
        return self.role in ("controller", "engineer")


def load_users(path: Path | None = None) -> dict:
    p = Path(path or default_users_path())
    if not p.exists():
        raise DashboardError(f"{p}: users file not found; create one with `rackscan users add NAME --role controller`")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DashboardError(f"{p}: malformed YAML ({getattr(exc, 'problem', exc)}); expected 'users: {{name: {{role, password_hash}}}}'") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise DashboardError(f"{p}: users: expected a mapping of user names to {{role, password_hash}}")
    for name, u in users.items():
        if not isinstance(u, dict) or u.get("role") not in ROLES or not str(u.get("password_hash", "")).startswith("$2"):
            raise DashboardError(f"{p}: users.{name}: expected role in {list(ROLES)} and a bcrypt password_hash")
    return users


def add_user(name: str, role: str, password: str, path: Path | None = None) -> Path:
    if role not in ROLES:
        raise DashboardError(f"--role {role!r}; expected one of {list(ROLES)}")
    if len(password) < 8:
        raise DashboardError("password: at least 8 characters")
    p = Path(path or default_users_path())
    data = {"users": {}}
    if p.exists():
        data = {"users": load_users(p)}
    data["users"][name] = {"role": role, "password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
    os.chmod(p, 0o600)
    return p


def authenticate(name: str, password: str, path: Path | None = None) -> User | None:
    users = load_users(path)
    u = users.get(name)
    if u is None or not bcrypt.checkpw(password.encode(), u["password_hash"].encode()):
        return None
    return User(name, u["role"])
