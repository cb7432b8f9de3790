"""Create the demo project: users with printed logins, label classes with marker hints, a generated pair."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from annotation.services.demo import DEMO_PASSWORD, demo_setup


class Command(BaseCommand):
    help = "Create (idempotently) the demo project, users and a generated H&E + IF slide pair."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--size", type=int, default=6000, help="Width/height of the generated H&E slide (px).")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **options) -> None:
        result = demo_setup(log=self.stdout.write)
        from mlbackend.demo import demo_pair_ensure

        demo_pair_ensure(project_id=result.project_id, size_px=options["size"], seed=options["seed"], log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"Demo project: {result.project_name} (id {result.project_id})"))
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        for username, role in result.users:
            self.stdout.write(f"  {username:<12} {role}")
