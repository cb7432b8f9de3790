from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection

from tests.support.procs import ROOT, asgi_server, celery_worker, child_env

PROD_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 10 + "a-long-random-production-secret-key-0123456789",
    "ALLOWED_HOSTS": "laypath.example.org",
    "SECURE_HTTPS": "1",
}


def _manage(args: list[str], env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "PYTEST_VERSION", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_site_refuses_to_start_without_secret_key_when_debug_off():
    result = _manage(["check"], {"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_database_is_postgresql_under_tests():
    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


@pytest.mark.django_db
def test_login_page_and_home_requires_login(client, user_factory):
    assert client.get("/").status_code == 302
    user_factory(username="ann", password="pw-for-tests-123")
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw-for-tests-123"})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b"Your projects" in home.content


@pytest.mark.django_db
def test_wrong_password_is_refused(client, user_factory):
    user_factory(username="bob", password="pw-for-tests-123")
    response = client.post("/accounts/login/", {"username": "bob", "password": "nope"})
    assert response.status_code == 200
    assert b"Wrong username or password" in response.content


@pytest.mark.django_db(transaction=True)
async def test_websocket_rejects_anonymous_users():
    from config.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/events/", headers=[(b"origin", b"http://localhost")])
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_websocket_accepts_logged_in_user_and_delivers_user_events(user_factory):
    from django.test import AsyncClient

    from annotation.events import user_group
    from config.asgi import application

    user = await sync_to_async(user_factory)(username="ws-user")
    client = AsyncClient()
    await client.aforce_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        application, "/ws/events/", headers=[(b"cookie", cookie), (b"origin", b"http://localhost")]
    )
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from(timeout=5)
    assert hello == {"event": "hello", "data": {"user": "ws-user"}}
    # a real Redis channel layer carries the event to the socket
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    await layer.group_send(user_group(user.id), {"type": "event.message", "event": "job.progress", "data": {"p": 0.5}})
    message = await communicator.receive_json_from(timeout=5)
    assert message == {"event": "job.progress", "data": {"p": 0.5}}
    # subscribing to a project the user is not a member of is refused like a missing project
    await communicator.send_json_to({"subscribe": 999999})
    refused = await communicator.receive_json_from(timeout=5)
    assert refused["event"] == "error" and refused["data"]["code"] == "not_found"
    await communicator.disconnect()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_runs_in_real_worker_against_real_broker():
    from annotation.tasks import ping
    from config.celery import app

    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert {q.name for q in app.conf.task_queues} == {"default", "gpu"}
    assert "retrain-check" in app.conf.beat_schedule
    with celery_worker() as worker:
        pid = worker.pid
        # without a result backend, the worker proves itself through the heartbeat row and the ping log
        from annotation.models import WorkerHeartbeat

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.exists():
            time.sleep(0.3)
        beat = WorkerHeartbeat.objects.get()
        assert beat.pid == pid
        assert set(beat.queues) == {"default", "gpu"}
        from annotation.services.system import health_report

        report = health_report()
        assert report["workers"]["ok"] and report["database"]["ok"] and report["broker"]["ok"]
        sent = ping.delay("hello")
        assert sent.id


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_services_over_real_asgi_server():
    with asgi_server() as base:
        body = httpx.get(f"{base}/healthz", timeout=10).json()
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": True, "transport": "redis"}
    assert "workers" in body


def test_child_env_points_at_test_database():
    env = child_env()
    assert env["DATABASE_URL"].endswith("/" + connection.settings_dict["NAME"])
