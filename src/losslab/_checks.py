"""Argument validation, in one voice.

Every public function checks its arguments here, so that every error names the argument,
says what was expected and what came: "`target` must have the shape of `input` (8, 80),
got (8, 81)". Checks raise `TypeError` for a wrong kind of object and `ValueError` for a
wrong value. None of them hides a NaN: a comparison with NaN is false, so NaN passes the
range checks and propagates into the loss, where the user sees it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

REDUCTIONS = ("none", "mean", "sum")


def shape_str(shape: Iterable[int]) -> str:
    """Format a shape as `(8, 80)`; a 0-d shape reads `()`."""
    dims = tuple(int(d) for d in shape)
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def tensor(name: str, value: object) -> torch.Tensor:
    """Return `value` if it is a tensor, else raise a `TypeError` naming `name`."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(value).__name__}")
    return value


def floating(name: str, value: object) -> torch.Tensor:
    """Return `value` if it is a floating-point tensor (float16 to float64)."""
    t = tensor(name, value)
    if not t.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got {t.dtype}")
    return t


def same_shape(name: str, value: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """Raise unless `value` has exactly the shape of `ref`."""
    if value.shape != ref.shape:
        raise ValueError(
            f"`{name}` must have the shape of `{ref_name}` {shape_str(ref.shape)}, "
            f"got {shape_str(value.shape)}"
        )


def broadcastable(name: str, value: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """Raise unless `value` broadcasts to the shape of `ref` without changing it."""
    try:
        shape = torch.broadcast_shapes(value.shape, ref.shape)
    except RuntimeError:
        shape = None
    if shape != ref.shape:
        raise ValueError(
            f"`{name}` must broadcast to the shape of `{ref_name}` {shape_str(ref.shape)}, "
            f"got {shape_str(value.shape)}"
        )


def optional_weight(
    name: str, value: object, ref_name: str, ref: torch.Tensor
) -> torch.Tensor | None:
    """Check an optional weight tensor: floating, broadcastable to `ref`, on its device."""
    if value is None:
        return None
    w = floating(name, value)
    broadcastable(name, w, ref_name, ref)
    if w.device != ref.device:
        raise ValueError(
            f"`{name}` must be on the device of `{ref_name}` ({ref.device}), got {w.device}"
        )
    return w


def optional_mask(value: object, ref_name: str, ref: torch.Tensor) -> torch.Tensor | None:
    """Check an optional boolean `mask` (True = counts) that broadcasts to `ref`."""
    if value is None:
        return None
    m = tensor("mask", value)
    if m.dtype != torch.bool:
        raise TypeError(f"`mask` must be a boolean tensor (True = counts), got {m.dtype}")
    broadcastable("mask", m, ref_name, ref)
    return m


def reduction(value: object, allowed: tuple[str, ...] = REDUCTIONS) -> str:
    """Return `value` if it is one of `allowed`."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(f'"{a}"' for a in allowed)
        raise ValueError(f"`reduction` must be one of {options}, got {value!r}")
    return value


def choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return `value` if it is one of the strings in `allowed`."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(f'"{a}"' for a in allowed)
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}")
    return value


def number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return `value` as a float if it is a real number inside the given interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}")
    v = float(value)
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and (v >= high if high_open else v > high)
    if math.isnan(v) or too_low or too_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}"
        interval += ")" if high_open or high is None else "]"
        raise ValueError(f"`{name}` must be in {interval}, got {value!r}")
    return v


def boolean(name: str, value: object) -> bool:
    """Return `value` if it is a bool (flags must not be truthy strings or tensors)."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__}")
    return value


def at_most(name: str, value: torch.Tensor, high: float, meaning: str) -> None:
    """Raise if any element of `value` exceeds `high`; NaN passes (it propagates)."""
    if value.numel() and bool((value > high).any()):
        worst = value[value > high].max().item()
        raise ValueError(f"`{name}` must be at most {high:g} ({meaning}), got a value of {worst:g}")


def at_least(name: str, value: torch.Tensor, low: float, meaning: str) -> None:
    """Raise if any element of `value` is below `low`; NaN passes (it propagates)."""
    if value.numel() and bool((value < low).any()):
        worst = value[value < low].min().item()
        raise ValueError(f"`{name}` must be at least {low:g} ({meaning}), got a value of {worst:g}")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the math runs in: float16 and bfloat16 are computed in float32."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
