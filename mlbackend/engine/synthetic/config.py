"""Names, per-class appearance and the frozen scene configuration of the synthetic slide pair."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES: tuple[str, ...] = ("podocyte", "endothelial", "mesangial")
CHANNELS: tuple[str, ...] = ("DAPI", "WT1", "CD31", "PDGFRB", "AF")
MARKER_OF: dict[str, str] = {"podocyte": "WT1", "endothelial": "CD31", "mesangial": "PDGFRB"}
# display colours a viewer may use (RGB 0-255), one per channel
CHANNEL_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 255),
    (0, 255, 0),
    (255, 0, 0),
    (255, 0, 255),
    (128, 128, 128),
)


@dataclass(frozen=True)
class ClassStyle:
    """H&E appearance offsets of one class from the shared mean (scaled by ``he_separation``)."""

    radius_um: float  # equivalent-circle radius offset
    log_aspect: float  # log(major/minor) offset
    stain: float  # haematoxylin optical density offset
    texture: float  # chromatin texture amplitude offset
    irregularity: float  # outline harmonic amplitude offset


# Shared means and within-class spreads; the class offsets below are deliberately small compared with
# the spreads, so the H&E-visible features overlap and an expert confuses the classes at a realistic rate.
MEAN_RADIUS_UM, SD_RADIUS_UM = 3.3, 0.55
MEAN_LOG_ASPECT, SD_LOG_ASPECT = float(np.log(1.35)), 0.17
MEAN_STAIN, SD_STAIN = 0.95, 0.14
MEAN_TEXTURE, SD_TEXTURE = 0.22, 0.06
MEAN_IRREGULARITY, SD_IRREGULARITY = 0.06, 0.025

CLASS_STYLES: tuple[ClassStyle, ...] = (
    ClassStyle(radius_um=0.40, log_aspect=-0.10, stain=-0.09, texture=-0.03, irregularity=-0.010),  # podocyte
    ClassStyle(radius_um=-0.10, log_aspect=0.17, stain=0.01, texture=-0.02, irregularity=-0.010),  # endothelial
    ClassStyle(radius_um=-0.30, log_aspect=-0.07, stain=0.08, texture=0.05, irregularity=0.020),  # mesangial
)


@dataclass(frozen=True)
class FineCue:
    """Mean strength of the fine nuclear details of one class (scaled by ``he_fine_cues``).

    These are the "subtle" H&E cues a CNN can learn but the simulated experts do not judge by: a central
    nucleolus (podocyte), coarse clumped chromatin (mesangial), and chromatin condensed at the nuclear rim
    with a paler centre (endothelial). Every cell draws each strength from N(mean, CUE_SD), so the cues
    overlap between classes like real ones do.
    """

    nucleolus: float
    granularity: float
    margination: float


CUE_SD = 0.22
FINE_CUES: tuple[FineCue, ...] = (
    FineCue(nucleolus=0.75, granularity=0.10, margination=0.10),  # podocyte
    FineCue(nucleolus=0.10, granularity=0.10, margination=0.75),  # endothelial
    FineCue(nucleolus=0.10, granularity=0.75, margination=0.10),  # mesangial
)

N_VERTICES = 20


@dataclass(frozen=True)
class SceneConfig:
    """Everything that defines a synthetic slide pair; the same config always gives the same pixels."""

    width: int
    height: int
    seed: int = 0
    mpp_he: float = 0.25
    mpp_if: float = 0.325
    cell_spacing_um: float = 11.0  # jittered-grid slot size; about one nucleus per slot in dense tissue
    partner_fraction: float = 0.08  # fraction of nuclei with a touching/overlapping neighbour
    class_weights: tuple[float, float, float] = (0.35, 0.35, 0.30)
    he_separation: float = 0.9  # scales coarse class offsets in H&E (0 = none; 0.9 ~ 27% ideal error on coarse cues alone)
    he_fine_cues: float = 1.0  # scales the fine per-class nuclear cues (FINE_CUES; 0 = none)
    rotation_deg: float = 17.0
    mirror: bool = False
    extra_scale: float = 1.02  # on top of mpp_he / mpp_if
    shift_um: tuple[float, float] = (30.0, -20.0)
    warp_um: float = 3.0  # peak non-rigid displacement
    warp_scale_um: float = 400.0  # spatial scale of the non-rigid displacement
    if_overlap: float = 1.0  # fraction of the IF canvas width kept (< 1: IF covers only part of the tissue)
    marker_dim_fraction: float = 0.12  # positives with a dim marker
    marker_crosstalk_fraction: float = 0.08  # cells with faint non-specific signal in another marker
    if_noise_sd: float = 0.008  # IF camera noise (intensity units; 1.0 = a bright positive, 10000 in uint16)
    glomerulus_spacing_um: float = 380.0  # coarse grid of glomeruli (0 fraction: none)
    glomerulus_fraction: float = 0.55  # share of coarse grid slots holding a glomerulus

    @property
    def objective_power(self) -> float:
        """Nominal objective magnification for the H&E pixel size (10 um/px / mpp, e.g. 0.25 -> 40)."""
        return round(10.0 / self.mpp_he, 2)
