"""Matching of annotators' labels into cell clusters."""

import numpy as np

from mlbackend.engine.consensus import AnnotatorLabel, ModelCell, TaskLabels, build_consensus, consensus_cells
from mlbackend.engine.consensus.matching import match_arrays


def _task(labels, mode="exhaustive", models=(), mpp=0.25, classes=("a", "b")):
    annotators = tuple(sorted({lab.annotator_id for lab in labels}))
    return TaskLabels("t", mode, classes, tuple(labels), annotators, tuple(models), mpp)


def test_each_cluster_holds_at_most_one_label_per_annotator():
    rng = np.random.default_rng(5)
    labels = [AnnotatorLabel(i, f"ann{i % 3}", "a", *rng.uniform(0, 200, 2)) for i in range(300)]
    cells = consensus_cells(build_consensus([_task(labels)]))
    assert sum(len(c.label_ids) for c in cells) == 300
    for c in cells:
        assert len(set(c.annotator_ids)) == len(c.annotator_ids)


def test_two_clicks_by_one_annotator_on_one_cell_stay_in_separate_clusters():
    labels = [AnnotatorLabel(1, "x", "a", 100, 100), AnnotatorLabel(2, "x", "a", 102, 100),
              AnnotatorLabel(3, "y", "a", 101, 100)]
    cells = consensus_cells(build_consensus([_task(labels)]))
    assert sorted(len(c.label_ids) for c in cells) == [1, 2]


def test_matching_radius_is_in_micrometres():
    labels = [AnnotatorLabel(1, "x", "a", 100, 100), AnnotatorLabel(2, "y", "a", 110, 100)]
    # 10 px apart: 2.5 um at 0.25 mpp (inside 4 um), 5 um at 0.5 mpp (outside).
    assert len(consensus_cells(build_consensus([_task(labels, mpp=0.25)]))) == 1
    assert len(consensus_cells(build_consensus([_task(labels, mpp=0.5)]))) == 2


def test_assignment_is_optimal_where_greedy_nearest_would_lose_a_match():
    x = np.array([0.0, 10.0, 6.0, 16.0])
    y = np.zeros(4)
    ann = np.array([0, 0, 1, 1])
    m = match_arrays(x, y, ann, [None] * 4, np.zeros(0), np.zeros(0), [], radius_px=8.0, iou_threshold=0.3)
    assert m.n_clusters == 2
    assert m.label_cluster[0] == m.label_cluster[2]
    assert m.label_cluster[1] == m.label_cluster[3]


def _square(x0, y0, side):
    return ((x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side))


def test_polygons_match_by_iou_not_only_by_distance():
    big = dict(mpp=0.25)
    same = [AnnotatorLabel(1, "x", "a", 10, 10, _square(0, 0, 20)), AnnotatorLabel(2, "y", "a", 12, 10, _square(2, 0, 20))]
    apart = [AnnotatorLabel(1, "x", "a", 10, 10, _square(0, 0, 20)), AnnotatorLabel(2, "y", "a", 25, 10, _square(15, 0, 20))]
    assert len(consensus_cells(build_consensus([_task(same, **big)]))) == 1
    assert len(consensus_cells(build_consensus([_task(apart, **big)]))) == 2
    cell = consensus_cells(build_consensus([_task(same, **big)]))[0]
    assert cell.polygon is not None


def test_model_cells_attach_to_clusters_or_open_model_only_clusters():
    labels = [AnnotatorLabel(1, "x", "a", 100, 100), AnnotatorLabel(2, "y", "a", 101, 100)]
    models = [ModelCell(100, 101, "b", 0.8), ModelCell(400, 400, "a", 0.9)]
    cells = consensus_cells(build_consensus([_task(labels, models=models)]))
    assert len(cells) == 2
    labelled = [c for c in cells if c.label_ids][0]
    model_only = [c for c in cells if not c.label_ids][0]
    assert labelled.model_class == "b"
    assert model_only.model_class == "a" and model_only.status == "no_cell"
    assert set(model_only.missing_annotator_ids) == {"x", "y"}


def test_model_only_cluster_in_sparse_task_is_unlabelled_not_a_vote():
    labels = [AnnotatorLabel(1, "x", "a", 100, 100)]
    cells = consensus_cells(build_consensus([_task(labels, mode="sparse", models=[ModelCell(400, 400, "a", 0.9)])]))
    model_only = [c for c in cells if not c.label_ids][0]
    assert model_only.status == "unlabelled"
    assert model_only.missing_annotator_ids == ()


def test_polygon_iou_of_identical_and_half_shifted_squares():
    from mlbackend.engine.consensus.geometry import polygon_iou, ring_centroid

    square = _square(0, 0, 20)
    assert polygon_iou(square, square) > 0.95
    assert abs(polygon_iou(square, _square(10, 0, 20)) - 1 / 3) < 0.05
    assert polygon_iou(square, _square(50, 50, 20)) == 0.0
    assert ring_centroid(square) == (10.0, 10.0)


def test_matching_many_labels_keeps_every_label_and_radius():
    rng = np.random.default_rng(9)
    centres = rng.uniform(0, 5000, (2000, 2))
    labels = []
    for a in range(3):
        jitter = rng.normal(0, 2.0, centres.shape)
        labels += [AnnotatorLabel(f"{a}-{i}", f"ann{a}", "a", *(centres[i] + jitter[i])) for i in range(len(centres))]
    result = build_consensus([_task(labels)])
    ar = result.arrays
    radius_px = 4.0 / 0.25
    dist = np.hypot(ar.cell_x[ar.label_cell] - np.array([lab.x for lab in labels]),
                    ar.cell_y[ar.label_cell] - np.array([lab.y for lab in labels]))
    assert len(ar.label_cell) == len(labels)
    assert dist.max() <= radius_px
    assert ar.n_cells < 1.1 * len(centres)
