"""Annotator quality against gold and consensus, and labelling speed."""

from mlbackend.engine.consensus import (
    AnnotatorLabel,
    GoldCell,
    TaskLabels,
    build_consensus,
    consensus_agreement,
)
from mlbackend.engine.consensus.quality import gold_scores, labelling_speed

GOLD = tuple(GoldCell(100.0 * i, 0.0, "a" if i % 2 else "b") for i in range(10))


def test_gold_scores_count_detections_within_radius_and_class_accuracy():
    perfect = [AnnotatorLabel(i, "p", g.class_key, g.x + 2, g.y) for i, g in enumerate(GOLD)]
    sloppy = [AnnotatorLabel(100 + i, "s", "a", g.x + 2, g.y) for i, g in enumerate(GOLD[:5])]
    far = [AnnotatorLabel(200 + i, "f", g.class_key, g.x + 40, g.y) for i, g in enumerate(GOLD)]
    scores = {s.annotator_id: s for s in gold_scores(perfect + sloppy + far, GOLD, mpp=0.25, radius_um=4.0)}
    assert (scores["p"].precision, scores["p"].recall, scores["p"].class_accuracy) == (1.0, 1.0, 1.0)
    assert scores["s"].precision == 1.0 and scores["s"].recall == 0.5
    assert scores["s"].class_accuracy == 2 / 5  # gold classes b, a, b, a, b
    assert scores["f"].n_matched == 0 and scores["f"].class_accuracy is None


def test_labelling_speed_ignores_long_breaks():
    labels = [AnnotatorLabel(i, "x", "a", 0, 0, created_at_s=6.0 * i) for i in range(11)]
    labels += [AnnotatorLabel(100 + i, "x", "a", 0, 0, created_at_s=10_000 + 6.0 * i) for i in range(11)]
    speed = labelling_speed(labels)[0]
    assert speed.n_labels == 22
    assert abs(speed.active_minutes - 2.0) < 1e-9
    assert abs(speed.cells_per_minute - 10.0) < 1e-9


def test_consensus_agreement_is_lower_for_the_dissenting_annotator():
    labels = []
    for i in range(20):
        cls = "a" if i % 2 else "b"
        labels += [AnnotatorLabel(f"x{i}", "x", cls, 100.0 * i, 0), AnnotatorLabel(f"y{i}", "y", cls, 100.0 * i, 1)]
        labels.append(AnnotatorLabel(f"z{i}", "z", "a" if i % 3 else "b", 100.0 * i, 2))
    agree = {a.annotator_id: a for a in consensus_agreement(build_consensus(
        [TaskLabels("t", "exhaustive", ("a", "b"), tuple(labels), ("x", "y", "z"))]))}
    assert agree["x"].class_agreement == 1.0
    assert agree["z"].class_agreement < 0.8
    assert agree["z"].reliability < agree["x"].reliability
