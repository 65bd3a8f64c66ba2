"""argparse value types: a bad number on the command line is a usage error with a reason, not a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _number(kind: Callable[[str], float], test: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_float = _number(float, lambda v: v > 0, "a number > 0")
non_negative_float = _number(float, lambda v: v >= 0, "a number >= 0")
positive_int = _number(int, lambda v: v > 0, "an integer > 0")
non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")


def rgb_gains(text: str) -> tuple[float, float, float]:
    """``R,G,B`` gains such as ``1.2,1.0,0.75``, each in (0, 4]."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0 < v <= 4 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not three gains R,G,B in (0, 4], e.g. 1.2,1.0,0.75")
    return values  # type: ignore[return-value]
