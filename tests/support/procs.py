"""Start real server and worker processes for integration and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict | None = None) -> dict:
    """Environment for a child process that talks to the same test database and Redis prefix."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env["REDIS_PREFIX"] = settings.REDIS_PREFIX
    env["SECRET_KEY"] = settings.SECRET_KEY
    env["DEBUG"] = "1"
    env["SECURE_HTTPS"] = "0"
    env["LAYPATH_VAR_DIR"] = str(settings.VAR_DIR)
    env["SLIDE_ROOT"] = str(settings.SLIDE_ROOT)
    env["AXES_ENABLED"] = "0"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


@contextmanager
def asgi_server(extra_env: dict | None = None, workers: int = 1):
    """Run config.asgi under uvicorn on a free port; yields the base URL."""
    port = free_port()
    log = open(Path(os.environ.get("LAYPATH_VAR_DIR", "/tmp")) / f"uvicorn-{port}.log", "wb")
    proc = subprocess.Popen(
        [PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env=child_env(extra_env), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def celery_worker(queues: str = "default,gpu", extra_env: dict | None = None):
    """Run a real Celery worker process; yields the Popen handle once the worker is ready."""
    env = child_env(extra_env)
    proc = subprocess.Popen(
        [PY, "-m", "celery", "-A", "config", "worker", "-Q", queues, "--pool", "solo", "--concurrency", "1",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}-{free_port()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode(errors="replace")
            if not line and proc.poll() is not None:
                raise RuntimeError("worker died:\n" + "".join(lines[-30:]))
            lines.append(line)
            if "ready." in line:
                break
        else:
            raise TimeoutError("worker not ready:\n" + "".join(lines[-30:]))
        # drain output so the pipe never fills up
        import threading

        threading.Thread(target=lambda: [None for _ in iter(proc.stdout.readline, b"")], daemon=True).start()
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
