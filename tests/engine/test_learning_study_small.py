"""The small learning study runs end to end and a trained model beats an untrained one on held-out data."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_study():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("learning_study", ROOT / "benchmarks" / "learning.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(1200)  # ~1 min on an idle 2-core machine; far longer when it is shared
def test_small_learning_study_reports_every_arm_and_beats_untrained_model() -> None:
    out = _load_study().main(["--small", "--threads", "1"])
    for arm in ("lay_overlay", "expert_morphology", "lay_no_correction"):
        row = out[arm]
        for key in ("detection_f1", "class_f1", "dice", "aji", "pq"):
            assert 0.0 <= row[key] <= 1.0, (arm, key)
    assert [r["cycle"] for r in out["cycles"] if r["arm"] == "lay_overlay"] == [1, 2]
    assert out["infer_mpx_per_s"] > 0 and out["train_s_per_epoch"] > 0
    assert not math.isnan(out["he_feature_ceiling_class_f1"])
    # Held-out slide: the evaluated region is on a different generated slide than every training task.
    assert out["lay_overlay"]["cells_true"] == out["untrained"]["cells_true"] > 0
    assert out["lay_overlay"]["detection_f1"] > out["untrained"]["detection_f1"] + 0.1
    assert out["lay_overlay"]["dice"] > out["untrained"]["dice"]
    assert out["label_quality"]["expert"]["class_error"] > out["label_quality"]["lay"]["class_error"]
    # Every arm's bundle carries the crop classifier; the dense head's own class F1 is kept as a diagnostic.
    assert out["inference"]["with_crop_classifier"] and "dense_head_class_f1" in out["lay_overlay"]
    assert out["lay_overlay"]["classifier"]["classifier_steps"] > 0
