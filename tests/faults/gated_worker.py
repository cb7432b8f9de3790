"""A Celery worker with a fault-injection gate: one named function blocks forever once reached.

Usage: python -m tests.faults.gated_worker MODULE:ATTR:MODE:NEEDLE MARK_FILE QUEUES NAME
MODE `after` calls the original first (its writes happen, uncommitted if inside a transaction), `before`
blocks before it. NEEDLE (may be empty) must occur in the call's arguments for the gate to close. When the
gate closes, MARK_FILE is written with the pid, so a test knows exactly where the worker is before it
SIGKILLs it.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path


def install_gate(spec: str, mark: str) -> None:
    """Replace MODULE.ATTR by a wrapper that blocks forever once its arguments contain NEEDLE."""
    module_name, attr, mode, needle = spec.split(":", 3)
    module = importlib.import_module(module_name)
    original = getattr(module, attr)

    def gated(*args, **kwargs):
        if needle and needle not in repr(args) + repr(kwargs):
            return original(*args, **kwargs)
        if mode == "after":
            original(*args, **kwargs)
        Path(mark).write_text(str(os.getpid()))
        while True:
            time.sleep(1)

    setattr(module, attr, gated)


def main() -> None:
    spec, mark, queues, name = sys.argv[1:5]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from config.celery import app

    install_gate(spec, mark)
    app.worker_main(["worker", "-Q", queues, "--pool", "solo", "--concurrency", "1", "--loglevel", "INFO",
                     "--without-gossip", "--without-mingle", "-n", name])


if __name__ == "__main__":
    main()
