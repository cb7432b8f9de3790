"""Review queue ordering, reason codes and task-level scores."""

import numpy as np

from mlbackend.engine.consensus import (
    AnnotatorLabel,
    ModelCell,
    TaskLabels,
    build_consensus,
    cell_disagreements,
    review_order,
    review_queue,
    task_disagreements,
    task_priorities,
)
from mlbackend.engine.consensus.simulate import SimAnnotator, cluster_truth, make_confusion, simulate_slide


def test_queue_puts_true_consensus_errors_first_more_than_random():
    pool = (SimAnnotator("g1", make_confusion(0.9, 4), 0.9), SimAnnotator("g2", make_confusion(0.8, 4), 0.85),
            SimAnnotator("p", make_confusion(0.45, 4), 0.8))
    sim = simulate_slide(2500, pool, k_per_task=3, seed=505)
    result = build_consensus(sim.tasks)
    truth = cluster_truth(result, sim)
    errors = (result.arrays.state != truth) & (result.arrays.state >= 0)
    order = review_order(result)
    top = order[: len(order) // 10]
    random_top = np.random.default_rng(0).permutation(order)[: len(order) // 10]
    share, share_random = errors[top].sum() / errors.sum(), errors[random_top].sum() / errors.sum()
    assert share > 2.5 * share_random
    assert share > 0.3


def _conflict_task(mode="exhaustive"):
    labels = [AnnotatorLabel(1, "x", "a", 100, 100), AnnotatorLabel(2, "y", "b", 101, 100),
              AnnotatorLabel(3, "x", "a", 300, 300), AnnotatorLabel(4, "y", "a", 300, 301)]
    models = [ModelCell(300, 300, "a", 0.95), ModelCell(600, 600, "b", 0.99)]
    return TaskLabels("t", mode, ("a", "b"), tuple(labels), ("x", "y"), tuple(models))


def test_class_conflict_item_lists_both_competing_classes():
    queue = review_queue(build_consensus([_conflict_task()]))
    conflict = [item for item in queue if "class_conflict" in item.reasons]
    assert len(conflict) == 1
    classes = {c.class_key for c in conflict[0].competing if c.source == "annotators"}
    assert classes == {"a", "b"}


def test_model_only_cell_in_exhaustive_task_is_queued_with_model_reason():
    queue = review_queue(build_consensus([_conflict_task()]))
    model_only = [item for item in queue if "model_only" in item.reasons]
    assert len(model_only) == 1 and model_only[0].reason == "model_only"
    assert {c.source for c in model_only[0].competing} == {"annotators", "model"}
    agreed = [item for item in queue if item.x > 250 and item.x < 350]
    assert all(item.score < model_only[0].score for item in agreed)


def test_model_only_cell_in_sparse_task_is_not_queued():
    queue = review_queue(build_consensus([_conflict_task("sparse")]))
    assert not any("model_only" in item.reasons for item in queue)
    assert all(item.x < 500 for item in queue)


def test_task_scores_reflect_conflicts_and_model_uncertainty():
    calm = TaskLabels("calm", "exhaustive", ("a", "b"),
                      (AnnotatorLabel(1, "x", "a", 0, 0), AnnotatorLabel(2, "y", "a", 1, 0)), ("x", "y"),
                      (ModelCell(0, 0, "a", 0.99, (("a", 0.99), ("b", 0.01))),))
    noisy = TaskLabels("noisy", "exhaustive", ("a", "b"),
                       (AnnotatorLabel(3, "x", "a", 0, 0), AnnotatorLabel(4, "y", "b", 1, 0)), ("x", "y"),
                       (ModelCell(0, 0, "b", 0.5, (("a", 0.5), ("b", 0.5))),))
    result = build_consensus([calm, noisy])
    per_task = {t.task_id: t for t in task_disagreements(result)}
    assert per_task["calm"].pairwise_agreement == 1.0 and per_task["noisy"].pairwise_agreement == 0.0
    assert per_task["noisy"].mean_p_wrong > per_task["calm"].mean_p_wrong
    assert [p.task_id for p in task_priorities(result)] == ["noisy", "calm"]
    cells = {c.task_id: c for c in cell_disagreements(result)}
    assert cells["noisy"].model_entropy > 0.9 > cells["calm"].model_entropy


def test_unlabelled_tasks_rank_by_model_uncertainty():
    sure = TaskLabels("sure", "sparse", ("a", "b"), (), (), (ModelCell(0, 0, "a", 0.99, (("a", 0.99), ("b", 0.01))),))
    unsure = TaskLabels("unsure", "sparse", ("a", "b"), (), (), (ModelCell(0, 0, "a", 0.55, (("a", 0.55), ("b", 0.45))),))
    result = build_consensus([sure, unsure])
    ranked = task_priorities(result)
    assert [p.task_id for p in ranked] == ["unsure", "sure"]
    assert ranked[0].disagreement == 0.0 and ranked[0].priority == 0.5 * ranked[0].uncertainty
    assert review_queue(result) == ()


def test_model_evidence_adds_to_the_annotator_posterior_and_learns_the_model():
    from mlbackend.engine.consensus import ReviewConfig, model_evidence

    pool = (SimAnnotator("g1", make_confusion(0.9, 3), 0.9), SimAnnotator("g2", make_confusion(0.8, 3), 0.85),
            SimAnnotator("p", make_confusion(0.4, 3), 0.8))
    sim = simulate_slide(3000, pool, k_per_task=3, seed=606)
    result = build_consensus(sim.tasks)
    truth = cluster_truth(result, sim)
    errors = (result.arrays.state != truth) & (result.arrays.state >= 0)

    def share(config):
        order = review_order(result, config)
        return errors[order[: len(order) // 10]].sum() / errors.sum()

    assert share(ReviewConfig()) > share(ReviewConfig(use_model=False)) + 0.05
    ev = model_evidence(result, n_bins=2)
    k = len(result.arrays.classes)
    # Confident detections (bin 1) of class c are most likely under true state c; "not detected" under no cell.
    for c in range(k):
        assert np.argmax(ev.likelihood[:, k + c]) == c
    assert np.argmax(ev.likelihood[:, 2 * k]) == k
    labelled = result.arrays.state >= 0
    assert np.all((ev.p_error >= 0) & (ev.p_error <= 1)) and np.all(ev.p_error[~labelled] == 0)
    assert np.allclose(ev.posterior.sum(axis=1), 1.0)


def test_consensus_labels_match_the_cell_records():
    from mlbackend.engine.consensus import consensus_cells, consensus_labels

    result = build_consensus([_conflict_task()])
    cells = [c for c in consensus_cells(result) if c.status == "cell"]
    labels = consensus_labels(result)
    assert labels.index.tolist() == [c.index for c in cells]
    assert labels.class_keys == [c.consensus_class for c in cells]
    assert np.allclose(labels.posterior, [c.posterior for c in cells])
    assert labels.support.tolist() == [len(c.annotator_ids) for c in cells]
    assert labels.task_ids == [c.task_id for c in cells]
