"""Compact encoder-decoder cell network with foreground, centre, class and HoVer distance heads."""

from mlbackend.engine.nets.cellnet import CellNet, NetConfig, NetOutputs, split_outputs
from mlbackend.engine.nets.fuse import fuse_for_inference

__all__ = ["CellNet", "NetConfig", "NetOutputs", "fuse_for_inference", "split_outputs"]
