"""Held-out validation of a trained bundle on tasks it never saw.

Exhaustive tasks give real detection precision and recall; sparse tasks only tell recall of the labelled
cells (unlabelled cells there are unknown), so their score is reported apart as `label_recall`.
`score` is the promotion metric: detection F1 where exhaustive held-out tasks exist, else label recall.
"""

from __future__ import annotations

import numpy as np

from mlbackend.pipelines.samples import Reference, region_crop

MATCH_RADIUS_UM = 4.0
DEFAULT_MPP = 0.25


def _predict(bundle, reference: Reference):
    from mlbackend.engine.inference.wsi import predict_cells

    rgb, _, _ = region_crop(reference.region)
    cells = predict_cells(bundle, rgb, _post(bundle))  # uses the bundle's crop classifier when it has one
    xy = np.array([[c.x, c.y] for c in cells], dtype=np.float64).reshape(-1, 2)
    cls = np.array([c.cls for c in cells], dtype=np.int64)
    return xy, cls


def _post(bundle):
    from mlbackend.engine.inference.postprocess import PostConfig

    post = bundle.config.get("post") if isinstance(bundle.config, dict) else None
    return PostConfig(**post) if isinstance(post, dict) else PostConfig()


def validate_bundle(bundle, references: list[Reference], class_names: list[str]) -> dict:
    """Detection F1, macro class F1 and label recall of the bundle on held-out regions."""
    from mlbackend.engine.metrics.detection import detection_f1, match_points

    tp = fp = fn = 0
    recall_hits = recall_total = 0
    class_true, class_pred = [], []
    for ref in references:
        radius = MATCH_RADIUS_UM / (ref.region.mpp or DEFAULT_MPP)
        xy, cls = _predict(bundle, ref)
        pairs = match_points(ref.xy, xy, radius)
        recall_hits += len(pairs)
        recall_total += len(ref.xy)
        for i, j in pairs:
            if ref.cls[i] >= 0:
                class_true.append(int(ref.cls[i]))
                class_pred.append(int(cls[j]))
        if ref.region.label_mode == "exhaustive":
            scores = detection_f1(ref.xy, xy, radius)
            tp, fp, fn = tp + scores.tp, fp + scores.fp, fn + scores.fn
    out: dict = {"validation_tasks": len(references), "validation_labels": recall_total}
    out["label_recall"] = round(recall_hits / recall_total, 4) if recall_total else None
    if tp + fp + fn:
        out["detection_f1"] = round(2 * tp / (2 * tp + fp + fn), 4)
        out["precision"] = round(tp / (tp + fp), 4) if tp + fp else 0.0
        out["recall"] = round(tp / (tp + fn), 4) if tp + fn else 0.0
    if class_true:
        t = np.array(class_true)
        p = np.array(class_pred)
        out["class_accuracy"] = round(float((t == p).mean()), 4)
        out["class_f1"] = round(_macro_f1(t, p, len(class_names)), 4)
    out["score"] = out.get("detection_f1", out.get("label_recall"))
    return out


def _macro_f1(true: np.ndarray, pred: np.ndarray, num_classes: int) -> float:
    """Macro F1 of the class decisions on matched cells (classes present in either side)."""
    scores = []
    for k in range(num_classes):
        tp = int(((true == k) & (pred == k)).sum())
        fp = int(((true != k) & (pred == k)).sum())
        fn = int(((true == k) & (pred != k)).sum())
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 1.0
