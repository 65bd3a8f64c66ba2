"""The simulated belt: items cut out of labelled photos, moving at a speed profile, with ground truth."""

from waste_sorting.simulation.belt import SUBSETS, BeltSimulator, SimConfig
from waste_sorting.simulation.speed import SpeedProfile

__all__ = ["BeltSimulator", "SUBSETS", "SimConfig", "SpeedProfile"]
