"""DDP training on CPU (gloo, 2 processes) keeps parameters in sync while ranks see different batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mlbackend.engine.nets import NetConfig
from mlbackend.engine.training import Label, TrainConfig, TrainingSample, train
from mlbackend.engine.training.distributed import exit_now, shutdown_process_group


def _samples() -> list[TrainingSample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        img = np.full((64, 64, 3), 225, np.uint8)
        labels = []
        for _ in range(5):
            x, y = rng.uniform(8, 56, 2)
            yy, xx = np.mgrid[:64, :64]
            img[(xx - x) ** 2 + (yy - y) ** 2 <= 25] = (80, 60, 150)
            labels.append(Label(x=float(x), y=float(y), cls=int(rng.integers(0, 3))))
        out.append(TrainingSample(image=img, labels=tuple(labels), mode="exhaustive", sample_id=str(i)))
    return out


def _worker(rank: int, world: int, store_file: str, out_dir: str) -> None:
    # A file store, not TCP: no rank hosts the rendezvous, so none can vanish while another still talks to it.
    dist.init_process_group("gloo", init_method=f"file://{store_file}", rank=rank, world_size=world)
    try:
        cfg = TrainConfig(net=NetConfig(width=4, depth=1), epochs=1, steps_per_epoch=3, batch_size=2, patch_px=32,
                          num_threads=1, device="cpu")
        res = train(cfg, _samples())
        flat = torch.cat([p.detach().flatten() for p in res.bundle.net.parameters()])
        gathered = [torch.zeros_like(flat) for _ in range(world)]
        dist.all_gather(gathered, flat)
        diff = max(float((g - gathered[0]).abs().max()) for g in gathered)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"diff": diff, "loss": res.losses[0],
                                                                 "norm": float(flat.norm())}))
    finally:
        shutdown_process_group()
    Path(out_dir, f"rank{rank}.closed").touch()  # the process group was left cleanly
    exit_now(0)  # results are on disk; skip the C++ teardown that sometimes aborts (see exit_now)


def test_two_process_gloo_training_keeps_replicas_identical(tmp_path: Path) -> None:
    try:
        mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    except mp.ProcessExitedException as exc:
        # This torch build's gloo can still abort a rank in C++ teardown after everything is done; that is only
        # tolerated once every rank has trained, gathered, written its result and left the process group.
        done = all((tmp_path / f"rank{r}.closed").exists() for r in range(2))
        if not (exc.signal_name == "SIGABRT" and done):
            raise
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["diff"] == 0.0 and r1["diff"] == 0.0
    assert r0["norm"] == r1["norm"]
    assert r0["loss"] != r1["loss"]  # each rank trained on its own batches
