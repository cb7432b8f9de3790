"""Score an annotator's labels on a gold task against the trusted cells, with explained answers."""

from __future__ import annotations

from annotation.models import Annotation, LabelClass, Task
from annotation.selectors.consensus import gold_reference
from annotation.services.gold import gold_result_record
from mlbackend.engine.consensus import AnnotatorLabel, GoldCell, gold_scores
from mlbackend.engine.consensus.quality import match_to_gold

RADIUS_UM = 4.0


def gold_score_run(*, task_id: int, user_id: int):
    """Compare the user's labels on a gold task with its reference; store the score and feedback."""
    task = Task.objects.select_related("pair__anatomical").get(id=task_id)
    mpp = task.pair.anatomical.mpp_x or 0.25
    gold = [GoldCell(x=x, y=y, class_key=c) for x, y, c in gold_reference(task=task)]
    rows = Annotation.objects.filter(task=task, author_id=user_id, source=Annotation.Source.HUMAN, is_deleted=False,
                                     label_class__isnull=False).values_list("id", "cx", "cy", "label_class__name")
    labels = [AnnotatorLabel(label_id=str(i), annotator_id=user_id, class_key=c, x=x, y=y) for i, x, y, c in rows]
    score = next(iter(gold_scores(labels, gold, mpp=mpp, radius_um=RADIUS_UM)), None)
    hints = dict(LabelClass.objects.filter(project_id=task.project_id).values_list("name", "marker_hint"))
    feedback = _feedback(labels, gold, mpp, hints)
    if score is None:  # the annotator labelled nothing
        return gold_result_record(task_id=task_id, user_id=user_id, f1=0.0, precision=0.0, recall=0.0,
                                  class_accuracy=None, feedback=feedback)
    return gold_result_record(task_id=task_id, user_id=user_id, f1=score.f1, precision=score.precision,
                              recall=score.recall, class_accuracy=score.class_accuracy, feedback=feedback)


def _feedback(labels, gold, mpp: float, hints: dict[str, str]) -> list[dict]:
    """Per gold cell: found or missed, the class given, the right class and the marker hint that shows it."""
    li, gi = match_to_gold(labels, gold, RADIUS_UM / mpp) if labels and gold else ([], [])
    given = {int(g): labels[int(lab)].class_key for lab, g in zip(list(li), list(gi))}
    out = []
    for j, cell in enumerate(gold):
        yours = given.get(j)
        out.append({
            "x": round(cell.x, 1), "y": round(cell.y, 1), "right_class": cell.class_key, "your_class": yours,
            "found": j in given, "correct": yours == cell.class_key,
            "hint": hints.get(cell.class_key, ""),
        })
    return out
