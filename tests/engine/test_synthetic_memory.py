"""Streaming: writing a slide never materialises the full image (tracemalloc peak far below its size)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np

from mlbackend.engine.synthetic import CHANNELS, Scene
from mlbackend.engine.synthetic.pair import _if_renderer
from mlbackend.engine.synthetic.render_he import render_he
from mlbackend.engine.synthetic.tiff_io import write_he_svs, write_if_ome
from mlbackend.engine.synthetic.truth import write_truth


def _peak_bytes_writing(tmp: Path, w: int, h: int) -> int:
    scene = Scene(width=w, height=h, seed=4, cell_spacing_um=14.0)
    scene.render_he(0, 0, 8, 8)  # warm caches (textures) outside the measurement
    tracemalloc.start()
    try:
        write_he_svs(tmp / "he.svs", lambda x, y, tw, th, d: render_he(scene, x, y, tw, th, d), w, h, 0.25, 40.0)
        write_truth(tmp / "truth.geojson", scene, scene.transform, scene.if_size)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_writing_he_and_truth_uses_memory_independent_of_slide_size(tmp_path: Path) -> None:
    small = _peak_bytes_writing(tmp_path, 1024, 1024)
    w, h = 3072, 2048
    large = _peak_bytes_writing(tmp_path, w, h)
    assert large < w * h * 3 / 2, f"peak {large / 1e6:.1f} MB vs image {w * h * 3 / 1e6:.1f} MB"
    assert large < 1.3 * small + 2e6, f"peak grew from {small / 1e6:.1f} MB to {large / 1e6:.1f} MB"
    assert (tmp_path / "he.svs").stat().st_size > 100_000


def _peak_bytes_writing_if(tmp: Path, w: int, h: int) -> int:
    scene = Scene(width=w, height=h, seed=6, cell_spacing_um=14.0)
    render = _if_renderer(scene, np.uint16)
    render(0, 0, 8, 8, 1.0)  # warm caches (textures) outside the measurement
    tracemalloc.start()
    try:
        write_if_ome(tmp / "if.ome.tif", render, *scene.if_size, scene.mpp_if, CHANNELS, compression="zstd")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_writing_the_if_pyramid_uses_memory_independent_of_slide_size(tmp_path: Path) -> None:
    small = _peak_bytes_writing_if(tmp_path, 600, 600)
    large = _peak_bytes_writing_if(tmp_path, 2000, 1400)  # IF level 0 about 2,300 x 1,900 x 5 x 2 bytes
    assert large < 64e6, f"peak {large / 1e6:.1f} MB"  # a few one-tile bands of 5 channels
    assert large < 1.3 * small + 2e6, f"peak grew from {small / 1e6:.1f} MB to {large / 1e6:.1f} MB"
