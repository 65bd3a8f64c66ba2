"""Teaching the cell a line's own waste: harvest crops from its bags, label, adapt, choose floors.

``adaptation.adapt`` needs PyTorch and is imported on its own; the rest runs without it.
"""

from waste_sorting.adaptation.harvest import HarvestedItem, harvest_bag, select, usefulness_order
from waste_sorting.adaptation.labelled import read_labelled, write_harvest
from waste_sorting.adaptation.thresholds import ScoreTable, choose_floors

__all__ = [
    "HarvestedItem",
    "ScoreTable",
    "choose_floors",
    "harvest_bag",
    "read_labelled",
    "select",
    "usefulness_order",
    "write_harvest",
]
