"""Compact encoder-decoder cell network with foreground, centre, class and HoVer distance heads."""

from mlbackend.engine.nets.cellnet import CellNet, NetConfig, NetOutputs, split_outputs

__all__ = ["CellNet", "NetConfig", "NetOutputs", "split_outputs"]
