"""Consensus, review queue, quality and gold scoring inside the platform (real PostgreSQL)."""

from __future__ import annotations

import random

import pytest

from annotation.errors import InvalidTransition
from annotation.geometry import validate_geometry
from annotation.models import (
    Annotation,
    AnnotationEvent,
    AnnotatorQuality,
    Assignment,
    GoldResult,
    Membership,
    ReviewItem,
    Task,
)
from annotation.services.review import review_resolve
from mlbackend.pipelines.consensus import consensus_rebuild
from mlbackend.pipelines.gold import gold_score_run
from tests.support.pairs import project_with_pair

CLASSES = ("podocyte", "endothelial", "mesangial")


@pytest.fixture
def slide_root(settings, tmp_path_factory):
    settings.SLIDE_ROOT = tmp_path_factory.getbasetemp() / "slides-ml"
    settings.VAR_DIR = tmp_path_factory.getbasetemp() / "var-ml"
    return settings.SLIDE_ROOT


def _point(fx, task, user, x, y, cls, source="human"):
    info = validate_geometry({"type": "Point", "coordinates": [x, y]})
    return Annotation.objects.create(project=fx.project, pair=fx.pair, task=task, label_class=fx.classes[cls],
                                     geom_type="Point", geometry=info.geometry, min_x=x, min_y=y, max_x=x, max_y=y,
                                     cx=x, cy=y, author=user, source=source)


