"""Scoring the cell: `evaluate` runs its stages over a bag in simulated time; scoring and the
accounting of every item are shared with `run`'s report."""

from waste_sorting.evaluation.accounting import ItemOutcome, account, tally
from waste_sorting.evaluation.offline import (
    BagLog,
    OfflineCell,
    build_cell,
    cell_truth,
    evaluate,
    read_bag,
    run_cell,
    sweep,
)
from waste_sorting.evaluation.scoring import ExecutedPulse, Score, TruthItem, score

__all__ = [
    "BagLog",
    "ExecutedPulse",
    "ItemOutcome",
    "OfflineCell",
    "Score",
    "TruthItem",
    "account",
    "build_cell",
    "cell_truth",
    "evaluate",
    "read_bag",
    "run_cell",
    "score",
    "sweep",
    "tally",
]
