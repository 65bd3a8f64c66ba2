"""Scoring the cell against ground truth: bins, purity, recovery, timing."""
