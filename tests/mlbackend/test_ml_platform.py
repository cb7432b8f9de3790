"""The ML loop inside the platform: train on task labels, validate on held-out tasks, promote, propose."""

from __future__ import annotations

import pytest

from annotation.errors import InvalidTransition
from annotation.models import Annotation, AuditEvent, Job, Task
from mlbackend.models import ModelVersion
from mlbackend.pipelines.inference import preannotate_enqueue, preannotate_run
from mlbackend.pipelines.training import training_enqueue, training_run
from mlbackend.services import model_version_promote, model_version_rollback
from tests.support.pairs import project_with_pair, task_with_truth_labels

FAST = {"epochs": 2, "steps_per_epoch": 3, "batch_size": 2, "patch_px": 96}


@pytest.fixture
def slide_root(settings, tmp_path_factory):
    settings.SLIDE_ROOT = tmp_path_factory.getbasetemp() / "slides-ml"
    settings.VAR_DIR = tmp_path_factory.getbasetemp() / "var-ml"
    return settings.SLIDE_ROOT


def _ready_version(project, number: int, score: float, status: str = "ready") -> ModelVersion:
    return ModelVersion.objects.create(project=project, number=number, status=status, metrics={"score": score})


@pytest.mark.django_db
def test_promotion_requires_a_better_held_out_score_unless_forced(slide_root, user_factory):
    fx = project_with_pair(size_px=512)
    admin = user_factory(is_staff=True)
    v1 = _ready_version(fx.project, 1, 0.7)
    model_version_promote(version_id=v1.id, actor=admin)
    worse = _ready_version(fx.project, 2, 0.6)
    with pytest.raises(InvalidTransition):
        model_version_promote(version_id=worse.id, actor=admin)
    model_version_promote(version_id=worse.id, actor=admin, force=True)
    v1.refresh_from_db()
    assert v1.status == "retired"
    assert ModelVersion.objects.filter(project=fx.project, status="promoted").count() == 1
    back = model_version_rollback(project_id=fx.project.id, actor=admin)
    assert back.id == v1.id and back.status == "promoted"
    actions = list(AuditEvent.objects.filter(project=fx.project).values_list("action", "detail__forced"))
    assert actions.count(("model.promote", True)) == 2  # the forced promotion and the roll-back


@pytest.mark.django_db
def test_training_on_task_labels_validates_on_held_out_tasks_and_proposes_cells(slide_root, user_factory):
    annotator = user_factory()
    fx = project_with_pair(size_px=1024, annotators=[annotator])
    tasks = [task_with_truth_labels(fx, (x, y, x + 256, y + 256), author=annotator)
             for x, y in [(0, 0), (256, 0), (512, 0), (0, 256), (256, 256)]]
    open_task = Task.objects.create(project=fx.project, pair=fx.pair, min_x=512, min_y=512, max_x=768, max_y=768,
                                    region={"type": "Polygon", "coordinates": [[[512, 512], [768, 512], [768, 768], [512, 768], [512, 512]]]})
    human = task_with_truth_labels(fx, (768, 768, 1000, 1000), mode="sparse", author=annotator)
    human_before = set(Annotation.objects.filter(task=human).values_list("id", "version"))

    job = training_enqueue(project_id=fx.project.id, config=FAST)
    version = training_run(job_id=str(job.id))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    version.refresh_from_db()
    assert version.status == "promoted"  # the first usable version is promoted
    held_out = set(version.training_snapshot["validation_tasks"])
    trained = set(version.training_snapshot["train_tasks"])
    assert held_out and trained and not held_out & trained
    assert 0.0 <= version.metrics["score"] <= 1.0 and version.metrics["validation_labels"] > 0
    assert len(version.curves) == FAST["epochs"]
    # running the finished job again changes nothing
    assert training_run(job_id=str(job.id)) is None

    infer = preannotate_enqueue(project_id=fx.project.id, version_id=version.id)
    written = preannotate_run(job_id=str(infer.id))
    assert written is not None
    proposals = Annotation.objects.filter(source="model", status="proposed", is_deleted=False)
    assert proposals.count() == written
    assert set(proposals.values_list("model_version_id", flat=True)) <= {version.id}
    assert all(open_task.min_x <= a.cx <= open_task.max_x for a in proposals.filter(task=open_task))
    # human labels are never touched by pre-annotation
    assert set(Annotation.objects.filter(task=human).values_list("id", "version")) == human_before
    assert not Annotation.objects.filter(task__in=tasks, source="model").exists()


@pytest.mark.django_db
def test_training_failure_marks_run_failed_and_keeps_promoted_version(slide_root, monkeypatch):
    fx = project_with_pair(size_px=512)
    task_with_truth_labels(fx, (0, 0, 256, 256))
    task_with_truth_labels(fx, (256, 256, 512, 512))
    keeper = _ready_version(fx.project, 1, 0.5)
    model_version_promote(version_id=keeper.id, force=True)

    def boom(*args, **kwargs):
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr("mlbackend.engine.training.loop.train", boom)
    job = training_enqueue(project_id=fx.project.id, config=FAST)
    assert training_run(job_id=str(job.id)) is None
    job.refresh_from_db()
    assert job.status == "failed" and "GPU fell off the bus" in job.error
    failed = ModelVersion.objects.get(job_id=job.id)
    assert failed.status == "failed" and not failed.checkpoint_path
    keeper.refresh_from_db()
    assert keeper.status == "promoted"


@pytest.mark.django_db
def test_second_training_while_one_runs_is_refused(slide_root):
    fx = project_with_pair(size_px=512)
    task_with_truth_labels(fx, (0, 0, 256, 256))
    training_enqueue(project_id=fx.project.id, config=FAST)
    with pytest.raises(InvalidTransition):
        training_enqueue(project_id=fx.project.id, config=FAST)
