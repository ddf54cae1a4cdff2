"""``rackscan dashboard`` and ``rackscan users``: the stock controller's web app and its accounts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        db: str = typer.Option("sqlite:///results.db", "--db", help="results store URL (SQLite file or PostgreSQL)"),
        users: Path = typer.Option(None, "--users", help="users file (default ~/.config/rackscan/users.yaml)"),
        port: int = typer.Option(8501, "--port", help="TCP port"),
        address: str = typer.Option("127.0.0.1", "--address", help="listen address"),
    ) -> None:
        """Run the Streamlit dashboard over the results store (headless; open the printed URL)."""
        from dashboard.auth import load_users
        from reconciliation.store import ResultsStore

        if users:
            os.environ["RACKSCAN_USERS"] = str(users)
        load_users(users)  # fail early with a one-line error
        ResultsStore(db)
        env = dict(os.environ, RACKSCAN_DB=db, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        typer.echo(f"rackscan dashboard on http://{address}:{port} (store {db})")
        raise SystemExit(subprocess.call([sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
                                          "--server.port", str(port), "--server.address", address,
                                          "--browser.gatherUsageStats", "false"], env=env, cwd=str(APP.parent)))

    users_app = typer.Typer(help="Dashboard accounts (bcrypt hashes in a file outside the repository).", no_args_is_help=True)

    @users_app.command("add")
    def add(
        name: str = typer.Argument(..., help="user name"),
        role: str = typer.Option(..., "--role", help="operator, controller or engineer"),
        users: Path = typer.Option(None, "--users", help="users file (default ~/.config/rackscan/users.yaml)"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
    ) -> None:
        """Add or update a user; the password is hashed with bcrypt."""
        from dashboard.auth import add_user

        pw = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("password", hide_input=True, confirmation_prompt=True)
        p = add_user(name, role, pw, users)
        typer.echo(f"user {name} ({role}) written to {p}")

    app.add_typer(users_app, name="users")
