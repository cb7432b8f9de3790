"""Pipelines: run engine code inside workers (load job -> call engine -> record through annotation services)."""
