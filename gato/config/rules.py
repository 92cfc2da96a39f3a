"""What a config key accepts: small predicates with their descriptions, for `defaults.Field`."""

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a config key accepts: a predicate on the value and its description."""

    accepts: Callable[[Any], bool]
    expected: str


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def integer(low: int | None = None, high: int | None = None) -> Rule:
    """An integer in [low, high] (either end open when None)."""
    if low is not None and high is not None:
        text = f"an integer in [{low}, {high}]"
    else:
        text = "an integer" if low is None else f"an integer >= {low}"
    return Rule(lambda v: _is_int(v) and (low is None or v >= low)
                and (high is None or v <= high), text)


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False) -> Rule:
    """A real number in [low, high] (ends open when asked)."""
    def ok(v: Any) -> bool:
        if not _is_number(v):
            return False
        above = low is None or (v > low if open_low else v >= low)
        below = high is None or (v < high if open_high else v <= high)
        return above and below

    if low is not None and high is not None:
        text = f"a number in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    elif low is not None:
        text = f"a number {'>' if open_low else '>='} {low}"
    else:
        text = "a number"
    return Rule(ok, text)


def optional(rule: Rule) -> Rule:
    return Rule(lambda v: v is None or rule.accepts(v), f"None or {rule.expected}")


def choice(*options: str) -> Rule:
    return Rule(lambda v: v in options, f"one of {', '.join(map(repr, options))}")


def names_among(*options: str) -> Rule:
    """A comma-separated list of some of `options` (at least one)."""
    def ok(v: Any) -> bool:
        names = [n.strip() for n in v.split(",") if n.strip()] if isinstance(v, str) else []
        return bool(names) and set(names) <= set(options)

    return Rule(ok, f"comma-separated names among {', '.join(map(repr, options))}")


def numbers_list(low: float = 0.0, *, integers: bool = False) -> Rule:
    """A comma-separated list of numbers >= low (integers when asked), at least one."""
    def ok(v: Any) -> bool:
        try:
            items = [float(x) for x in v.split(",") if x.strip()] if isinstance(v, str) else []
        except ValueError:
            return False
        whole = all(x.is_integer() for x in items) if integers else True
        return bool(items) and whole and min(items) >= low

    kind = "integers" if integers else "numbers"
    return Rule(ok, f"comma-separated {kind} >= {low:g}, e.g. '1,5,10'")


BOOL = Rule(lambda v: isinstance(v, bool), "True or False")
TEXT = Rule(lambda v: isinstance(v, str), "a string")
NAME = Rule(lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")
OPTIONAL_TEXT = Rule(lambda v: v is None or isinstance(v, str), "a string or None")
KEYS = Rule(lambda v: isinstance(v, Sequence) and not isinstance(v, str)
            and all(isinstance(k, str) for k in v), "a list of names")
PAIRS = Rule(lambda v: isinstance(v, Sequence) and not isinstance(v, str)
             and all(isinstance(p, Sequence) and len(p) == 2 for p in v),
             "a list of (name, value) pairs")
MAPPING = Rule(lambda v: isinstance(v, Mapping), "a mapping")
WEIGHTS = Rule(lambda v: isinstance(v, Mapping) and all(_is_number(w) and w >= 0
                                                         for w in v.values()),
               "a mapping of names to weights >= 0")
FRACTION = number(0.0, 1.0)
POSITIVE = integer(1)
COUNT = integer(0)


def of_type(value: Any) -> Rule:
    """The rule a default's own type implies (int, float, bool, str, sequence, mapping)."""
    if isinstance(value, bool):
        return BOOL
    if _is_int(value):
        return integer()
    if _is_number(value):
        return number()
    if isinstance(value, str):
        return TEXT
    if isinstance(value, Mapping):
        return MAPPING
    if isinstance(value, Sequence):
        return Rule(lambda v: isinstance(v, Sequence) and not isinstance(v, str), "a list")
    raise TypeError(f"no rule for a default of type {type(value).__name__}: give one")
