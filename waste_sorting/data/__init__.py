"""Labelled image folders: discovery, the fixed train/holdout split, fingerprints."""
