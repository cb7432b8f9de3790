"""The second-stage per-nucleus crop classifier: learning, partial labels, out-of-fold correction, bundles, errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from mlbackend.engine.inference import PostConfig, cells_from_maps, predict_cells
from mlbackend.engine.inference.maps import Maps
from mlbackend.engine.nets import NetConfig
from mlbackend.engine.nets.cropnet import CropNet, CropNetConfig, fuse_cropnet
from mlbackend.engine.training import (
    CellClassifierConfig,
    CorrectiveConfig,
    Label,
    TrainConfig,
    TrainingSample,
    load_checkpoint,
    save_checkpoint,
    train,
)
from mlbackend.engine.training.cellclf import (
    classify_points,
    collect_crops,
    out_of_fold_correct,
    point_crops,
    predict_crops,
    train_crop_classifier,
)

CLF = CellClassifierConfig(enabled=True, crop_px=24, width=8, steps=120, batch_size=32, lr=5e-3, shift_px=2,
                           hed_sigma=0.0, correct_steps=80, correct_folds=2)


def _toy_image(rng: np.random.Generator, n: int = 12, size: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pale background with nuclei of 3 kinds that differ only in their inside: solid, ring, or dark dot."""
    img = np.full((size, size, 3), 225, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    xy, cls = [], []
    grid = [(x, y) for y in range(16, size - 15, 32) for x in range(16, size - 15, 32)]
    for gx, gy in grid[:n]:
        x, y = gx + rng.uniform(-3, 3), gy + rng.uniform(-3, 3)
        k = int(rng.integers(0, 3))
        d = np.hypot(xx - x, yy - y)
        img[d <= 8] = (150, 110, 170)
        if k == 1:
            img[d <= 4] = (205, 190, 215)  # pale centre (a ring)
        elif k == 2:
            img[d <= 2.5] = (40, 20, 70)  # a dark dot (a nucleolus)
        xy.append((x, y))
        cls.append(k)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8), np.array(xy), np.array(cls)


