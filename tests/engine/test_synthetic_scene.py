"""In-memory synthetic scene: determinism, seamless regions, ground truth matching the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from mlbackend.engine.synthetic import CHANNELS, CLASSES, MARKER_OF, Scene
from mlbackend.engine.synthetic.geometry import inverse_points

W, H = 2400, 1800


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene(width=W, height=H, seed=11)


def _tissue_box(scene: Scene) -> tuple[int, int, int, int]:
    return (W // 2 - 300, H // 2 - 300, 600, 600)


def test_same_seed_gives_identical_pixels_and_cells(scene: Scene) -> None:
    twin = Scene(width=W, height=H, seed=11)
    x, y, w, h = _tissue_box(scene)
    assert np.array_equal(scene.render_he(x, y, w, h), twin.render_he(x, y, w, h))
    assert np.array_equal(scene.render_if(x, y, 200, 150), twin.render_if(x, y, 200, 150))
    a, b = scene.cells_in(x, y, w, h), twin.cells_in(x, y, w, h)
    assert [c.id for c in a] == [c.id for c in b] and len(a) > 10
    assert all(np.array_equal(p.polygon, q.polygon) for p, q in zip(a, b))


def test_different_seed_gives_different_cells(scene: Scene) -> None:
    other = Scene(width=W, height=H, seed=12)
    x, y, w, h = _tissue_box(scene)
    a = {(round(c.x), round(c.y)) for c in scene.cells_in(x, y, w, h)}
    b = {(round(c.x), round(c.y)) for c in other.cells_in(x, y, w, h)}
    assert len(a & b) < 0.2 * len(a)


def test_regions_rendered_separately_stitch_without_seams(scene: Scene) -> None:
    x, y, _, _ = _tissue_box(scene)
    whole = scene.render_he(x, y, 512, 256)
    halves = np.concatenate([scene.render_he(x, y, 256, 256), scene.render_he(x + 256, y, 256, 256)], axis=1)
    assert np.abs(whole.astype(int) - halves.astype(int)).max() <= 1
    whole_if = scene.render_if(x, y, 256, 128, downsample=2)
    halves_if = np.concatenate(
        [scene.render_if(x, y, 128, 128, downsample=2), scene.render_if(x + 256, y, 128, 128, downsample=2)], axis=2
    )
    assert np.abs(whole_if.astype(int) - halves_if.astype(int)).max() <= 1


def test_cells_in_returns_cells_whose_centre_is_inside_with_polygon_around_it(scene: Scene) -> None:
    x, y, w, h = _tissue_box(scene)
    cells = scene.cells_in(x, y, w, h)
    assert cells and {c.cls for c in cells} == set(CLASSES)
    for c in cells:
        assert x <= c.x < x + w and y <= c.y < y + h
        assert c.polygon.shape[1] == 2 and c.polygon.shape[0] >= 12
        dist = np.hypot(c.polygon[:, 0] - c.x, c.polygon[:, 1] - c.y)
        assert 0.3 * c.radius < dist.min() and dist.max() < 3.0 * c.radius


def _haematoxylin(rgb: np.ndarray) -> np.ndarray:
    od = -np.log(np.maximum(rgb.astype(np.float64), 1.0) / 255.0)
    return od[..., 0]  # red is absorbed by haematoxylin much more than by eosin


def test_nuclei_are_darker_in_haematoxylin_at_truth_centres_than_background(scene: Scene) -> None:
    x, y, w, h = _tissue_box(scene)
    img = scene.render_he(x, y, w, h)
    hem = _haematoxylin(img)
    cells = [c for c in scene.cells_in(x + 5, y + 5, w - 10, h - 10) if c.radius > 8]
    at_centre = np.array([hem[int(c.y - y), int(c.x - x)] for c in cells])
    background = np.median(hem)
    assert np.mean(at_centre > background + 0.3) > 0.9


def test_if_marker_of_the_class_is_brightest_at_transformed_centre(scene: Scene) -> None:
    x, y, w, h = _tissue_box(scene)
    cells = scene.cells_in(x, y, w, h)
    centres_if = scene.transform.map_points(np.array([[c.x, c.y] for c in cells]))
    x0, y0 = np.floor(centres_if.min(axis=0)) - 20
    x1, y1 = np.ceil(centres_if.max(axis=0)) + 20
    img = scene.render_if(x0, y0, int(x1 - x0), int(y1 - y0), dtype=np.float32)
    dapi, markers = img[0], img[1:4]
    background = np.median(dapi)
    right, bright = 0, 0
    for c, (qx, qy) in zip(cells, centres_if):
        i, j = int(qy - y0), int(qx - x0)
        bright += dapi[i, j] > background + 0.3
        patch = markers[:, max(i - 6, 0) : i + 7, max(j - 6, 0) : j + 7].reshape(3, -1).max(axis=1)
        right += CHANNELS[1 + int(np.argmax(patch))] == MARKER_OF[c.cls]
    assert bright / len(cells) > 0.9
    assert right / len(cells) > 0.75  # mostly right; neighbours leak into the patch


def test_if_in_he_frame_shows_dapi_where_he_shows_nuclei(scene: Scene) -> None:
    x, y, w, h = _tissue_box(scene)
    he = _haematoxylin(scene.render_he(x, y, w, h))
    dapi = scene.render_if_in_he_frame(x, y, w, h, channels=("DAPI",), dtype=np.float32)[0]
    nucleus = he > np.median(he) + 0.5
    assert nucleus.mean() > 0.02
    assert dapi[nucleus].mean() > 4 * dapi[~nucleus].mean()


def test_inverse_transform_round_trips(scene: Scene) -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform([0, 0], [W, H], size=(200, 2))
    back = inverse_points(scene.transform, scene.transform.map_points(p))
    assert np.abs(back - p).max() < 0.05


def test_transform_scale_reflects_pixel_sizes_and_warp_is_a_few_micrometres(scene: Scene) -> None:
    expected = scene.mpp_he / scene.mpp_if * scene.extra_scale
    assert scene.transform.scale() == pytest.approx(expected, rel=1e-9)
    assert scene.transform.grid is not None
    assert scene.transform.grid.max_abs_px() * scene.mpp_he == pytest.approx(scene.warp_um, rel=1e-3)


def test_mirror_flips_the_determinant_sign() -> None:
    m = Scene(width=800, height=600, seed=1, mirror=True).transform.matrix
    assert np.linalg.det(m[:2, :2]) < 0
    assert np.linalg.det(Scene(width=800, height=600, seed=1).transform.matrix[:2, :2]) > 0


def test_glass_outside_tissue_is_white(scene: Scene) -> None:
    corner = scene.render_he(0, 0, 64, 64)
    assert corner.min() > 220


def _qda_error(features: np.ndarray, labels: np.ndarray) -> float:
    """Held-out error of a Gaussian (quadratic) classifier: an ideal observer of these features."""
    order = np.random.default_rng(0).permutation(len(labels))
    train, test = order[: len(order) // 2], order[len(order) // 2 :]
    scores = []
    for k in range(len(CLASSES)):
        xk = features[train][labels[train] == k]
        cov = np.cov(xk.T) + 1e-9 * np.eye(features.shape[1])
        diff = features[test] - xk.mean(axis=0)
        maha = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff)
        scores.append(-0.5 * maha - 0.5 * np.linalg.slogdet(cov)[1] + np.log(np.mean(labels[train] == k)))
    return float(np.mean(np.argmax(np.stack(scores, axis=1), axis=1) != labels[test]))


def test_classes_overlap_in_he_features_but_separate_by_markers() -> None:
    scene = Scene(width=8000, height=8000, seed=21)
    cells = scene.cell_batch_in(0, 0, 8000, 8000)
    assert len(cells) > 3000
    he = np.stack(
        [cells.radius, np.log(cells.axis_a / cells.axis_b), cells.stain, cells.texture, cells.harm_amp.mean(axis=1)],
        axis=1,
    )
    labels = cells.cls.astype(int)
    assert 0.18 < _qda_error(he, labels) < 0.38  # H&E alone: realistic expert confusion
    marker_right = np.mean(np.argmax(cells.markers, axis=1) == labels)
    assert marker_right > 0.97  # IF markers tell the classes apart
    dim = np.take_along_axis(cells.markers, labels[:, None], axis=1)[:, 0] < 0.5
    assert 0.05 < dim.mean() < 0.2  # some dim positives: readable, not trivial
    assert len(np.unique(labels)) == 3


def test_separation_knob_controls_he_confusion() -> None:
    errors = []
    for sep in (0.0, 2.0):
        cells = Scene(width=6000, height=6000, seed=3, he_separation=sep).cell_batch_in(0, 0, 6000, 6000)
        he = np.stack([cells.radius, np.log(cells.axis_a / cells.axis_b), cells.stain, cells.texture], axis=1)
        errors.append(_qda_error(he, cells.cls.astype(int)))
    assert errors[0] > 0.5 and errors[1] < 0.1


def test_fine_cues_separate_classes_that_coarse_cues_confuse() -> None:
    cells = Scene(width=6000, height=6000, seed=5).cell_batch_in(0, 0, 6000, 6000)
    labels = cells.cls.astype(int)
    coarse = np.stack([cells.radius, np.log(cells.axis_a / cells.axis_b), cells.stain, cells.texture], axis=1)
    assert _qda_error(coarse, labels) > 0.18
    assert _qda_error(np.c_[coarse, cells.cues], labels) < 0.08  # learnable from pixels in principle
    strongest = np.array([0, 2, 1])[np.argmax(cells.cues, axis=1)]  # cue columns: nucleolus, clumps, margination
    assert np.mean(strongest == labels) > 0.85  # each class has its own cue
    off = Scene(width=6000, height=6000, seed=5, he_fine_cues=0.0).cell_batch_in(0, 0, 6000, 6000)
    assert not off.cues.any()


def _ring_contrast(scene: Scene, cells, k: int) -> float:  # noqa: ANN001
    """Mean (haematoxylin density at the centre) - (density half-way to the rim) for class-k nuclei."""
    vals = []
    for i in np.flatnonzero(cells.cls == k)[:60]:
        x, y, r = int(cells.x[i]), int(cells.y[i]), float(cells.radius[i])
        img = scene.render_he(x - 20, y - 20, 41, 41).astype(np.float32)
        od = -np.log(np.maximum(img[..., 1], 1.0) / 255.0)
        yy, xx = np.mgrid[-20:21, -20:21]
        rho = np.hypot(xx, yy) / r
        vals.append(od[rho < 0.2].mean() - od[(rho > 0.35) & (rho < 0.6)].mean())
    return float(np.mean(vals))


def test_podocytes_show_a_central_nucleolus_in_the_pixels() -> None:
    scene = Scene(width=6000, height=6000, seed=5)
    cells = scene.cell_batch_in(2000, 2000, 2000, 2000)
    cells = cells.take(np.abs(cells.nucleolus_offset).max(axis=1) < 0.1)  # nucleolus near the centre
    pod, endo = _ring_contrast(scene, cells, 0), _ring_contrast(scene, cells, 1)
    assert pod > endo + 0.1
