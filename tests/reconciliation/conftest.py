"""A throwaway PostgreSQL server on loopback (Debian's postgresql), for the store tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found at {PG_BIN} (Debian package postgresql)")
    tmp = Path(tempfile.mkdtemp(prefix="rackscan-pg-"))
    os.chmod(tmp, 0o777)
    data = tmp / "data"
    port = _free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    try:
        subprocess.run(as_user + [str(PG_BIN / "initdb"), "-D", str(data), "-U", "rackscan", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run(as_user + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", f"-k {tmp} -h 127.0.0.1 -p {port}",
                                  "-l", str(tmp / "log"), "-w", "start"], check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"could not start a local PostgreSQL server: {exc}")
    url = f"postgresql+psycopg://rackscan@127.0.0.1:{port}/postgres"
    yield url
    subprocess.run(as_user + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=60)
    shutil.rmtree(tmp, ignore_errors=True)