def _toy_samples(seed: int, n: int = 6) -> list[TrainingSample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img, xy, cls = _toy_image(rng)
        labels = tuple(Label(x=float(x), y=float(y), cls=int(k)) for (x, y), k in zip(xy, cls))
        out.append(TrainingSample(image=img, labels=labels, sample_id=f"s{i}"))
    return out


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_crop_classifier_learns_a_separable_toy_problem() -> None:
    data = collect_crops(_toy_samples(1), CLF)
    net, stats = train_crop_classifier(data, 3, CLF, seed=0)
    assert stats["steps"] == CLF.steps and stats["s_per_step"] > 0
    img, xy, cls = _toy_image(np.random.default_rng(99))
    acc = float((classify_points(net, img, xy).argmax(axis=1) == cls).mean())
    untrained = CropNet(CropNetConfig(num_classes=3, crop_px=24, width=8)).eval()
    acc0 = float((classify_points(untrained, img, xy).argmax(axis=1) == cls).mean())
    assert acc >= 0.9 > acc0


def test_fused_classifier_gives_the_same_probabilities() -> None:
    net = CropNet(CropNetConfig(num_classes=3, crop_px=24, width=8))
    net.train()
    net(torch.rand(8, 3, 24, 24))  # move the BatchNorm running statistics away from the identity
    net.eval()
    crops = np.random.default_rng(0).integers(0, 255, (5, 3, 24, 24), dtype=np.uint8)
    np.testing.assert_allclose(predict_crops(fuse_cropnet(net), crops), predict_crops(net, crops), atol=1e-5)


def test_partial_labels_give_one_crop_per_label_with_a_known_class() -> None:
    s = _toy_samples(2, n=1)[0]
    labels = list(s.labels)
    labels[0] = replace(labels[0], cls=None)  # "a cell, class unknown": no class evidence
    labels[1] = replace(labels[1], weight=0.0)
    data = collect_crops([replace(s, labels=tuple(labels))], CLF)
    assert len(data.cls) == len(labels) - 2
    assert data.crops.shape[1:] == (3, CLF.crop_px + 2 * CLF.shift_px, CLF.crop_px + 2 * CLF.shift_px)
    assert data.crops.dtype == np.uint8


def test_crops_at_the_image_border_are_padded_white() -> None:
    img = np.zeros((20, 20, 3), np.uint8)
    c = point_crops(img, np.array([[0.0, 0.0]]), 10)
    assert c.shape == (1, 3, 10, 10)
    assert (c[0, :, :5, :] == 255).all() and (c[0, :, 5:, 5:] == 0).all()


def test_out_of_fold_correction_fixes_flipped_labels_and_keeps_right_ones() -> None:
    samples = _toy_samples(3, n=8)
    rng = np.random.default_rng(5)
    truth, noisy = [], []
    for s in samples:
        labs = []
        for lab in s.labels:
            truth.append(lab.cls)
            flip = rng.random() < 0.2
            labs.append(replace(lab, cls=(lab.cls + 1) % 3) if flip else lab)
        noisy.append(replace(s, labels=tuple(labs)))
    cfg = replace(CLF, correct_confidence=0.7)
    fixed, stats = out_of_fold_correct(noisy, 3, cfg, seed=0)
    before = np.array([lab.cls for s in noisy for lab in s.labels])
    after = np.array([lab.cls for s in fixed for lab in s.labels])
    truth = np.array(truth)
    assert stats["relabelled"] == float((after != before).sum()) > 0
    assert (after == truth).mean() > (before == truth).mean() + 0.08
    off, stats_off = out_of_fold_correct(noisy, 3, replace(CLF, correct_confidence=0.0), seed=0)
    assert off == noisy and stats_off["relabelled"] == 0


def _maps_one_cell(shape: tuple[int, int] = (48, 48), xy: tuple[int, int] = (24, 24)) -> Maps:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d2 = (xx - xy[0]) ** 2 + (yy - xy[1]) ** 2
    fg = (d2 <= 49).astype(np.float32)
    cls = np.zeros((3,) + shape, np.float32)
    cls[0] = 0.8
    cls[1] = 0.2
    return Maps(fg=fg, centre=np.exp(-d2 / 8.0).astype(np.float32), hv=np.zeros((2,) + shape, np.float32), cls=cls)


def test_class_probs_override_or_mix_with_the_dense_head() -> None:
    maps = _maps_one_cell()
    seen = []

    def clf(xy: np.ndarray) -> np.ndarray:
        seen.append(xy.copy())
        return np.tile([0.0, 0.1, 0.9], (len(xy), 1))

    assert [c.cls for c in cells_from_maps(maps, PostConfig())] == [0]
    cells = cells_from_maps(maps, PostConfig(), class_probs=clf)
    assert [c.cls for c in cells] == [2] and cells[0].confidence == pytest.approx(0.9, abs=0.02)
    assert np.allclose(seen[0], [[24, 24]], atol=0.5)
    assert [c.cls for c in cells_from_maps(maps, PostConfig(), class_probs=clf, class_mix=0.3)] == [0]
    with pytest.raises(ValueError):
        cells_from_maps(maps, PostConfig(), class_probs=lambda xy: np.ones((len(xy), 2)))


def test_train_attaches_a_classifier_that_survives_a_checkpoint_round_trip(tmp_path) -> None:  # noqa: ANN001
    samples = _toy_samples(4, n=2)
    cfg = TrainConfig(net=NetConfig(width=8, depth=2), epochs=1, steps_per_epoch=1, batch_size=2, patch_px=64,
                      classifier=replace(CLF, steps=5, correct_confidence=0.6, correct_steps=3),
                      corrective=CorrectiveConfig(enabled=True, start_epoch=5), num_threads=1)
    res = train(cfg, samples)
    assert res.bundle.classifier is not None
    assert res.extra["classifier_steps"] == 5 and "oof_checked" in res.extra
    res2 = train(cfg, samples, init=res.bundle.net, init_classifier=res.bundle.classifier)
    assert res2.extra["classifier_steps"] == cfg.classifier.finetune_steps
    path = save_checkpoint(tmp_path / "m.pt", res.bundle)
    loaded = load_checkpoint(path, device="cpu")
    assert loaded.classifier is not None and loaded.classifier.config == res.bundle.classifier.config
    img, xy, _ = _toy_image(np.random.default_rng(8))
    np.testing.assert_allclose(classify_points(loaded.classifier, img, xy),
                               classify_points(res.bundle.classifier, img, xy), atol=1e-6)
    assert isinstance(predict_cells(loaded, img), list)
    plain = save_checkpoint(tmp_path / "plain.pt", replace(res.bundle, classifier=None))
    assert load_checkpoint(plain, device="cpu").classifier is None


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        CropNet(CropNetConfig(num_classes=1))
    net = CropNet(CropNetConfig(num_classes=3, crop_px=24, width=8))
    with pytest.raises(ValueError):
        predict_crops(net, np.zeros((2, 3, 20, 20), np.uint8))
    with pytest.raises(ValueError):
        predict_crops(net, np.zeros((2, 3, 24, 24), np.uint8), tta=5)
    with pytest.raises(ValueError):
        net(torch.zeros(1, 4, 24, 24))
    with pytest.raises(ValueError):
        classify_points(net, np.zeros((24, 24), np.uint8), np.zeros((1, 2)))
    empty = collect_crops([replace(_toy_samples(6, n=1)[0], labels=(Label(x=5, y=5, cls=None),))], CLF)
    with pytest.raises(ValueError):
        train_crop_classifier(empty, 3, CLF)
    data = collect_crops(_toy_samples(7, n=1), CLF)
    with pytest.raises(ValueError):
        train_crop_classifier(data, 2, CLF)  # labels of class 2 do not fit 2 classes
    with pytest.raises(ValueError):
        train_crop_classifier(data, 3, replace(CLF, crop_px=32), init=net)
