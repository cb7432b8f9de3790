"""Partial-label targets, augmentation, losses, corrective learning and the train entry point."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from mlbackend.engine.inference.maps import Maps
from mlbackend.engine.nets import CellNet, NetConfig
from mlbackend.engine.stain import AugmentConfig
from mlbackend.engine.training import (
    CorrectiveConfig,
    Label,
    TargetConfig,
    TrainConfig,
    TrainingSample,
    apply_annotator_weights,
    build_targets,
    corrective,
    load_checkpoint,
    save_checkpoint,
    train,
)
from mlbackend.engine.training.augment import augment_sample, rotate_flip
from mlbackend.engine.training.losses import LossWeights, partial_label_loss, stack_targets

CFG = TargetConfig(sigma_px=2.0, known_radius_px=5.0, fg_radius_px=2.0, cls_radius_px=3.0, bg_radius_px=8.0)


def _sample(mode: str = "sparse", classes: tuple[int, ...] | None = None) -> TrainingSample:
    img = np.full((48, 48, 3), 230, np.uint8)
    labels = (
        Label(x=10, y=10, cls=0, annotator="a"),
        Label(x=30, y=30, cls=None, annotator="b"),
        Label(x=36, y=12, cls=2, polygon=((32, 8), (40, 8), (40, 16), (32, 16)), annotator="a"),
    )
    return TrainingSample(image=img, labels=labels, mode=mode, classes=classes)


def test_sparse_region_leaves_pixels_away_from_labels_unknown() -> None:
    t = build_targets(_sample("sparse"), 3, CFG)
    assert t.centre_w[45, 2] == 0 and t.fg_w[45, 2] == 0
    assert t.centre[10, 10] == pytest.approx(1.0) and t.centre_w[10, 10] == 1.0
    assert t.fg[10, 10] == 1 and t.cls[10, 10] == 0
    assert t.cls[30, 30] == -1  # a label without class says nothing about class
    assert t.fg[12, 36] == 1 and t.hv_w[12, 36] > 0 and t.cls[12, 36] == 2
    assert t.hv_w[10, 10] == 0  # HoVer maps only come from outlines


def test_exhaustive_region_with_all_classes_supplies_background() -> None:
    t = build_targets(_sample("exhaustive"), 3, CFG)
    assert t.centre_w[45, 2] == 1 and t.centre[45, 2] == 0
    assert t.fg_w[45, 2] == 1 and t.fg[45, 2] == 0
    assert t.fg_w[10, 14] == 0  # near a point label the cell's extent is unknown


def test_exhaustive_region_that_asked_some_classes_gives_no_negatives() -> None:
    t = build_targets(_sample("exhaustive", classes=(0,)), 3, CFG)
    assert t.centre_w[45, 2] == 0 and t.fg_w[45, 2] == 0


def test_annotator_weights_scale_only_that_annotators_labels() -> None:
    [s] = apply_annotator_weights([_sample()], {"a": 0.25})
    assert [lab.weight for lab in s.labels] == [0.25, 1.0, 0.25]
    t = build_targets(s, 3, CFG)
    assert t.cls_w[10, 10] == pytest.approx(0.25)


@pytest.mark.parametrize("k", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_rotate_flip_keeps_labels_on_their_pixels(k: int, flip: bool) -> None:
    img = np.zeros((20, 30, 3), np.uint8)
    img[4, 7] = 255
    s = TrainingSample(image=img, labels=(Label(x=7, y=4, cls=1),))
    out = rotate_flip(s, k, flip)
    lab = out.labels[0]
    assert out.image[int(round(lab.y)), int(round(lab.x)), 0] == 255


def test_augmented_crop_has_requested_size_and_shifted_labels() -> None:
    rng = np.random.default_rng(0)
    img = np.full((100, 100, 3), 200, np.uint8)
    img[48:53, 48:53] = 20
    s = TrainingSample(image=img, labels=(Label(x=50, y=50, cls=0),))
    cfg = AugmentConfig(scale_range=(0.9, 1.1), hed_sigma=0.0, hed_bias=0.0, blur_prob=0.0)
    for _ in range(5):
        out = augment_sample(s, 64, rng, cfg)
        assert out.image.shape == (64, 64, 3)
        inside = [lab for lab in out.labels if 0 <= lab.x < 64 and 0 <= lab.y < 64]
        for lab in inside:
            assert out.image[int(round(lab.y)), int(round(lab.x)), 0] < 100


def test_loss_ignores_predictions_at_unknown_pixels() -> None:
    t = stack_targets([build_targets(_sample("sparse"), 3, CFG)], torch.device("cpu"))
    raw = torch.zeros(1, 7, 48, 48, requires_grad=True)
    loss, parts = partial_label_loss(raw, t, LossWeights())
    loss.backward()
    assert raw.grad is not None
    assert float(raw.grad[0, :, 45, 2].abs().sum()) == 0.0
    assert float(raw.grad[0, :, 10, 10].abs().sum()) > 0.0
    assert set(parts) == {"fg", "centre", "cls", "hv"}


def test_checkpoint_round_trip_is_atomic_and_exact(tmp_path) -> None:  # noqa: ANN001
    from mlbackend.engine.training import ModelBundle

    net = CellNet(NetConfig(width=8, depth=2)).eval()
    path = save_checkpoint(tmp_path / "m.pt", ModelBundle(net=net, class_names=("a", "b", "c"), config={"k": 1}))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    loaded = load_checkpoint(path, device="cpu")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net(x), loaded.net(x))
    assert loaded.class_names == ("a", "b", "c") and loaded.config == {"k": 1}


def _fake_maps(cls_prob: np.ndarray, peak_xy: tuple[int, int]) -> Maps:
    centre = np.zeros((48, 48), np.float32)
    centre[peak_xy[1], peak_xy[0]] = 0.9
    cls = np.broadcast_to(cls_prob[:, None, None], (3, 48, 48)).astype(np.float32)
    return Maps(fg=np.ones((48, 48), np.float32), centre=centre, hv=np.zeros((2, 48, 48), np.float32), cls=cls)


@pytest.mark.parametrize("mode", ["correct", "downweight"])
def test_corrective_pass_overrules_labels_a_confident_model_contradicts(monkeypatch, mode: str) -> None:  # noqa: ANN001
    maps = _fake_maps(np.array([0.05, 0.9, 0.05]), (12, 11))
    monkeypatch.setattr(corrective, "predict_maps", lambda net, im, if_im=None: maps)
    s = TrainingSample(image=np.zeros((48, 48, 3), np.uint8), labels=(Label(x=10, y=10, cls=0), Label(x=40, y=40, cls=1)))
    cfg = CorrectiveConfig(enabled=True, mode=mode, class_confidence=0.8, snap_radius_px=4)
    net = CellNet(NetConfig(width=8, depth=2))
    [out], stats = corrective.correct_samples(net, [s], cfg)
    a, b = out.labels
    if mode == "correct":
        assert a.cls == 1 and stats.relabelled == 1
    else:
        assert a.cls == 0 and a.weight < 0.5 and stats.downweighted >= 1
    assert (a.x, a.y) == (12.0, 11.0) or mode == "downweight"
    assert b.cls == 1  # the label the model agrees with keeps its class


def _scene_sample(size: int = 96) -> TrainingSample:
    from mlbackend.engine.synthetic.scene import Scene

    scene = Scene(width=4000, height=4000, seed=3)
    x0, y0 = 2800, 2800
    cells = scene.cell_batch_in(x0, y0, size, size)
    labels = tuple(Label(x=float(x - x0), y=float(y - y0), cls=int(c)) for x, y, c in zip(cells.x, cells.y, cells.cls))
    return TrainingSample(image=scene.render_he(x0, y0, size, size), labels=labels, mode="exhaustive")


def test_train_reports_progress_and_returns_a_usable_bundle() -> None:
    seen = []
    cfg = TrainConfig(net=NetConfig(width=8, depth=2), epochs=2, steps_per_epoch=2, batch_size=2, patch_px=64,
                      corrective=CorrectiveConfig(enabled=True, start_epoch=1, every_epochs=1), num_threads=1)
    res = train(cfg, [_scene_sample()], progress=seen.append)
    assert [p.epoch for p in seen] == [1, 2]
    assert len(res.losses) == 2 and all(np.isfinite(res.losses))
    assert res.seconds_per_epoch > 0
    assert len(res.corrections) == 1 and res.corrections[0].checked > 0
    assert res.bundle.class_names == cfg.class_names
    assert res.bundle.config["epochs"] == 2


def test_train_refuses_samples_without_labels() -> None:
    s = replace(_scene_sample(), labels=())
    with pytest.raises(ValueError):
        train(TrainConfig(epochs=1, steps_per_epoch=1), [s])


def test_config_round_trips_through_dict() -> None:
    cfg = TrainConfig(net=NetConfig(width=8), corrective=CorrectiveConfig(enabled=True), epochs=3)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_self_training_keeps_only_images_stable_across_snapshots(monkeypatch) -> None:  # noqa: ANN001
    from mlbackend.engine.inference import CellPrediction, PostConfig
    from mlbackend.engine.training import selftrain

    net = CellNet(NetConfig(width=4, depth=1))
    snaps = []
    for v in (0.0, 1.0, 2.0):
        state = {k: t.clone() for k, t in net.state_dict().items()}
        first = next(iter(state))
        state[first] = torch.full_like(state[first], v)
        snaps.append(state)
    stable, shaky = np.zeros((8, 8, 3), np.uint8), np.ones((8, 8, 3), np.uint8)

    def fake_maps(probe, image):  # noqa: ANN001, ANN202
        return float(next(iter(probe.state_dict().values())).flatten()[0]), int(image[0, 0, 0])

    def fake_cells(key, post):  # noqa: ANN001, ANN202
        snap, which = key
        shift = 0.0 if which == 0 else 40.0 * snap  # the shaky image's cells move between snapshots
        return [CellPrediction(x=10 + shift, y=10, cls=1, confidence=0.9, polygon=()),
                CellPrediction(x=60 + shift, y=60, cls=2, confidence=0.3, polygon=())]

    monkeypatch.setattr(selftrain, "predict_maps", fake_maps)
    monkeypatch.setattr(selftrain, "cells_from_maps", fake_cells)
    cfg = selftrain.SelfTrainConfig(enabled=True, stability_threshold=0.8, min_confidence=0.5, pseudo_weight=0.4)
    scores = selftrain.stability_scores(snaps, net, [stable, shaky], cfg, PostConfig())
    assert [s.selected for s in scores] == [True, False]
    assert scores[0].score == pytest.approx(1.0) and scores[1].score < 0.5
    net.load_state_dict(snaps[-1])
    pseudo = selftrain.pseudo_samples(net, [stable, shaky], scores, cfg, PostConfig())
    assert len(pseudo) == 1 and pseudo[0].mode == "sparse"
    assert [(lab.cls, lab.weight) for lab in pseudo[0].labels] == [(1, 0.4)]  # the unconfident cell is left out


def test_corrected_labels_are_what_later_epochs_train_on(monkeypatch) -> None:  # noqa: ANN001
    from mlbackend.engine.training import loop
    from mlbackend.engine.training.corrective import CorrectionStats

    seen: list[set[int | None]] = []
    real_augment = loop.augment_sample

    def spy(sample, size, rng, cfg):  # noqa: ANN001, ANN202
        seen.append({lab.cls for lab in sample.labels})
        return real_augment(sample, size, rng, cfg)

    def relabel_all(net, samples, cfg, r):  # noqa: ANN001, ANN202
        return [replace(s, labels=tuple(replace(lab, cls=2) for lab in s.labels)) for s in samples], CorrectionStats()

    monkeypatch.setattr(loop, "augment_sample", spy)
    monkeypatch.setattr(loop, "correct_samples", relabel_all)
    s = TrainingSample(image=np.full((64, 64, 3), 200, np.uint8), labels=(Label(x=30, y=30, cls=0),), mode="sparse")
    cfg = TrainConfig(net=NetConfig(width=4, depth=1), epochs=2, steps_per_epoch=1, batch_size=1, patch_px=32,
                      corrective=CorrectiveConfig(enabled=True, start_epoch=1, every_epochs=1), num_threads=1)
    train(cfg, [s])
    assert seen == [{0}, {2}]
