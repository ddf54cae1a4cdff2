"""Accounts for the dashboard: a YAML file outside the repository, bcrypt password hashes, roles.

File (default ``~/.config/rackscan/users.yaml``, or ``$RACKSCAN_USERS``)::

    users:
      lan: {role: controller, password_hash: "$2b$12$..."}

Passwords must be at least 12 characters and not guessable: zxcvbn (Dropbox's estimator, which
knows common passwords, names, keyboard walks and l33t) must score them 3 of 4 or better.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml

from dashboard.errors import DashboardError

ROLES = ("operator", "controller", "engineer", "admin")
MIN_PASSWORD_CHARS = 12
MIN_PASSWORD_SCORE = 3  # zxcvbn: 0 too guessable .. 4 very unguessable
MAX_PASSWORD_BYTES = 72  # bcrypt's limit
# a real hash of a random password: unknown users cost one bcrypt check too, so a name that
# does not exist answers as slowly as a wrong password (no user enumeration by timing)
_DUMMY_HASH = bcrypt.hashpw(os.urandom(16), bcrypt.gensalt()).decode()


def default_users_path() -> Path:
    return Path(os.environ.get("RACKSCAN_USERS") or Path.home() / ".config" / "rackscan" / "users.yaml")


@dataclass(frozen=True)
class User:
    name: str
    role: str


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


def check_password(name: str, password: str) -> None:
    """Refuse a weak password in one line that says why and what would do."""
    from zxcvbn import zxcvbn

    if len(password) < MIN_PASSWORD_CHARS:
        raise DashboardError(f"password: {len(password)} characters; expected at least {MIN_PASSWORD_CHARS} "
                             "(a few unrelated words make a strong one)")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise DashboardError(f"password: {len(password.encode())} bytes; expected at most {MAX_PASSWORD_BYTES} "
                             "(bcrypt reads no further)")
    verdict = zxcvbn(password, user_inputs=[name, "rackscan", "warehouse", "tire", "tyre"])
    if verdict["score"] < MIN_PASSWORD_SCORE:
        why = verdict["feedback"].get("warning") or "too easy to guess"
        raise DashboardError(f"password: {why.rstrip('.')} (strength {verdict['score']} of 4); expected strength "
                             f">= {MIN_PASSWORD_SCORE}: add another uncommon word or two")


def _write_users(p: Path, users: dict) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(yaml.safe_dump({"users": users}, sort_keys=True), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)  # atomic: a reader never sees half a file


def _users_or_empty(p: Path) -> dict:
    return load_users(p) if p.exists() else {}


def add_user(name: str, role: str, password: str, path: Path | None = None) -> Path:
    """Add a user or set a user's password and role; the password is checked, then hashed with bcrypt."""
    if role not in ROLES:
        raise DashboardError(f"--role {role!r}; expected one of {list(ROLES)}")
    if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise DashboardError(f"user name {name!r}; expected 1-100 letters, digits, '-', '_' or '.'")
    check_password(name, password)
    p = Path(path or default_users_path())
    users = _users_or_empty(p)
    users[name] = {"role": role, "password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}
    _write_users(p, users)
    return p


def set_role(name: str, role: str, path: Path | None = None) -> Path:
    if role not in ROLES:
        raise DashboardError(f"--role {role!r}; expected one of {list(ROLES)}")
    p = Path(path or default_users_path())
    users = load_users(p)
    if name not in users:
        raise DashboardError(f"{p}: no user {name!r}; the file has {sorted(users)}")
    users[name]["role"] = role
    _write_users(p, users)
    return p


def remove_user(name: str, path: Path | None = None) -> Path:
    p = Path(path or default_users_path())
    users = load_users(p)
    if name not in users:
        raise DashboardError(f"{p}: no user {name!r}; the file has {sorted(users)}")
    del users[name]
    _write_users(p, users)
    return p


def lookup(name: str, path: Path | None = None) -> User | None:
    """The user of that name as the file says now (role included), or None."""
    u = load_users(path).get(name)
    return User(name, u["role"]) if u else None


def authenticate(name: str, password: str, path: Path | None = None) -> User | None:
    users = load_users(path)
    u = users.get(name)
    pw = password.encode()
    ok = bcrypt.checkpw(pw[:MAX_PASSWORD_BYTES], (u["password_hash"] if u else _DUMMY_HASH).encode())
    return User(name, u["role"]) if u and ok and len(pw) <= MAX_PASSWORD_BYTES else None
