import subprocess

import pytest
import yaml

from dashboard.auth import add_user, authenticate, check_password, load_users, lookup, remove_user, set_role
from dashboard.errors import DashboardError
from tests.conftest import REPO

RACKSCAN = str(REPO / ".venv/bin/rackscan")


def test_users_add_cli_hashes_the_password(tmp_path):
    users = tmp_path / "users.yaml"
    r = subprocess.run([RACKSCAN, "users", "add", "lan", "--role", "controller", "--users", str(users),
                        "--password-stdin"], input="a-long-secret\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(users.read_text())
    h = data["users"]["lan"]["password_hash"]
    assert h.startswith("$2") and "a-long-secret" not in users.read_text()
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    assert authenticate("lan", "a-long-secret", users).role == "controller"
    assert authenticate("lan", "wrong", users) is None
    assert authenticate("nobody", "a-long-secret", users) is None
    assert authenticate("lan", "a-long-secret" + "x" * 80, users) is None  # bcrypt reads 72 bytes; we read them all


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
    r = subprocess.run([RACKSCAN, "dashboard", "--db", f"sqlite:///{tmp_path}/r.db",
                        "--users", str(tmp_path / "none.yaml")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: {tmp_path / 'none.yaml'}: users file not found; create one with `rackscan users add NAME --role controller`"


@pytest.mark.parametrize(
    "name,password,fragment",
    [
        ("lan", "short", "password: 5 characters; expected at least 12"),
        ("lan", "password1234", "password: This is a very common password (strength 1 of 4)"),
        ("lan", "aaaaaaaaaaaaaaaa", "password: Repeats like \"aaa\" are easy to guess"),
        ("lan", "qwertyuiopasdf", "strength"),
        ("warehouse", "warehouse2026", "strength"),
        ("lan", "é" * 40, "password: 80 bytes; expected at most 72"),
    ],
)
def test_weak_passwords_are_refused(name, password, fragment):
    with pytest.raises(DashboardError) as e:
        check_password(name, password)
    assert fragment in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("password", ["lan-secret-1", "correct horse battery staple", "Kettle-Orbit-Mango-93"])
def test_strong_passwords_pass(password):
    check_password("lan", password)


def test_unknown_role_and_bad_name(tmp_path):
    with pytest.raises(DashboardError, match="--role 'boss'"):
        add_user("a", "boss", "Kettle-Orbit-Mango-93", tmp_path / "u.yaml")
    with pytest.raises(DashboardError, match="user name 'a b'"):
        add_user("a b", "controller", "Kettle-Orbit-Mango-93", tmp_path / "u.yaml")


def test_role_change_and_removal(tmp_path):
    p = tmp_path / "u.yaml"
    add_user("lan", "controller", "Kettle-Orbit-Mango-93", p)
    add_user("ada", "admin", "Kettle-Orbit-Mango-94", p)
    set_role("lan", "operator", p)
    assert lookup("lan", p).role == "operator"
    remove_user("lan", p)
    assert lookup("lan", p) is None and lookup("ada", p).role == "admin"
    with pytest.raises(DashboardError, match="no user 'lan'"):
        set_role("lan", "controller", p)


def test_users_cli_lists_and_unlocks(tmp_path):
    from reconciliation.store import ResultsStore
    from tests.dashboard.factories import make_users

    users = make_users(tmp_path / "users.yaml")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = ResultsStore(db)
    for _ in range(10):
        store.record_access("sign_in_failed", user="lan", client="10.1.1.1")
    run = lambda *a: subprocess.run([RACKSCAN, "users", *a], capture_output=True, text=True, timeout=60)  # noqa: E731
    out = run("list", "--users", str(users), "--db", db).stdout
    assert "lan                  controller  10 failed sign-ins  LOCKED" in out
    r = run("unlock", "lan", "--db", db)
    assert r.returncode == 0 and r.stdout.strip() == "user lan unlocked (10 failed sign-ins, was locked)"
    assert "LOCKED" not in run("list", "--users", str(users), "--db", db).stdout
    assert run("role", "lan", "--role", "operator", "--users", str(users)).returncode == 0
    assert lookup("lan", users).role == "operator"
    r = run("remove", "nobody", "--users", str(users))
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "no user 'nobody'" in r.stderr
    r = run("add", "x", "--role", "controller", "--users", str(users), "--password-stdin")
    assert r.returncode == 1 and "password: 0 characters; expected at least 12" in r.stderr
