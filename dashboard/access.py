"""Who may do what in the dashboard, and when a sign-in is allowed: the rules, without Streamlit.

- ``PERMISSIONS``: every action and the roles that may do it; ``PAGES``: each page and the
  permission it needs. ``authorize`` is the one check every page and action goes through
  (``dashboard.gate.require`` calls it with the signed-in user and logs a refusal).
- Sign-in throttle (``ThrottlePolicy``, ``decide``): failures since a user's last sign-in or
  unlock earn a growing delay, then a lockout only an admin lifts (``unlock``); failures from one
  client address across all names earn a delay too, then a refusal for the window. Refused
  attempts are not checked against the password (no oracle) and are logged.
- Sessions (``Session``, ``check_session``) expire when idle and at a fixed age.

Every sign-in, failure, refusal, lockout, unlock, expiry and denied action is one row of the
results store's access log (``ResultsStore.record_access``), which the throttle reads back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from dashboard.auth import ROLES, User, authenticate, lookup
from dashboard.errors import DashboardError
from dashboard.settings import DashboardSettings

ALL = ROLES
REVIEWERS = ("controller", "engineer")
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "view_summary": ALL,  # overview, live, flights, campaigns
    "view_operations": ALL,  # fleet, operations log (operators keep the fleet)
    "view_stock": REVIEWERS,  # rack view, discrepancy list, evidence
    "review": REVIEWERS,  # accept / order recount / adjust
    "export": REVIEWERS,  # CSV / XLSX of discrepancies
    "upload_erp": REVIEWERS,  # an ERP file, reconciled and stored
    "manage_users": ("admin",),  # accounts, roles, unlocking
}


@dataclass(frozen=True)
class PageSpec:
    key: str  # URL path
    file: str  # relative to dashboard/
    title: str
    icon: str
    permission: str


PAGES = (
    PageSpec("overview", "views/overview.py", "Overview", ":material/dashboard:", "view_summary"),
    PageSpec("rack_view", "views/rack_view.py", "Rack view", ":material/grid_view:", "view_stock"),
    PageSpec("discrepancies", "views/discrepancies.py", "Discrepancies", ":material/report:", "view_stock"),
    PageSpec("live", "views/live.py", "Live", ":material/flight_takeoff:", "view_summary"),
    PageSpec("flights", "views/flights.py", "Flights", ":material/flight:", "view_summary"),
    PageSpec("campaigns", "views/campaigns.py", "Campaigns", ":material/event_repeat:", "view_summary"),
    PageSpec("fleet", "views/fleet.py", "Fleet", ":material/build:", "view_operations"),
    PageSpec("operations_log", "views/operations_log.py", "Operations log", ":material/list_alt:", "view_operations"),
    PageSpec("export", "views/export.py", "Export", ":material/download:", "export"),
    PageSpec("erp_upload", "views/erp_upload.py", "ERP upload", ":material/upload_file:", "upload_erp"),
    PageSpec("users", "views/users.py", "Users", ":material/manage_accounts:", "manage_users"),
)


class AccessDenied(DashboardError):
    """A signed-in user asked for an action their role does not allow (or nobody is signed in)."""


def allowed(role: str, action: str) -> bool:
    if action not in PERMISSIONS:
        raise DashboardError(f"unknown action {action!r}; expected one of {sorted(PERMISSIONS)}")
    return role in PERMISSIONS[action]


def authorize(user: User | None, action: str) -> User:
    """The user, if their role allows ``action``; else :class:`AccessDenied` (one line)."""
    if user is None:
        raise AccessDenied(f"{action}: not signed in; sign in first")
    if not allowed(user.role, action):
        who = ", ".join(PERMISSIONS[action])
        raise AccessDenied(f"{action}: user {user.name!r} has role {user.role}; expected a role in [{who}]")
    return user


def pages_for(role: str) -> list[PageSpec]:
    return [p for p in PAGES if allowed(role, p.permission)]


# -- sign-in throttle ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 3  # wrong passwords before any delay (typos happen)
    base_delay_s: float = 2.0  # then 2, 4, 8, ... s between tries
    max_delay_s: float = 300.0
    lockout_failures: int = 10  # then locked until an admin unlocks (`rackscan users unlock`)
    client_window_s: float = 900.0  # failures from one address are counted over this window
    client_free_failures: int = 10
    client_max_failures: int = 50  # then the address is refused until the window has passed


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    locked: bool = False
    wait_s: float = 0.0
    reason: str = ""


def _delay(n_failures: int, free: int, p: ThrottlePolicy) -> float:
    if n_failures <= free:
        return 0.0
    return min(p.max_delay_s, p.base_delay_s * 2 ** (n_failures - free - 1))


def decide(user_failures: list[dt.datetime], client_failures: list[dt.datetime], now: dt.datetime,
           policy: ThrottlePolicy = ThrottlePolicy()) -> Verdict:
    """May a sign-in be tried now? ``user_failures``: this name's failures since its last sign-in
    or unlock; ``client_failures``: this address's failures within the window (any order)."""
    n = len(user_failures)
    if n >= policy.lockout_failures:
        return Verdict(False, locked=True, reason=f"locked after {n} failed sign-ins; an admin must unlock it")
    waits = []
    if n:
        waits.append(_delay(n, policy.free_failures, policy) - (now - max(user_failures)).total_seconds())
    m = len(client_failures)
    if m >= policy.client_max_failures:
        waits.append(policy.client_window_s - (now - min(client_failures)).total_seconds())
    elif m:
        waits.append(_delay(m, policy.client_free_failures, policy) - (now - max(client_failures)).total_seconds())
    wait = max(waits, default=0.0)
    if wait > 0:
        return Verdict(False, wait_s=wait, reason=f"too many failed sign-ins; wait {wait:.0f} s")
    return Verdict(True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def user_failures(store, name: str, policy: ThrottlePolicy) -> list[dt.datetime]:
    """This name's failed sign-ins since its last successful sign-in or unlock, newest first."""
    ev = store.access_events(user=name, events=("sign_in", "sign_in_failed", "unlocked"),
                             limit=policy.lockout_failures + 1)
    out = []
    for e in ev.itertuples():
        if e.event != "sign_in_failed":
            break
        out.append(e.at.to_pydatetime())
    return out


def client_failures(store, client: str, now: dt.datetime, policy: ThrottlePolicy) -> list[dt.datetime]:
    ev = store.access_events(client=client, events=("sign_in_failed",),
                             since=now - dt.timedelta(seconds=policy.client_window_s))
    return [t.to_pydatetime() for t in ev["at"]] if len(ev) else []


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    message: str = ""  # for the person at the form; the same for a wrong name and a wrong password


def attempt_sign_in(store, settings: DashboardSettings, name: str, password: str, client: str, *,
                    now: dt.datetime | None = None, policy: ThrottlePolicy | None = None) -> SignInResult:
    """Check a sign-in against the throttle (the server's delay setting unless ``policy`` says
    otherwise), then the password; log the outcome either way."""
    now = now or utcnow()
    name = name.strip()[:100]
    policy = policy or ThrottlePolicy(base_delay_s=settings.signin_delay_s)
    verdict = decide(user_failures(store, name, policy), client_failures(store, client, now, policy), now, policy)
    if not verdict.allowed:
        store.record_access("sign_in_refused", user=name, client=client, detail=verdict.reason, at=now)
        if verdict.locked:
            return SignInResult(None, "This account is locked after repeated failed sign-ins; ask an admin to unlock it.")
        return SignInResult(None, f"Too many failed sign-ins. Wait {max(1, round(verdict.wait_s))} s before trying again.")
    user = authenticate(name, password, settings.users_path)
    if user is not None:
        store.record_access("sign_in", user=name, client=client, detail=user.role, at=now)
        return SignInResult(user)
    store.record_access("sign_in_failed", user=name, client=client, at=now)
    n = len(user_failures(store, name, policy))
    if n >= policy.lockout_failures:
        store.record_access("locked", user=name, client=client, detail=f"{n} failed sign-ins", at=now)
        return SignInResult(None, "Unknown user or wrong password. This account is now locked; ask an admin to unlock it.")
    wait = _delay(n, policy.free_failures, policy)
    return SignInResult(None, "Unknown user or wrong password." + (f" Wait {wait:.0f} s before the next try." if wait else ""))


def lock_state(store, name: str, policy: ThrottlePolicy = ThrottlePolicy()) -> tuple[int, bool]:
    """(failed sign-ins since the last success or unlock, locked?) of a name."""
    n = len(user_failures(store, name, policy))
    return n, n >= policy.lockout_failures


def unlock(store, name: str, by: str, client: str = "") -> None:
    """Lift a lockout (and the delay): the failures before it no longer count."""
    store.record_access("unlocked", user=name, client=client, detail=f"by {by}")


# -- sessions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    """A signed-in browser session (kept on the server, in Streamlit's session state)."""

    user: str
    client: str
    signed_in_at: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True)
class SessionCheck:
    session: Session | None  # renewed (last_seen = now), or None when it ended
    user: User | None  # as the users file says now: a changed role takes effect at once
    ended: str = ""  # why the session ended ("" if it did not)


def check_session(session: Session | None, settings: DashboardSettings, now: dt.datetime | None = None) -> SessionCheck:
    """Is this session still good? Idle and age limits, and the account still in the users file."""
    if session is None:
        return SessionCheck(None, None)
    now = now or utcnow()
    if (now - session.last_seen).total_seconds() > settings.idle_timeout_min * 60:
        return SessionCheck(None, None, f"idle for more than {settings.idle_timeout_min:g} min")
    if (now - session.signed_in_at).total_seconds() > settings.max_session_h * 3600:
        return SessionCheck(None, None, f"signed in more than {settings.max_session_h:g} h ago")
    user = lookup(session.user, settings.users_path)
    if user is None:
        return SessionCheck(None, None, "the account no longer exists")
    return SessionCheck(replace(session, last_seen=now), user)
