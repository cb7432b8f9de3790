"""The cell network's output layout and configuration."""

from __future__ import annotations

import pytest
import torch

from mlbackend.engine.device import configure_threads, pick_device
from mlbackend.engine.nets import CellNet, NetConfig, split_outputs


@pytest.mark.parametrize("stem", [1, 2])
def test_network_returns_one_map_per_head_at_input_resolution(stem: int) -> None:
    net = CellNet(NetConfig(num_classes=3, width=8, depth=2, stem_stride=stem)).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = split_outputs(net(x))
    assert out.fg.shape == (2, 1, 64, 64)
    assert out.centre.shape == (2, 1, 64, 64)
    assert out.hv.shape == (2, 2, 64, 64)
    assert out.cls.shape == (2, 3, 64, 64)
    assert float(out.hv.abs().max()) <= 1.0


def test_if_channels_flag_adds_input_channels() -> None:
    net = CellNet(NetConfig(if_channels=2, width=8, depth=2))
    assert net.config.in_channels == 5
    with torch.no_grad():
        assert net(torch.rand(1, 5, 32, 32)).shape == (1, 7, 32, 32)
    with pytest.raises(RuntimeError):
        net(torch.rand(1, 3, 32, 32))


def test_config_round_trips_through_dict() -> None:
    cfg = NetConfig(num_classes=5, if_channels=1, width=12, depth=4, stem_stride=1)
    assert NetConfig.from_dict(cfg.to_dict() | {"unknown": 1}) == cfg


def test_device_helper_picks_cpu_without_cuda_and_honours_preference() -> None:
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert pick_device().type == "cpu"
    assert configure_threads(1) == 1
    assert torch.get_num_threads() == 1


def test_fused_network_gives_the_same_outputs() -> None:
    from mlbackend.engine.nets import fuse_for_inference

    net = CellNet(NetConfig(width=8, depth=2))
    net.train()
    with torch.no_grad():
        for _ in range(3):  # give BatchNorm non-trivial running statistics
            net(torch.rand(2, 3, 32, 32))
    net.eval()
    fused = fuse_for_inference(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), fused(x), atol=1e-4)
