"""Masks and reductions, shared by every loss.

A loss computes one value per element (sigmoid family, regression) or per sample (softmax
family) and hands it here with a boolean tensor `include` that says which values count.
An element is left out when its target is negative (-1 for "not labelled", -100 for
PyTorch's ignore_index) or when the user's `mask` is False there.

What each reduction returns:

- "none": the per-element values, with 0 where an element is left out.
- "sum": the sum of the included values.
- "mean": that sum divided by the number of included values. Weights scale the values
  but do not change the divisor, as in `torch.nn.functional`; the exception is the class
  weight of softmax cross-entropy (`mean_weights`), where "mean" divides by the sum of
  the included samples' weights, as `F.cross_entropy` does.
- "sum_over_positives": that sum divided by the number of positive targets among the
  included elements (the sum of their target values, so soft targets count by their
  mass), at least 1. RetinaNet normalises its focal loss this way.

When nothing is included, "mean" and "sum_over_positives" divide 0 by 1: the loss is 0 and
its gradient is 0, never NaN.
"""

from __future__ import annotations

import torch

from . import _checks

SIGMOID_REDUCTIONS = ("none", "mean", "sum", "sum_over_positives")
SOFTMAX_REDUCTIONS = ("none", "mean", "sum")


def included(
    target: torch.Tensor, mask: torch.Tensor | None, shape: torch.Size
) -> torch.Tensor | None:
    """Which elements count: target not negative, and `mask` True where given.

    Returns None when every element counts, so that callers skip the masking work.
    A NaN target is not negative: it is included and its NaN reaches the loss.
    """
    known = None
    if target.is_floating_point() or target.dtype.is_signed:
        negative = target < 0
        if bool(negative.any()):
            known = ~negative
    if mask is not None:
        known = mask if known is None else known & mask
    if known is None:
        return None
    return known.expand(shape)


def zero_out(values: torch.Tensor, include: torch.Tensor | None) -> torch.Tensor:
    """Put 0 at the excluded places of `values` (a tensor of any dtype)."""
    if include is None:
        return values
    return torch.where(include, values, torch.zeros((), dtype=values.dtype, device=values.device))


def reduce(
    loss: torch.Tensor,
    include: torch.Tensor | None,
    reduction: str,
    *,
    positives: torch.Tensor | None = None,
    mean_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply `include` and `reduction` to per-element `loss` (see the module docstring).

    Args:
        loss: per-element (or per-sample) values, any shape.
        include: boolean of `loss`'s shape, True where a value counts; None means all.
        reduction: "none", "mean", "sum" or "sum_over_positives".
        positives: the target values of `loss`'s shape, needed for "sum_over_positives".
        mean_weights: per-value weights of `loss`'s shape; when given, "mean" divides by
            their sum over the included values instead of the count (the class-weighted
            mean of `F.cross_entropy`), and by 1 when that sum is 0.
    """
    loss = zero_out(loss, include)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    if reduction == "mean" and mean_weights is not None:
        count = zero_out(mean_weights.to(loss.dtype), include).sum()
        # Weights may sum to less than 1; only an empty (zero) sum is replaced by 1.
        return total / torch.where(count == 0, torch.ones_like(count), count)
    if reduction == "mean":
        count = loss.numel() if include is None else include.sum()
    elif reduction == "sum_over_positives":
        if positives is None:
            raise ValueError('`reduction="sum_over_positives"` needs the targets of the loss')
        count = zero_out(positives.to(loss.dtype), include).sum()
    else:
        _checks.reduction(reduction, SIGMOID_REDUCTIONS)
    # Dividing by at least 1 makes an all-excluded batch give 0 / 1 = 0 with zero gradient.
    count = torch.as_tensor(count, dtype=loss.dtype, device=loss.device)
    return total / count.clamp(min=1)
