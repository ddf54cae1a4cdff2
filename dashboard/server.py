"""How the dashboard's Streamlit server is started: one command line, used by the CLI and the tests."""

from __future__ import annotations

import ipaddress
import math
import sys
from pathlib import Path

from dashboard.settings import DashboardSettings

APP = Path(__file__).resolve().parent / "app.py"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def streamlit_argv(settings: DashboardSettings, *, port: int, address: str = "127.0.0.1",
                   allowed_hosts: tuple[str, ...] = ()) -> list[str]:
    """``python -m streamlit run app.py`` with every security option spelled out (run it in APP's folder)."""
    hosts = allowed_hosts or (LOOPBACK_HOSTS if is_loopback(address) else ())
    argv = [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless", "true", "--server.port", str(port), "--server.address", address,
            "--server.enableXsrfProtection", "true", "--server.enableCORS", "true",
            "--server.maxUploadSize", str(max(1, math.ceil(settings.max_upload_mb))),
            "--server.enableAgentApi", "false", "--server.enableStaticServing", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--client.showErrorDetails", "none", "--client.toolbarMode", "viewer",
            "--global.developmentMode", "false", "--browser.gatherUsageStats", "false"]
    for h in hosts:
        argv += ["--server.allowedHosts", h]
    return argv
