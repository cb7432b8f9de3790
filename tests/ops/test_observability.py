"""Metrics and structured logs."""

from __future__ import annotations

import json
import logging

import pytest

from config.logs import JsonFormatter, job_id_var, request_id_var


@pytest.mark.django_db
def test_metrics_are_for_staff_only_and_report_routes_and_jobs(client, user_factory, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    user = user_factory()
    client.force_login(user)
    assert client.get("/metrics").status_code == 403
    client.get("/healthz")
    staff = user_factory(is_staff=True)
    client.force_login(staff)
    body = client.get("/metrics").content.decode()
    assert 'laypath_http_request_seconds_count{method="GET",route="healthz"' in body
    assert "laypath_queue_length" in body and "laypath_annotation_changes_per_minute" in body
    client.logout()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


@pytest.mark.django_db
def test_responses_carry_a_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc123")
    assert response["X-Request-ID"] == "abc123"
    assert len(client.get("/healthz")["X-Request-ID"]) == 32


def test_log_lines_are_json_with_request_and_job_ids():
    record = logging.LogRecord("laypath.test", logging.INFO, __file__, 1, "saved %d", (3,), None)
    token_r = request_id_var.set("req-1")
    token_j = job_id_var.set("job-9")
    try:
        from config.logs import ContextFilter

        ContextFilter().filter(record)
    finally:
        request_id_var.reset(token_r)
        job_id_var.reset(token_j)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "saved 3" and line["request_id"] == "req-1" and line["job_id"] == "job-9"


async def test_tile_cache_counter_counts_hits_and_misses():
    from annotation.imaging.tilecache import make_cache
    from config.metrics import TILE_CACHE, CountingTileCache

    cache = CountingTileCache(make_cache(None, 1 << 20, 60))
    before_hit = TILE_CACHE.labels(outcome="hit")._value.get()
    before_miss = TILE_CACHE.labels(outcome="miss")._value.get()
    assert await cache.get("k") is None
    await cache.set("k", b"tile")
    assert await cache.get("k") == b"tile"
    assert TILE_CACHE.labels(outcome="hit")._value.get() == before_hit + 1
    assert TILE_CACHE.labels(outcome="miss")._value.get() == before_miss + 1
