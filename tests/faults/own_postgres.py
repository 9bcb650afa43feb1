"""A throw-away PostgreSQL server owned by one test: initdb, pg_ctl start, stop, kill.

The cluster lives in a fresh directory under the system temp dir rather than in pytest's
``tmp_path``: its Unix socket path must stay under ~107 bytes, and when the tests run as
root the server runs as the unprivileged ``postgres`` user (initdb refuses root), who
cannot enter root's private pytest directories.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.containment.helpers import closed_port

SERVER_USER = "postgres"
START_TIMEOUT_S = 60
TOOLS = ("initdb", "pg_ctl")


def missing_tools() -> str | None:
    """Why this machine cannot run an own server, or None if it can."""
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return f"{' and '.join(absent)} not on PATH"
    if os.geteuid() == 0 and _server_account() is None:
        return f"running as root and there is no {SERVER_USER!r} user to run initdb as"
    return None


def _server_account() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        return None


class OwnPostgres:
    """One cluster on a free loopback port, trust auth, no fsync (the OS never dies here)."""

    def __init__(self) -> None:
        self.port = closed_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._account = _server_account() if os.geteuid() == 0 else None
        self._root = Path(tempfile.mkdtemp(prefix="fw-pg-"))
        if self._account is not None:
            os.chown(self._root, self._account.pw_uid, self._account.pw_gid)
        self._data = self._root / "data"
        self._log = self._root / "server.log"

    def create(self) -> None:
        """Make an empty cluster (superuser ``postgres``, trust auth)."""
        self._run(
            "initdb", "-D", str(self._data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self._data), "-l", str(self._log),
            "-w", "-t", str(START_TIMEOUT_S), "-o", options, "start",
        )  # fmt: skip

    def stop_immediately(self) -> None:
        """``pg_ctl stop -m immediate``: the server dies without a checkpoint, like a crash."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        """Kill the server if it runs (whatever state the test left it in); remove its files."""
        pid_file = self._data / "postmaster.pid"
        if pid_file.exists():
            try:
                self.stop_immediately()
            except subprocess.CalledProcessError:
                _kill_postmaster(pid_file)
        shutil.rmtree(self._root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server log, for failure messages."""
        try:
            return "\n".join(self._log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _run(self, *command: str) -> None:
        account = self._account
        result = subprocess.run(
            command,
            cwd=self._root,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
            check=False,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode,
                command,
                output=result.stdout,
                stderr=f"{result.stderr}\n--- server log ---\n{self.log_tail()}",
            )


def _kill_postmaster(pid_file: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text("utf-8").splitlines()[0])
        os.kill(pid, signal.SIGKILL)
