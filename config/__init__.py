"""Laypath project wiring (the design card's `platform`; named `config` because a top-level package
named `platform` shadows the standard library module that uuid, Django, Celery and PyTorch import)."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
