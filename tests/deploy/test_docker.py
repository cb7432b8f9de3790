"""The deployment files: compose file validated, entry point routes roles and refuses bad config."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENTRY = DOCKER / "entrypoint.sh"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_has_every_service_with_health_checks_and_named_volumes():
    doc = _compose()
    services = doc["services"]
    assert {"postgres", "redis", "web", "worker", "gpu-worker", "beat", "proxy"} <= set(services)
    for name in ("postgres", "redis", "worker", "gpu-worker", "beat", "proxy"):
        assert "healthcheck" in services[name], name
    gpu = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    assert {"pgdata", "slides"} <= set(doc["volumes"])
    # secrets come from the env file, never from the compose file itself
    text = (DOCKER / "compose.yaml").read_text()
    assert "SECRET_KEY" not in text
    assert "${POSTGRES_PASSWORD:?" in text


def test_images_run_as_non_root_and_pin_their_bases():
    for name in ("Dockerfile", "Dockerfile.gpu"):
        text = (DOCKER / name).read_text()
        assert "USER laypath" in text
        assert "HEALTHCHECK" in text
        for line in text.splitlines():
            if line.startswith("ARG") and "_IMAGE=" in line:
                assert ":" in line.split("=", 1)[1] and "latest" not in line


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian) not installed")
def test_compose_file_passes_docker_compose_config(tmp_path):
    workdir = tmp_path / "docker"
    shutil.copytree(DOCKER, workdir)
    (workdir / "laypath.env").write_text((DOCKER / "laypath.env.example").read_text())
    env = dict(os.environ, POSTGRES_PASSWORD="x" * 16)
    result = subprocess.run(
        ["docker-compose", "-f", str(workdir / "compose.yaml"), "config", "-q"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    # and without the secret the file refuses to render
    env.pop("POSTGRES_PASSWORD")
    refused = subprocess.run(
        ["docker-compose", "-f", str(workdir / "compose.yaml"), "config", "-q"], capture_output=True, text=True, env=env
    )
    assert refused.returncode != 0


def _entry(role: str, env: dict) -> subprocess.CompletedProcess:
    full = {"PATH": os.environ["PATH"], "LAYPATH_DRY_RUN": "1", "LAYPATH_APP_DIR": str(ROOT), **env}
    return subprocess.run(["bash", str(ENTRY), role], capture_output=True, text=True, env=full)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("web", "uvicorn config.asgi:application"),
        ("worker", "celery -A config worker -Q default"),
        ("gpu-worker", "celery -A config worker -Q gpu"),
        ("beat", "celery -A config beat"),
        ("migrate", "manage.py migrate --noinput"),
    ],
)
def test_entrypoint_maps_roles_to_commands(role, expected):
    result = _entry(role, {"SECRET_KEY": "k" * 40})
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_entrypoint_refuses_to_start_without_secret():
    result = _entry("web", {"SECRET_KEY": "short"})
    assert result.returncode == 64
    assert "SECRET_KEY" in result.stderr


def test_entrypoint_rejects_unknown_role():
    result = _entry("frobnicate", {})
    assert result.returncode == 64 and "unknown role" in result.stderr


def test_entrypoint_manage_role_really_runs_django_outside_docker():
    env = {
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        "LAYPATH_DRY_RUN": "0",
        "DEBUG": "1",
        "SECRET_KEY": "k" * 40,
        "LAYPATH_VAR_DIR": "/tmp/laypath-entry-test",
    }
    full = {"PATH": os.environ["PATH"], "LAYPATH_APP_DIR": str(ROOT), **env}
    result = subprocess.run(["bash", str(ENTRY), "manage", "check"], capture_output=True, text=True, env=full)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
