"""Background processes of the local stack, tracked by pid files so `up` and `down` are safe.

A pid file holds the pid *and* the process start time (field 22 of /proc/<pid>/stat, in clock
ticks since boot). A pid alone is not enough: after a reboot or a long time the same pid may
belong to an unrelated process, and `down` must never signal that one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) of a live process, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


class Processes:
    """The stack's background processes, one pid file per name under `run_dir`."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The pid of the running process `name`, or None (stale pid files are ignored)."""
        try:
            pid_text, started_text = self._pid_file(name).read_text().split()
            pid, started = int(pid_text), int(started_text)
        except (FileNotFoundError, ValueError):
            return None
        stat = _proc_stat(pid)
        # A zombie has exited: it only waits for its parent to collect its exit status.
        if stat is None or stat[0] == "Z" or stat[1] != started:
            return None
        return pid

    def is_running(self, name: str) -> bool:
        return self.pid(name) is not None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        log_file: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> int:
        """Starts `argv` in its own session (so a Ctrl-C in the shell does not reach it), with
        stdout and stderr appended to `log_file`. Returns the pid; if `name` already runs,
        returns its pid and starts nothing."""
        running = self.pid(name)
        if running is not None:
            return running
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as out:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=None if env is None else dict(env),
                start_new_session=True,
            )
        stat = _proc_stat(child.pid)
        started = stat[1] if stat else 0
        tmp = self._pid_file(name).with_suffix(".pid.tmp")
        tmp.write_text(f"{child.pid} {started}\n")
        tmp.replace(self._pid_file(name))
        log.info("started %s pid=%d log=%s", name, child.pid, log_file)
        return child.pid

    def stop(self, name: str, timeout: float = 10.0) -> bool:
        """Stops `name`: SIGTERM to its process group, then SIGKILL after `timeout` seconds.
        Removes the pid file. Returns True if a process was running."""
        pid = self.pid(name)
        if pid is not None:
            self._signal(pid, signal.SIGTERM)
            if not self._wait_gone(name, timeout):
                log.warning("%s pid=%d ignored SIGTERM for %g s; killing it", name, pid, timeout)
                self._signal(pid, signal.SIGKILL)
                self._wait_gone(name, 5.0)
            log.info("stopped %s pid=%d", name, pid)
        self._pid_file(name).unlink(missing_ok=True)
        return pid is not None

    @staticmethod
    def _signal(pid: int, signum: signal.Signals) -> None:
        # The process leads its own session, so its group id is its pid: this also reaches any
        # helper it forked.
        with contextlib.suppress(ProcessLookupError):
            try:
                os.killpg(pid, signum)
            except PermissionError:
                os.kill(pid, signum)

    def _wait_gone(self, name: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pid = self.pid(name)
        while pid is not None:
            # If we are its parent (started in this Python process), collect the exit status
            # so it does not linger as a zombie.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
            pid = self.pid(name)
        return True


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on `host:port` already.

    Checked before a start because a server that cannot bind its port may take seconds to
    notice and exit; saying so at once, with the flag to change, is kinder.
    """
    with socket.socket() as probe:
        # SO_REUSEADDR, as servers set it: a port in TIME_WAIT after a stop counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
