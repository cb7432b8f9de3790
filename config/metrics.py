"""Prometheus metrics: request latency per route, tile cache hits, queue lengths, job durations, save rate.

Counters and histograms live in each process; with several web workers set PROMETHEUS_MULTIPROC_DIR so
prometheus_client aggregates them. Figures that live in the database or Redis are read at scrape time.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily

logger = logging.getLogger(__name__)

REQUEST_SECONDS = Histogram(
    "laypath_http_request_seconds", "Django request latency by route", ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
)
TILE_CACHE = Counter("laypath_tile_cache_total", "Tile cache lookups by outcome", ["outcome"])


class MetricsMiddleware:
    """Time every Django request under its URL route pattern (never the raw path: bounded label set)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        REQUEST_SECONDS.labels(route=route, method=request.method, status=str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


class CountingTileCache:
    """Wraps the tile server's cache to count hits and misses."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def get(self, key: str):
        value = await self.inner.get(key)
        TILE_CACHE.labels(outcome="hit" if value is not None else "miss").inc()
        return value

    async def set(self, key: str, value: bytes) -> None:
        await self.inner.set(key, value)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name):
        return getattr(self.inner, name)


class DatabaseCollector:
    """Queue lengths, job durations and annotation saves, read when Prometheus scrapes."""

    def collect(self):
        from annotation.models import AnnotationEvent, Job

        saves = GaugeMetricFamily("laypath_annotation_changes_per_minute", "Annotation changes in the last minute")
        durations = GaugeMetricFamily(
            "laypath_job_seconds", "Durations of jobs finished in the last 24 h", labels=["kind", "quantile"]
        )
        running = GaugeMetricFamily("laypath_jobs", "Jobs by kind and status (last 24 h)", labels=["kind", "status"])
        try:
            since = _now() - timedelta(minutes=1)
            saves.add_metric([], AnnotationEvent.objects.filter(at__gte=since).count())
            day = _now() - timedelta(days=1)
            per_kind: dict[str, list[float]] = {}
            rows = Job.objects.filter(created_at__gte=day).values_list("kind", "status", "started_at", "finished_at")
            counts: dict[tuple[str, str], int] = {}
            for kind, status, started, finished in rows:
                counts[(kind, status)] = counts.get((kind, status), 0) + 1
                if started and finished:
                    per_kind.setdefault(kind, []).append((finished - started).total_seconds())
            for (kind, status), n in counts.items():
                running.add_metric([kind, status], n)
            for kind, values in per_kind.items():
                values.sort()
                for q in (0.5, 0.95):
                    durations.add_metric([kind, str(q)], values[min(len(values) - 1, int(q * len(values)))])
        except Exception:
            logger.warning("metrics: database unavailable", exc_info=True)
        yield saves
        yield durations
        yield running
        yield _queue_lengths()


def _now():
    from django.utils import timezone

    return timezone.now()


def _queue_lengths() -> GaugeMetricFamily:
    family = GaugeMetricFamily("laypath_queue_length", "Messages waiting per Celery queue", labels=["queue"])
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis"):
        import redis

        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        try:
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            for queue in ("default", "gpu"):
                family.add_metric([queue], client.llen(f"{prefix}{queue}"))
        except Exception:
            logger.warning("metrics: broker unavailable", exc_info=True)
    return family


_registered = False


def _registry() -> CollectorRegistry:
    global _registered
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(DatabaseCollector())
        return registry
    if not _registered:
        REGISTRY.register(DatabaseCollector())
        _registered = True
    return REGISTRY


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; staff users or the METRICS_TOKEN bearer only."""
    token = getattr(settings, "METRICS_TOKEN", "")
    authorised = request.user.is_authenticated and request.user.is_staff
    if token and request.headers.get("Authorization", "") == f"Bearer {token}":
        authorised = True
    if not authorised:
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
