"""Shared fixtures: real PostgreSQL (pytest-django test database), real Redis with a per-run prefix."""

from __future__ import annotations

import os
import uuid

import pytest

# Service defaults for tests (real PostgreSQL and Redis) are set in config/settings.py under pytest.


@pytest.fixture
def user_factory(db):
    from django.contrib.auth import get_user_model

    def make(username: str | None = None, password: str = "pw-for-tests-123", **extra):
        User = get_user_model()
        name = username or f"user-{uuid.uuid4().hex[:8]}"
        return User.objects.create_user(username=name, password=password, **extra)

    return make


@pytest.fixture
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(path):
        pytest.skip(f"Chromium not installed at {path}")
    return path


@pytest.fixture(scope="session", autouse=True)
def _close_stray_db_sessions(request):
    """Before the test database is dropped, end sessions child processes may have left behind."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield  # engine-only runs (-p no:django) have no database
        return
    request.getfixturevalue("django_db_setup")
    django_db_blocker = request.getfixturevalue("django_db_blocker")
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
