"""Import slide files (or folders of them) from the server's disk into a project and start their ingest."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import DomainError
from annotation.models import Project
from annotation.services.slides import slides_import


class Command(BaseCommand):
    help = "Import slides from files or folders on the server (files outside SLIDE_ROOT are linked or copied in)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", type=int, required=True, help="Project id.")
        parser.add_argument("paths", nargs="+", help="Slide files or folders to scan.")

    def handle(self, *args, **options) -> None:
        project = Project.objects.filter(id=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with id {options['project']}.")
        paths = [Path(p).expanduser() for p in options["paths"]]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise CommandError(f"Not found: {', '.join(missing)}")
        try:
            created = slides_import(project=project, paths=paths)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        for slide, job in created:
            state = f"ingest job {job.id}" if job else "already imported"
            self.stdout.write(f"slide {slide.id}  {slide.name}  ({state})")
        self.stdout.write(self.style.SUCCESS(f"{sum(1 for _, j in created if j)} slide(s) queued for ingest."))