def _task(fx, rect, kind="annotate", mode="exhaustive"):
    x0, y0, x1, y1 = rect
    task = Task.objects.create(project=fx.project, pair=fx.pair, kind=kind, label_mode=mode, min_x=x0, min_y=y0,
                               max_x=x1, max_y=y1,
                               region={"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
    task.classes.set(fx.classes.values())
    return task


@pytest.fixture
def labelled(slide_root, user_factory):
    """Three annotators label two tasks from the truth: one misses cells, one errs a little, one errs a lot."""
    good1, good2, poor = user_factory(), user_factory(), user_factory()
    fx = project_with_pair(size_px=1024, annotators=[good1, good2, poor])
    rng = random.Random(4)
    tasks = [_task(fx, (0, 0, 1024, 512)), _task(fx, (0, 512, 1024, 1024))]
    wrong = 0
    for task in tasks:
        cells = fx.scene.cells_in(task.min_x, task.min_y, task.max_x - task.min_x, task.max_y - task.min_y)
        for user in (good1, good2, poor):
            Assignment.objects.create(task=task, annotator=user, status="submitted")
            for cell in cells:
                cls = cell.cls
                if user is good1 and rng.random() < 0.25:
                    continue  # missed
                error_rate = {poor.id: 0.7, good2.id: 0.15}.get(user.id, 0.0)
                if rng.random() < error_rate:
                    cls = rng.choice([c for c in CLASSES if c != cell.cls])
                    wrong += 1
                _point(fx, task, user, cell.x + rng.uniform(-2, 2), cell.y + rng.uniform(-2, 2), cls)
    return fx, tasks, (good1, good2, poor), wrong


@pytest.mark.django_db
def test_consensus_recovers_truth_and_ranks_the_poor_annotator_lowest(labelled):
    fx, tasks, (good1, good2, poor), wrong = labelled
    summary = consensus_rebuild(project_id=fx.project.id)
    assert summary["tasks"] == 2 and summary["consensus_labels"] > 0
    truth = {(round(c.x), round(c.y)): c.cls for t in tasks
             for c in fx.scene.cells_in(t.min_x, t.min_y, t.max_x - t.min_x, t.max_y - t.min_y)}
    consensus = Annotation.objects.filter(project=fx.project, source="consensus").select_related("label_class")
    right = 0
    for a in consensus:
        nearest = min(truth, key=lambda k: (k[0] - a.cx) ** 2 + (k[1] - a.cy) ** 2)
        right += truth[nearest] == a.label_class.name
    assert right / consensus.count() > 0.85
    quality = {q.user_id: q for q in AnnotatorQuality.objects.filter(project=fx.project)}
    assert quality[poor.id].reliability < min(quality[good1.id].reliability, quality[good2.id].reliability)
    # the review queue exists, best first, and its top items are class conflicts involving the poor annotator
    queue = list(ReviewItem.objects.filter(project=fx.project, status="open").order_by("-score"))
    assert queue and queue[0].score >= queue[-1].score
    top = queue[: max(1, len(queue) // 10)]
    assert all(len(item.competing) >= 2 for item in top)  # every top item is a real disagreement
    involved = sum(any(poor.id in c["annotators"] for c in item.competing) for item in top)
    assert involved / len(top) > 0.5
    assert Task.objects.filter(project=fx.project).exclude(priority=0).exists()
    # a rebuild replaces open items rather than piling them up
    first_open = len(queue)
    consensus_rebuild(project_id=fx.project.id)
    assert ReviewItem.objects.filter(project=fx.project, status="open").count() == first_open


@pytest.mark.django_db
def test_review_resolution_is_a_high_weight_label_and_an_event(labelled, user_factory):
    fx, tasks, _, _ = labelled
    consensus_rebuild(project_id=fx.project.id)
    reviewer = user_factory()
    Membership.objects.create(project=fx.project, user=reviewer, role="reviewer")
    item = ReviewItem.objects.filter(project=fx.project, status="open").order_by("-score").first()
    resolved = review_resolve(item=item, actor=reviewer, action="pick", class_name="podocyte")
    assert resolved.status == "resolved"
    review_label = Annotation.objects.get(id=resolved.resolution["annotation"])
    assert review_label.source == "review" and review_label.author == reviewer
    assert AnnotationEvent.objects.filter(annotation=review_label, action="review", actor=reviewer).exists()
    with pytest.raises(InvalidTransition):
        review_resolve(item=item, actor=reviewer, action="pick", class_name="podocyte")
    other = ReviewItem.objects.filter(project=fx.project, status="open").exclude(id=item.id).first()
    review_resolve(item=other, actor=reviewer, action="reject")
    ids = [lid for c in other.competing for lid in c["label_ids"]]
    assert ids and set(Annotation.objects.filter(id__in=ids).values_list("weight", flat=True)) == {0.0}
    assert AnnotationEvent.objects.filter(annotation_id__in=ids, action="review").count() == len(ids)


@pytest.mark.django_db
def test_review_endpoints_are_for_reviewers_and_hidden_from_other_projects(labelled, client, user_factory):
    fx, _, (annotator, _, _), _ = labelled
    consensus_rebuild(project_id=fx.project.id)
    url = f"/api/review/?project={fx.project.id}"
    client.force_login(annotator)
    assert client.get(url).status_code == 403
    outsider = user_factory()
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    item = ReviewItem.objects.filter(project=fx.project).first()
    assert client.get(f"/api/review/{item.id}/").status_code == 404
    reviewer = user_factory()
    Membership.objects.create(project=fx.project, user=reviewer, role="reviewer")
    client.force_login(reviewer)
    body = client.get(url).json()
    assert body["count"] >= 1 and body["results"][0]["score"] >= body["results"][-1]["score"]
    detail = client.get(f"/api/review/{item.id}/").json()
    assert detail["labels"] and {"competing", "reasons"} <= set(detail)
    done = client.post(f"/api/review/{item.id}/resolve/", {"action": "dismiss"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
    again = client.post(f"/api/review/{item.id}/resolve/", {"action": "dismiss"}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "already_resolved"
    # quality: managers see everyone, an annotator only themself
    client.force_login(annotator)
    rows = client.get(f"/api/projects/{fx.project.id}/quality/").json()["annotators"]
    assert [r["user"] for r in rows] == [annotator.id]


@pytest.mark.django_db
def test_gold_task_scores_annotator_explains_answers_and_qualifies(slide_root, user_factory):
    manager, newbie = user_factory(), user_factory()
    fx = project_with_pair(size_px=512, manager=manager)
    fx.project.qualification_tasks = 1
    fx.project.qualification_min_score = 0.6
    fx.project.save()
    Membership.objects.create(project=fx.project, user=newbie, role="annotator", qualified=False)
    gold = _task(fx, (0, 0, 256, 256), kind="gold")
    cells = fx.scene.cells_in(0, 0, 256, 256)
    for cell in cells:
        _point(fx, gold, manager, cell.x, cell.y, cell.cls)  # the manager's labels are the reference
    for i, cell in enumerate(cells):
        if i == 0:
            continue  # missed one
        cls = next(c for c in CLASSES if c != cell.cls) if i == 1 else cell.cls
        _point(fx, gold, newbie, cell.x + 1, cell.y - 1, cls)
    result = gold_score_run(task_id=gold.id, user_id=newbie.id)
    assert 0.6 < result.f1 < 1.0 and result.recall == pytest.approx((len(cells) - 1) / len(cells))
    assert result.class_accuracy < 1.0
    missed = [f for f in result.feedback if not f["found"]]
    assert len(missed) == 1 and missed[0]["right_class"] == cells[0].cls
    assert all("hint" in f for f in result.feedback)
    assert Membership.objects.get(project=fx.project, user=newbie).qualified
    assert GoldResult.objects.get(task=gold, user=newbie).qualification


@pytest.mark.django_db
def test_onboarding_serves_gold_first_then_real_tasks(slide_root, user_factory, client, django_capture_on_commit_callbacks):
    manager, newbie = user_factory(), user_factory()
    fx = project_with_pair(size_px=512, manager=manager)
    fx.project.qualification_tasks = 1
    fx.project.save()
    Membership.objects.create(project=fx.project, user=newbie, role="annotator", qualified=False)
    gold = _task(fx, (0, 0, 256, 256), kind="gold")
    real = _task(fx, (256, 256, 512, 512))
    for cell in fx.scene.cells_in(0, 0, 256, 256):
        _point(fx, gold, manager, cell.x, cell.y, cell.cls)
    client.force_login(manager)
    assert client.post("/api/tasks/distribute/", {"project": fx.project.id}, content_type="application/json").status_code == 200
    assert not Assignment.objects.filter(annotator=newbie).exists()  # not qualified: no real work yet
    client.force_login(newbie)
    nxt = client.get(f"/api/assignments/next/?project={fx.project.id}").json()
    assert nxt["task"]["id"] == gold.id
    aid = nxt["assignment"]["id"]
    assert client.post(f"/api/assignments/{aid}/start/").status_code == 200
    for cell in fx.scene.cells_in(0, 0, 256, 256):
        _point(fx, gold, newbie, cell.x + 1, cell.y, cell.cls)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(f"/api/assignments/{aid}/submit/").status_code == 200
    assert callbacks  # scoring is queued for the ML backend
    gold.refresh_from_db()
    assert gold.status != "completed"  # gold tasks stay open for the next annotator
    gold_score_run(task_id=gold.id, user_id=newbie.id)
    assert Membership.objects.get(project=fx.project, user=newbie).qualified
    assert client.get(f"/api/projects/{fx.project.id}/gold/").json()["results"][0]["f1"] > 0.9
    client.force_login(manager)
    client.post("/api/tasks/distribute/", {"project": fx.project.id}, content_type="application/json")
    assert Assignment.objects.filter(annotator=newbie, task=real).exists()
