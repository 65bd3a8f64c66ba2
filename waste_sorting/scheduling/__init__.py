"""Ejection planning: which ejector, which valves, when and for how long."""
