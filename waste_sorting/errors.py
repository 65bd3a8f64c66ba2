"""The project's exception types: what a user did wrong or what failed, in one line each.

The command line prints ``waste-sorting COMMAND: error: MESSAGE`` for any of
these (no traceback) and exits 2 for :class:`UsageError`, 1 for the rest.
"""

from __future__ import annotations


class WasteSortingError(Exception):
    """Base of every error the project raises on purpose; its text is for the user."""


class UsageError(WasteSortingError):
    """An argument or option that cannot work (exit status 2)."""


class ModelError(WasteSortingError):
    """A model file that is missing, not ONNX, or does not match its sidecar."""


class ParamsError(WasteSortingError):
    """A parameters file or value that is refused: unknown name, wrong type, out of range."""


class BagError(WasteSortingError):
    """A bag that cannot be read, or lacks what the command needs."""


class DataError(WasteSortingError):
    """An image folder that is empty or holds classes the model does not know."""
