"""argparse value types (a bad number is a usage error with a reason, not a traceback), and `options`."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


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


def shade_range(text: str) -> tuple[float, float]:
    """``LO,HI``: the range of brightness a stain leaves the belt, such as ``0.25,0.6``, with 0 < LO <= HI <= 1."""
    try:
        lo, hi = (float(p) for p in text.split(","))
    except ValueError:
        lo = hi = -1.0
    if not 0 < lo <= hi <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not LO,HI with 0 < LO <= HI <= 1, e.g. 0.25,0.6")
    return lo, hi


def aspect_argument(text: str) -> float:
    """``--photo-aspect``: checked against the simulator's parameter spec, so both accept the same values."""
    from waste_sorting.data.photos import aspect_problem

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if (why := aspect_problem(value)) is not None:
        raise argparse.ArgumentTypeError(why)
    return value


def options(args: argparse.Namespace, cls: type[T], **extra: Any) -> T:
    """A library's options dataclass from the parsed command line (fields taken by name)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in vars(args).items() if k in names}, **extra)


def defaults_from(p: argparse.ArgumentParser, cls: type) -> None:
    """Take the options' defaults from the library's dataclass, where they are declared."""
    p.set_defaults(**{f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING})
