"""The access rules without a browser: roles and actions, the sign-in throttle and lockout over a
real results store, session expiry."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.access import (PAGES, PERMISSIONS, AccessDenied, Session, ThrottlePolicy, attempt_sign_in, authorize,
                              check_session, decide, lock_state, pages_for, unlock)
from dashboard.auth import User, set_role
from dashboard.settings import DashboardSettings
from reconciliation.store import ResultsStore
from tests.dashboard.factories import PASSWORDS, make_users

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
P = ThrottlePolicy()


def s(seconds):
    return T0 + dt.timedelta(seconds=seconds)


ROLE_ACTIONS = [
    ("operator", "view_summary", True), ("operator", "view_operations", True), ("operator", "view_stock", False), ("operator", "review", False),
    ("operator", "export", False), ("operator", "upload_erp", False), ("operator", "manage_users", False),
    ("controller", "view_stock", True), ("controller", "review", True), ("controller", "export", True),
    ("controller", "upload_erp", True), ("controller", "manage_users", False),
    ("engineer", "review", True), ("engineer", "manage_users", False),
    ("admin", "view_summary", True), ("admin", "manage_users", True), ("admin", "review", False),
    ("admin", "export", False), ("admin", "upload_erp", False), ("admin", "view_stock", False),
]


@pytest.mark.parametrize("role,action,ok", ROLE_ACTIONS)
def test_roles_and_actions(role, action, ok):
    user = User("x", role)
    if ok:
        assert authorize(user, action) == user
    else:
        with pytest.raises(AccessDenied, match=f"{action}: user 'x' has role {role}; expected a role in"):
            authorize(user, action)


def test_every_action_is_covered_and_nobody_signed_in_is_refused():
    assert {a for _, a, _ in ROLE_ACTIONS} == set(PERMISSIONS)
    for action in PERMISSIONS:
        with pytest.raises(AccessDenied, match="not signed in"):
            authorize(None, action)
    assert [p.key for p in pages_for("operator")] == ["overview", "live", "flights", "campaigns", "fleet", "operations_log"]
    assert [p.key for p in pages_for("admin")] == ["overview", "live", "flights", "campaigns", "fleet", "operations_log", "users"]
    assert {p.key for p in pages_for("controller")} == {p.key for p in PAGES} - {"users"}


DECISIONS = [
    # (user failures at seconds, client failures at seconds, now, allowed, locked)
    ([], [], 0, True, False),
    ([-1, -2, -3], [], 0, True, False),  # three typos are free
    ([-1, -2, -3, -4], [], 0, False, False),  # the fourth earns 2 s
    ([-3, -4, -5, -6], [], 0, True, False),
    ([-1] * 5, [], 0, False, False),  # 4 s
    ([-5] * 5, [], 0, True, False),
    ([-1000] * 9, [], 0, True, False),  # delays are capped at 300 s
    ([-100000] * 10, [], 0, False, True),  # locked, however long ago
    ([], [-1] * 11, 0, False, False),  # one address, many names
    ([], [-3] * 11, 0, True, False),
    ([], [-800] * 50, 0, False, False),  # the address is refused for the window
    ([], [-901] * 50, 0, True, False),
]


@pytest.mark.parametrize("user_at,client_at,now,ok,locked", DECISIONS)
def test_throttle_decisions(user_at, client_at, now, ok, locked):
    v = decide([s(t) for t in user_at], [s(t) for t in client_at if t >= -P.client_window_s], s(now), P)
    assert (v.allowed, v.locked) == (ok, locked), v
    assert v.allowed or v.reason


@given(st.lists(st.floats(min_value=-2000, max_value=0), max_size=12), st.lists(st.floats(min_value=-899, max_value=0), max_size=60))
def test_waits_are_bounded(user_at, client_at):
    v = decide([s(t) for t in user_at], [s(t) for t in client_at], T0, P)
    assert 0 <= v.wait_s <= max(P.max_delay_s, P.client_window_s)
    assert v.allowed == (v.wait_s == 0 and not v.locked)


@pytest.fixture()
def env(tmp_path):
    users = make_users(tmp_path / "users.yaml")
    return ResultsStore(f"sqlite:///{tmp_path / 'r.db'}"), DashboardSettings(db_url="", users_path=users)


def test_lockout_and_unlock_over_the_store(env):
    store, settings = env
    right = PASSWORDS["lan"][1]
    t = 0.0
    for i in range(P.lockout_failures):
        r = attempt_sign_in(store, settings, "lan", "wrong-guess", "10.0.0.7", now=s(t), policy=P)
        assert r.user is None and r.message.startswith("Unknown user or wrong password.")
        t += 400  # past every delay, so each try is checked
    assert "now locked" in r.message
    assert lock_state(store, "lan") == (P.lockout_failures, True)
    # the right password no longer helps, and it is not even checked
    r = attempt_sign_in(store, settings, "lan", right, "10.0.0.8", now=s(t + 10_000), policy=P)
    assert r.user is None and "locked" in r.message
    unlock(store, "lan", by="ada")
    assert lock_state(store, "lan") == (0, False)
    r = attempt_sign_in(store, settings, "lan", right, "10.0.0.8", now=s(t + 10_001), policy=P)
    assert r.user == User("lan", "controller")
    ev = store.access_events(user="lan")
    assert ev.event.value_counts().to_dict() == {"sign_in_failed": 10, "locked": 1, "sign_in_refused": 1, "unlocked": 1,
                                                 "sign_in": 1}


def test_delay_refuses_even_the_right_password_then_lets_it_in(env):
    store, settings = env
    for i in range(4):
        attempt_sign_in(store, settings, "minh", "nope", "c1", now=s(i * 0.1), policy=P)
    r = attempt_sign_in(store, settings, "minh", PASSWORDS["minh"][1], "c1", now=s(0.5), policy=P)
    assert r.user is None and r.message.startswith("Too many failed sign-ins. Wait")
    r = attempt_sign_in(store, settings, "minh", PASSWORDS["minh"][1], "c1", now=s(2.5), policy=P)
    assert r.user == User("minh", "operator")
    assert lock_state(store, "minh") == (0, False)  # a good sign-in clears the count


def test_one_address_guessing_many_names_is_slowed(env):
    store, settings = env
    for i in range(P.client_free_failures + 1):
        attempt_sign_in(store, settings, f"guess{i}", "nope", "203.0.113.5", now=s(i), policy=P)
    r = attempt_sign_in(store, settings, "lan", PASSWORDS["lan"][1], "203.0.113.5", now=s(P.client_free_failures + 0.5), policy=P)
    assert r.user is None and "Wait" in r.message
    # another address is not affected
    assert attempt_sign_in(store, settings, "lan", PASSWORDS["lan"][1], "198.51.100.1", now=s(20), policy=P).user


def test_unknown_name_and_wrong_password_read_the_same(env):
    store, settings = env
    a = attempt_sign_in(store, settings, "nobody", "x", "c", now=s(0), policy=P)
    b = attempt_sign_in(store, settings, "lan", "x", "c2", now=s(0), policy=P)
    assert a.message == b.message == "Unknown user or wrong password."


SESSION_CASES = [
    # (signed in s ago, last seen s ago, user, ended)
    (60, 10, "lan", ""),
    (3600, 29 * 60, "lan", ""),
    (3600, 31 * 60, "lan", "idle for more than 30 min"),
    (13 * 3600, 5, "lan", "signed in more than 12 h ago"),
    (60, 10, "ghost", "the account no longer exists"),
]


@pytest.mark.parametrize("age,idle,name,ended", SESSION_CASES)
def test_sessions_expire(env, age, idle, name, ended):
    _, settings = env
    now = s(0)
    chk = check_session(Session(name, "c", s(-age), s(-idle)), settings, now)
    assert chk.ended == ended
    if not ended:
        assert chk.session.last_seen == now and chk.user == User("lan", "controller")
    else:
        assert chk.session is None and chk.user is None


def test_a_role_change_applies_to_a_live_session(env):
    _, settings = env
    sess = Session("lan", "c", s(-10), s(-5))
    assert check_session(sess, settings, s(0)).user.role == "controller"
    set_role("lan", "operator", settings.users_path)
    assert check_session(sess, settings, s(0)).user.role == "operator"


def test_settings_round_trip_and_bad_values(tmp_path):
    st_ = DashboardSettings(db_url="sqlite:///x.db", users_path=tmp_path / "u.yaml", idle_timeout_min=5, max_upload_mb=2)
    assert DashboardSettings.from_env(st_.to_env()) == st_
    from dashboard.errors import DashboardError

    with pytest.raises(DashboardError, match="RACKSCAN_MAX_UPLOAD_MB: 'lots'; expected a number"):
        DashboardSettings.from_env({"RACKSCAN_MAX_UPLOAD_MB": "lots"})
    with pytest.raises(DashboardError, match="RACKSCAN_SESSION_IDLE_MIN: 0.0; expected a number > 0"):
        DashboardSettings.from_env({"RACKSCAN_SESSION_IDLE_MIN": "0"})

