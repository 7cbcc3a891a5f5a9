"""Run a few long-lived processes together and stop every one of them, children included.

Each process starts in its own session, hence its own process group, so the stop reaches what
it spawned too (runserver's autoreloader child, Celery's pool workers) and a Ctrl-C in the
terminal does not hit them half-way. On SIGINT, SIGTERM or SIGHUP — or when any process exits
by itself — every process gets SIGTERM, then what is left of its group, then SIGKILL after a
grace period; `run()` returns only when no member of any group is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import psutil

# Celery's warm shutdown alone takes 4-7 s here (longer while a task runs): leaders get this
# long before their groups are signalled directly, then GROUP_GRACE_S more before SIGKILL.
GRACE_S = 15.0
GROUP_GRACE_S = 5.0


@dataclass
class Managed:
    name: str
    argv: list[str]
    popen: subprocess.Popen | None = None
    reader: threading.Thread | None = None


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes in a process group."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


class Supervisor:
    def __init__(
        self, *, env: dict[str, str] | None = None, cwd: str | None = None, out=None, grace_s: float = GRACE_S
    ):
        self.env = env
        self.cwd = cwd
        self.out = out or sys.stdout
        self.grace_s = grace_s
        self.procs: list[Managed] = []
        self._stop = threading.Event()
        self._stop_reason = ""
        self._write_lock = threading.Lock()

    def add(self, name: str, argv: list[str]) -> None:
        self.procs.append(Managed(name=name, argv=argv))

    # -- output ----------------------------------------------------------------------------
    def say(self, name: str, line: str) -> None:
        width = max(len(p.name) for p in self.procs) if self.procs else len(name)
        with self._write_lock:
            self.out.write(f"{name:<{width}} | {line.rstrip()}\n")
            self.out.flush()

    def _pump(self, managed: Managed) -> None:
        assert managed.popen and managed.popen.stdout
        for raw in iter(managed.popen.stdout.readline, b""):
            self.say(managed.name, raw.decode("utf-8", "replace"))

    # -- lifecycle -------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    def _on_signal(self, signum, _frame) -> None:
        self.request_stop(signal.Signals(signum).name)

    def start(self) -> None:
        for managed in self.procs:
            managed.popen = subprocess.Popen(  # noqa: S603 — our own argv lists, no shell
                managed.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: the stop can find its children
            )
            managed.reader = threading.Thread(target=self._pump, args=(managed,), daemon=True)
            managed.reader.start()
            self.say(managed.name, f"started (pid {managed.popen.pid})")

    def wait(self) -> int:
        """Block until a signal arrives or a process exits; then stop everything.

        Returns 0 when stopped by a signal, otherwise the exit code of the process that ended.
        """
        exit_code = 0
        while not self._stop.wait(0.2):
            for managed in self.procs:
                code = managed.popen.poll() if managed.popen else None
                if code is not None:
                    exit_code = code or 1
                    self.request_stop(f"{managed.name} exited with code {code}")
                    break
        self.say("supervisor", f"stopping all ({self._stop_reason})")
        self.stop()
        return exit_code

    def _leaders_alive(self) -> bool:
        return any(m.popen is not None and m.popen.poll() is None for m in self.procs)

    def _alive(self) -> list[psutil.Process]:
        alive = []
        for managed in self.procs:
            if managed.popen is None:
                continue
            managed.popen.poll()  # reap the leader so it does not count as alive
            alive.extend(group_members(managed.popen.pid))
        return alive

    def _wait_until(self, done, deadline: float) -> None:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the leaders, then whatever is left in their groups, then SIGKILL.

        Leaders first: Celery's main process then shuts its pool down in order (a pool child
        hit by SIGTERM directly is logged as lost). runserver's reloader parent dies at once,
        and the second round reaches the serving child it leaves behind.
        """
        for managed in self.procs:
            if managed.popen is not None and managed.popen.poll() is None:
                managed.popen.terminate()
        self._wait_until(lambda: not self._leaders_alive(), time.monotonic() + self.grace_s)
        for proc in self._alive():
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        self._wait_until(lambda: not self._alive(), time.monotonic() + min(GROUP_GRACE_S, self.grace_s))
        leftovers = self._alive()
        if leftovers:
            self.say("supervisor", f"killing {len(leftovers)} process(es) that ignored SIGTERM")
            for proc in leftovers:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(leftovers, timeout=5)
        for managed in self.procs:
            if managed.popen is not None:
                managed.popen.wait(timeout=5)
            if managed.reader is not None:
                managed.reader.join(timeout=2)

    def run(self) -> int:
        """Start all, wait, stop all. Installs handlers for SIGINT, SIGTERM and SIGHUP."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.start()
            return self.wait()
        except BaseException:
            self.stop()
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
