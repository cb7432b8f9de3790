"""Multi-process training with torch.distributed (DDP): torchrun entry and process-group helpers."""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist

from mlbackend.engine.training.checkpoint import save_checkpoint
from mlbackend.engine.training.config import TrainConfig
from mlbackend.engine.training.loop import train

logger = logging.getLogger(__name__)


@contextmanager
def process_group(backend: str | None = None) -> Iterator[tuple[int, int]]:
    """Initialise the default process group from torchrun's environment; yields (rank, world_size)."""
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        shutdown_process_group()


def shutdown_process_group() -> None:
    """Leave the process group without racing the other ranks.

    Rank 0 hosts the TCP store; if it tears down while another rank is still inside its own teardown, that rank
    aborts in C++ ("terminate called without an active exception"). A barrier first lets every rank reach the
    teardown together.
    """
    if not dist.is_initialized():
        return
    try:
        dist.barrier()
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    """torchrun entry: ``torchrun --nproc-per-node N -m mlbackend.engine.training.distributed CONFIG.json SAMPLES.pkl OUT.pt``."""
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="TrainConfig as JSON (TrainConfig.to_dict())")
    parser.add_argument("samples", help="pickled list[TrainingSample]")
    parser.add_argument("out", help="checkpoint path written by rank 0")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as fh:
        config = TrainConfig.from_dict(json.load(fh))
    with open(args.samples, "rb") as fh:
        samples = pickle.load(fh)  # noqa: S301 - written by our own pipeline
    with process_group() as (rank, world):
        result = train(config, samples)
        if rank == 0:
            save_checkpoint(args.out, result.bundle)
            logger.info("trained on %d processes, %.2fs/epoch", world, result.seconds_per_epoch)


def exit_now(code: int = 0) -> None:
    """End a rank's process without running C++ static destructors.

    With this CPU build, a gloo rank that returns normally sometimes aborts during interpreter shutdown
    ("terminate called without an active exception": a still-joinable thread destroyed at exit), turning a
    finished job into a failed one. Everything is written and flushed before this is called.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
    exit_now(0)
