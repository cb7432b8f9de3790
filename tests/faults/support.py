"""Fault-test helpers: a gated worker to SIGKILL at a known point, waiting on database state."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from tests.support.procs import PY, ROOT, child_env, free_port

VISIBILITY_S = 2  # broker visibility timeout for fault tests: an unacked message is redelivered after it


def _wait_ready(proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode(errors="replace")
        if not line and proc.poll() is not None:
            raise RuntimeError("worker died:\n" + "".join(lines[-30:]))
        lines.append(line)
        if "ready." in line:
            threading.Thread(target=lambda: [None for _ in iter(proc.stdout.readline, b"")], daemon=True).start()
            return
    raise TimeoutError("worker not ready:\n" + "".join(lines[-30:]))


@contextmanager
def worker(gate: str | None = None, mark: Path | None = None, queues: str = "default,gpu", extra_env: dict | None = None):
    """A real Celery worker process (gated when `gate` is given); yields its Popen; killed on exit."""
    env = child_env({"CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S), **(extra_env or {})})
    name = f"fault-{os.getpid()}-{free_port()}@%h"
    if gate:
        cmd = [PY, "-m", "tests.faults.gated_worker", gate, str(mark), queues, name]
    else:
        cmd = [PY, "-m", "celery", "-A", "config", "worker", "-Q", queues, "--pool", "solo", "--concurrency", "1",
               "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", name]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)


def wait_for(predicate, timeout_s: float = 180, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (a liveness bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"timed out waiting for {what}")


def sigkill(proc: subprocess.Popen) -> None:
    """SIGKILL the worker process (no warm shutdown, no ack, no cleanup) and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(15)
    assert proc.returncode == -signal.SIGKILL
