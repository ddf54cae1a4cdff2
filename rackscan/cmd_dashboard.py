"""``rackscan dashboard`` and ``rackscan users``: the stock controller's web app and its accounts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

USERS_HELP = "users file (default ~/.config/rackscan/users.yaml)"


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        db: str = typer.Option("sqlite:///results.db", "--db", help="results store URL (SQLite file or PostgreSQL)"),
        users: Path = typer.Option(None, "--users", help=USERS_HELP),
        port: int = typer.Option(8501, "--port", help="TCP port"),
        address: str = typer.Option("127.0.0.1", "--address",
                                    help="listen address; keep loopback and put an HTTPS reverse proxy in front "
                                         "to serve a network (docs/dashboard-security.md)"),
        allowed_host: list[str] = typer.Option([], "--allowed-host",
                                               help="host name the browser uses (repeat); refuses others (DNS rebinding)"),
        max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="largest ERP upload, MB"),
        session_idle_min: float = typer.Option(30.0, "--session-idle-min", help="sign out after this long unused, min"),
        session_max_h: float = typer.Option(12.0, "--session-max-h", help="sign out this long after signing in, h"),
        signin_delay_s: float = typer.Option(2.0, "--signin-delay-s",
                                             help="wait after the 4th wrong password for a name, s (doubles with each more)"),
        maintenance_rules: Path = typer.Option(None, "--maintenance-rules", help="maintenance rules YAML for the Fleet page (default: the shipped one)"),
        savings_baseline: Path = typer.Option(None, "--savings-baseline", help="manual-count baseline YAML for the Overview's savings report (default: the shipped one)"),
    ) -> None:
        """Run the Streamlit dashboard over the results store (headless; open the printed URL)."""
        from dashboard.auth import load_users
        from dashboard.server import APP, is_loopback, streamlit_argv
        from dashboard.settings import DashboardSettings
        from reconciliation.store import ResultsStore

        settings = DashboardSettings(db_url=db, users_path=users, idle_timeout_min=session_idle_min,
                                     max_session_h=session_max_h, max_upload_mb=max_upload_mb,
                                     signin_delay_s=signin_delay_s, maintenance_rules=maintenance_rules,
                                     savings_baseline=savings_baseline)
        from operations.rules import load_rules

        load_rules(maintenance_rules)  # fail early with a one-line error
        load_users(users)  # fail early with a one-line error
        ResultsStore(db)
        env = dict(os.environ, **settings.to_env(), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        if not is_loopback(address):
            typer.echo(f"warning: serving on {address} in plain HTTP; on a network, keep the default loopback address "
                       "and put an HTTPS reverse proxy in front (docs/dashboard-security.md)", err=True)
        typer.echo(f"rackscan dashboard on http://{address}:{port} (store {db})")
        argv = streamlit_argv(settings, port=port, address=address, allowed_hosts=tuple(allowed_host))
        sys.stdout.flush()
        os.chdir(APP.parent)  # Streamlit reads dashboard/.streamlit/config.toml from here
        # this process becomes the server, so a signal to it (Ctrl-C, a service manager's stop)
        # stops the server; our interpreter, options we validated (bandit B606)
        os.execve(argv[0], argv, env)  # nosec B606

    users_app = typer.Typer(help="Dashboard accounts (bcrypt hashes in a file outside the repository).", no_args_is_help=True)

    @users_app.command("add")
    def add(
        name: str = typer.Argument(..., help="user name"),
        role: str = typer.Option(..., "--role", help="operator, controller, engineer or admin"),
        users: Path = typer.Option(None, "--users", help=USERS_HELP),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
    ) -> None:
        """Add a user or set a user's role and password (at least 12 characters, hard to guess; bcrypt-hashed)."""
        from dashboard.auth import add_user

        pw = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("password", hide_input=True, confirmation_prompt=True)
        p = add_user(name, role, pw, users)
        typer.echo(f"user {name} ({role}) written to {p}")

    @users_app.command("role")
    def role(
        name: str = typer.Argument(..., help="user name"),
        role: str = typer.Option(..., "--role", help="operator, controller, engineer or admin"),
        users: Path = typer.Option(None, "--users", help=USERS_HELP),
    ) -> None:
        """Change a user's role (takes effect on the user's next click)."""
        from dashboard.auth import set_role

        typer.echo(f"user {name} is now {role} in {set_role(name, role, users)}")

    @users_app.command("remove")
    def remove(
        name: str = typer.Argument(..., help="user name"),
        users: Path = typer.Option(None, "--users", help=USERS_HELP),
    ) -> None:
        """Remove a user (their open sessions end on their next click)."""
        from dashboard.auth import remove_user

        typer.echo(f"user {name} removed from {remove_user(name, users)}")

    @users_app.command("list")
    def list_users(
        users: Path = typer.Option(None, "--users", help=USERS_HELP),
        db: str = typer.Option(None, "--db", help="results store URL: also show failed sign-ins and lockouts"),
    ) -> None:
        """List the users, their roles and (with --db) their failed sign-ins and lockouts."""
        from dashboard.access import lock_state
        from dashboard.auth import load_users

        store = None
        if db:
            from reconciliation.store import ResultsStore

            store = ResultsStore(db)
        for name, u in sorted(load_users(users).items()):
            extra = ""
            if store is not None:
                n, locked = lock_state(store, name)
                extra = f"  {n} failed sign-ins" + ("  LOCKED" if locked else "")
            typer.echo(f"{name:20s} {u['role']:10s}{extra}")

    @users_app.command("unlock")
    def unlock(
        name: str = typer.Argument(..., help="user name"),
        db: str = typer.Option("sqlite:///results.db", "--db", help="the dashboard's results store URL"),
    ) -> None:
        """Lift a sign-in lockout (and the growing delay) after failed sign-ins."""
        import getpass

        from dashboard.access import lock_state, unlock as do_unlock
        from reconciliation.store import ResultsStore

        store = ResultsStore(db)
        n, locked = lock_state(store, name)
        do_unlock(store, name, by=f"{getpass.getuser()} (rackscan users unlock)")
        typer.echo(f"user {name} unlocked ({n} failed sign-ins{', was locked' if locked else ''})")

    app.add_typer(users_app, name="users")
