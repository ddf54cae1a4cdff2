import subprocess
import sys

import pytest
import yaml

from dashboard.auth import add_user, authenticate, load_users
from dashboard.errors import DashboardError
from tests.conftest import REPO


def test_users_add_cli_hashes_the_password(tmp_path):
    users = tmp_path / "users.yaml"
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "users", "add", "lan", "--role", "controller", "--users", str(users),
                        "--password-stdin"], input="a-long-secret\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(users.read_text())
    h = data["users"]["lan"]["password_hash"]
    assert h.startswith("$2") and "a-long-secret" not in users.read_text()
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    assert authenticate("lan", "a-long-secret", users).role == "controller"
    assert authenticate("lan", "wrong", users) is None
    assert authenticate("nobody", "a-long-secret", users) is None


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("users: [1, 2]\n", "users: expected a mapping"),
        ("users:\n  lan: {role: boss, password_hash: '$2b$x'}\n", "users.lan: expected role in"),
        ("users: {lan: {role: controller, password_hash: plain}}\n", "bcrypt password_hash"),
        ("users: {lan: [\n", "malformed YAML"),
    ],
)
def test_bad_users_files(tmp_path, content, fragment):
    p = tmp_path / "u.yaml"
    p.write_text(content)
    with pytest.raises(DashboardError, match=fragment):
        load_users(p)


def test_dashboard_cli_refuses_a_missing_users_file(tmp_path):
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "dashboard", "--db", f"sqlite:///{tmp_path}/r.db",
                        "--users", str(tmp_path / "none.yaml")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: {tmp_path / 'none.yaml'}: users file not found; create one with `rackscan users add NAME --role controller`"


def test_short_password_and_unknown_role(tmp_path):
    with pytest.raises(DashboardError, match="at least 8"):
        add_user("a", "controller", "short", tmp_path / "u.yaml")
    with pytest.raises(DashboardError, match="--role 'boss'"):
        add_user("a", "boss", "long-enough", tmp_path / "u.yaml")
