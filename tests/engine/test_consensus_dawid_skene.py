"""Dawid-Skene consensus against majority vote, label modes and degenerate inputs."""

import numpy as np
import pytest

from mlbackend.engine.consensus import (
    AnnotatorLabel,
    TaskLabels,
    build_consensus,
    consensus_agreement,
    consensus_cells,
    review_queue,
    task_disagreements,
    task_priorities,
)
from mlbackend.engine.consensus.simulate import SimAnnotator, cluster_truth, make_confusion, simulate_slide


def _pool(k=4):
    return (SimAnnotator("good1", make_confusion(0.9, k), 0.9), SimAnnotator("good2", make_confusion(0.8, k), 0.85),
            SimAnnotator("poor", make_confusion(0.4, k), 0.8))


@pytest.mark.parametrize("seed", [101, 202])
def test_dawid_skene_beats_majority_vote_when_one_annotator_is_poor(seed):
    sim = simulate_slide(2500, _pool(), k_per_task=3, seed=seed, model_accuracy=None)
    result = build_consensus(sim.tasks)
    truth = cluster_truth(result, sim)
    lab = result.arrays.state >= 0
    ds = (result.arrays.state[lab] == truth[lab]).mean()
    mv = (result.arrays.mv_state[lab] == truth[lab]).mean()
    assert ds > mv + 0.02


def test_estimated_reliability_orders_annotators_like_the_truth():
    accs = [0.95, 0.85, 0.75, 0.6, 0.45, 0.3]
    pool = tuple(SimAnnotator(f"a{i}", make_confusion(acc, 3), 0.9) for i, acc in enumerate(accs))
    sim = simulate_slide(3000, pool, k_per_task=3, seed=303, model_accuracy=None)
    rel = {a.annotator_id: a.reliability for a in build_consensus(sim.tasks).annotators}
    est = np.array([rel[f"a{i}"] for i in range(len(accs))])
    assert np.corrcoef(est, accs)[0, 1] > 0.9


def _tasks(mode, lone_assigned):
    labels = []
    for i in range(40):
        for ann in ("A", "B"):
            labels.append(AnnotatorLabel(f"{ann}{i}", ann, "tumor" if i % 2 else "immune", 100.0 * i, 0.0))
    background = TaskLabels("bg", "exhaustive", ("tumor", "immune"), tuple(labels), ("A", "B"))
    lone = TaskLabels("lone", mode, ("tumor", "immune"), (AnnotatorLabel("lone", "A", "tumor", 0.0, 0.0),),
                      lone_assigned)
    return [background, lone]


def _lone(mode, assigned=("A", "B")):
    cells = consensus_cells(build_consensus(_tasks(mode, assigned)))
    cell = [c for c in cells if c.label_ids == ("lone",)][0]
    return cell, dict(cell.class_posteriors)["tumor"]


def test_sparse_missing_label_is_unknown_not_a_vote_against():
    sparse, p_sparse = _lone("sparse")
    _, p_sparse_without_b = _lone("sparse", ("A",))
    assert sparse.missing_annotator_ids == ()
    assert sparse.consensus_class == "tumor"
    assert p_sparse == pytest.approx(p_sparse_without_b, abs=1e-9)


def test_exhaustive_missing_label_is_a_vote_against():
    exhaustive, p_exh = _lone("exhaustive")
    _, p_exh_without_b = _lone("exhaustive", ("A",))
    _, p_sparse = _lone("sparse")
    assert exhaustive.missing_annotator_ids == ("B",)
    assert p_exh < p_exh_without_b - 0.01
    assert p_exh < p_sparse - 0.01


def test_build_is_deterministic():
    sim = simulate_slide(600, _pool(), k_per_task=3, seed=404)
    a, b = build_consensus(sim.tasks), build_consensus(sim.tasks)
    assert np.array_equal(a.arrays.posterior, b.arrays.posterior)
    assert np.array_equal(a.arrays.mv_state, b.arrays.mv_state)


def _run_everything(tasks):
    result = build_consensus(tasks)
    return (result, consensus_cells(result), review_queue(result), task_disagreements(result),
            task_priorities(result), consensus_agreement(result))


def test_no_tasks_and_no_labels_do_not_crash():
    result, cells, queue, per_task, prio, agree = _run_everything([])
    assert cells == () and queue == () and per_task == () and prio == () and agree == ()
    result, cells, queue, per_task, prio, agree = _run_everything([TaskLabels("t", "exhaustive", ("a",), ())])
    assert cells == () and queue == ()
    assert per_task[0].n_cells == 0 and per_task[0].pairwise_agreement is None


def test_single_annotator_and_single_class_give_a_consensus():
    labels = tuple(AnnotatorLabel(i, "only", "a", 50.0 * i, 0.0) for i in range(5))
    result, cells, queue, per_task, prio, agree = _run_everything([TaskLabels("t", "exhaustive", ("a",), labels)])
    assert len(cells) == 5
    assert all(c.consensus_class == "a" and c.status == "cell" for c in cells)
    assert agree[0].class_agreement == 1.0
    assert 0.0 <= result.annotators[0].reliability <= 1.0
