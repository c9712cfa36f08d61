"""Regression losses: each is the negative log-likelihood of a distribution, up to constants.

| loss | assumes the target is drawn from | what the prediction is |
|---|---|---|
| mean_squared_error | a Gaussian of fixed variance | its mean |
| mean_absolute_error | a Laplace distribution of fixed scale | its median |
| mean_squared_log_error | a Gaussian on the log1p scale | its log1p-mean |
| poisson_nll_loss | a Poisson distribution | its log-rate (or rate) |

(Binary cross-entropy, in `losslab.sigmoid`, is the same construction for a Bernoulli.)

Masks and reductions are those of every losslab loss (`losslab._reduce`): "mean" divides
by the number of included elements. A negative target means "unknown, leave out" for
MSLE and Poisson, whose targets can only be >= 0. MAE and MSE targets may legitimately be
negative (a temperature, a return), so for them a negative target is an ordinary value
and only an explicit `mask` leaves elements out.
"""

from __future__ import annotations

import torch

from . import _checks, _reduce


def _prepare(input, target, *, weight, mask, reduction):
    """Check the common arguments; return (x, t, weight, mask) with x, t in compute dtype."""
    x = _checks.floating("input", input)
    t = _checks.tensor("target", target)
    _checks.same_shape("target", t, "input", x)
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"`target` must be a real (floating or integer) tensor, got {t.dtype}")
    _checks.reduction(reduction)
    w = _checks.optional_weight("weight", weight, "input", x)
    m = _checks.optional_mask(mask, "input", x)
    dtype = _checks.compute_dtype(x.dtype)
    return x.to(dtype), t.to(dtype), w, m


def _finish(loss, include, weight, reduction, out_dtype):
    """Apply the weight and the reduction; return in the input's dtype."""
    if weight is not None:
        loss = loss * weight.to(loss.dtype)
    return _reduce.reduce(loss, include, reduction).to(out_dtype)


def _mask_only(mask: torch.Tensor | None, shape: torch.Size) -> torch.Tensor | None:
    """Which elements count when targets may be negative: only the explicit mask decides."""
    return None if mask is None else mask.expand(shape)


def mean_absolute_error(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean absolute error (L1), the negative log-likelihood of a Laplace distribution.

    .. math:: \ell = |x - y| \cdot w

    A Laplace density :math:`\frac{1}{2b} e^{-|y - \mu| / b}` of fixed scale b has
    -log-likelihood :math:`|y - \mu| / b + \log 2b`, so minimising the MAE fits the
    median. Its gradient has size 1 wherever x != y (0 at x = y): large errors do not
    dominate, and small ones are not ignored.

    A negative target is an ordinary value here (targets such as temperatures can be
    negative), unlike in the classification losses: use `mask` to leave elements out.

    Args:
        input: predictions, any shape, floating.
        target: the input's shape, real (floating or integer).
        weight: per-element weight, broadcast to the input's shape.
        mask: boolean, broadcast to the input's shape; False leaves an element out.
        reduction: "none" | "mean" | "sum"; "mean" divides by the number of included
            elements.

    Returns:
        A scalar, or the input's shape for "none", in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([1.0, 2.0, 3.0])
        >>> y = torch.tensor([1.5, -2.0, 0.0])
        >>> losslab.mean_absolute_error(x, y)
        tensor(2.5000)
        >>> losslab.mean_absolute_error(x, y, mask=torch.tensor([True, False, True]))
        tensor(1.7500)
    """
    x, t, w, m = _prepare(input, target, weight=weight, mask=mask, reduction=reduction)
    loss = (x - t).abs()
    return _finish(loss, _mask_only(m, x.shape), w, reduction, input.dtype)


def mean_squared_error(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean squared error (L2), the negative log-likelihood of a Gaussian.

    .. math:: \ell = (x - y)^2 \cdot w

    A Gaussian of fixed variance :math:`\sigma^2` has -log-likelihood
    :math:`(y - \mu)^2 / 2\sigma^2 + \log \sigma\sqrt{2\pi}`, so minimising the MSE fits
    the mean. Its gradient 2(x - y) shrinks near the minimum and grows with the error, so
    outliers weigh heavily.

    A negative target is an ordinary value here (targets such as temperatures can be
    negative), unlike in the classification losses: use `mask` to leave elements out.

    Args:
        input: predictions, any shape, floating.
        target: the input's shape, real (floating or integer).
        weight: per-element weight, broadcast to the input's shape.
        mask: boolean, broadcast to the input's shape; False leaves an element out.
        reduction: "none" | "mean" | "sum"; "mean" divides by the number of included
            elements.

    Returns:
        A scalar, or the input's shape for "none", in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([1.0, 2.0, 3.0])
        >>> y = torch.tensor([1.5, -2.0, 0.0])
        >>> losslab.mean_squared_error(x, y)
        tensor(8.4167)
        >>> losslab.mean_squared_error(x, y, reduction="none")
        tensor([ 0.2500, 16.0000,  9.0000])
    """
    x, t, w, m = _prepare(input, target, weight=weight, mask=mask, reduction=reduction)
    loss = (x - t).square()
    return _finish(loss, _mask_only(m, x.shape), w, reduction, input.dtype)


def mean_squared_log_error(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean squared logarithmic error, a Gaussian on the log1p scale.

    .. math:: \ell = \bigl(\log(1 + x) - \log(1 + y)\bigr)^2 \cdot w

    The negative log-likelihood of log(1 + y) being Gaussian around log(1 + x) with a
    fixed variance: errors count relatively (predicting 110 for 100 costs about what 11
    for 10 does), which suits positive quantities spanning orders of magnitude. log1p
    keeps full precision for small values.

    Args:
        input: predictions >= 0, any shape, floating.
        target: the input's shape; values >= 0, or negative for "unknown, leave out".
        weight: per-element weight, broadcast to the input's shape.
        mask: boolean, broadcast to the input's shape; False leaves an element out.
        reduction: "none" | "mean" | "sum"; "mean" divides by the number of included
            elements.

    Returns:
        A scalar, or the input's shape for "none", in the input's dtype.

    Raises:
        ValueError: if `input` has a value below 0.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([110.0, 11.0, 5.0])
        >>> y = torch.tensor([100.0, 10.0, -1.0])    # the last target is unknown
        >>> losslab.mean_squared_log_error(x, y, reduction="none")
        tensor([0.0089, 0.0076, 0.0000])
    """
    x, t, w, m = _prepare(input, target, weight=weight, mask=mask, reduction=reduction)
    _checks.at_least("input", x, 0, "a prediction of a quantity >= 0")
    include = _reduce.included(t, m, x.shape)
    if include is not None:
        # An unknown target (-1, -100) would make log1p NaN or -inf; 0 stands in.
        t = torch.where(include, t, 0.0)

    loss = (torch.log1p(x) - torch.log1p(t)).square()
    return _finish(loss, include, w, reduction, input.dtype)


def poisson_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    from_log_rate: bool = True,
    full: bool = False,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Poisson negative log-likelihood of counts, from a log-rate (default) or a rate.

    .. math::
        \ell = \lambda - k \log \lambda \;[+ \log k!], \qquad
        \lambda = e^x \text{ (from a log-rate) or } x \text{ (from a rate)}

    The count k of events in a fixed window is Poisson with rate lambda:
    :math:`P(k) = \lambda^k e^{-\lambda} / k!`. From a log-rate x the loss is
    exp(x) - k x, exact for every finite x (the log is never taken). From a rate the log
    is taken without clamping: k = 0 at lambda = 0 costs 0 (0 log 0 = 0), k > 0 at
    lambda = 0 costs inf, the true value. torch's `poisson_nll_loss(log_input=False)`
    instead adds 1e-8 inside the log.

    Args:
        input: log-rates (any real) or, with `from_log_rate=False`, rates >= 0; floating.
        target: counts k >= 0 of the input's shape (non-integers allowed), or negative for
            "unknown, leave out".
        from_log_rate: whether `input` is log(lambda) (default) or lambda.
        full: add the constant log k! = lgamma(k + 1), so that exp(-loss) is the
            probability P(k). Default False, as in torch (which adds Stirling's
            approximation; this adds the exact value).
        weight: per-element weight, broadcast to the input's shape.
        mask: boolean, broadcast to the input's shape; False leaves an element out.
        reduction: "none" | "mean" | "sum"; "mean" divides by the number of included
            elements.

    Returns:
        A scalar, or the input's shape for "none", in the input's dtype.

    Example:
        >>> import math, torch, losslab
        >>> rate = torch.tensor([2.0, 2.0, 0.0], dtype=torch.float64)
        >>> k = torch.tensor([3.0, 0.0, 0.0], dtype=torch.float64)
        >>> losslab.poisson_nll_loss(rate, k, from_log_rate=False, full=True, reduction="none")
        tensor([1.7123, 2.0000, 0.0000], dtype=torch.float64)
        >>> loss = losslab.poisson_nll_loss(torch.tensor([math.log(2.0)]), torch.tensor([3.0]),
        ...                                 full=True)
        >>> round(math.exp(-loss.item()), 4)    # P(3 events at rate 2) = 8 e^-2 / 6
        0.1804
    """
    x, t, w, m = _prepare(input, target, weight=weight, mask=mask, reduction=reduction)
    _checks.boolean("from_log_rate", from_log_rate)
    _checks.boolean("full", full)
    if not from_log_rate:
        _checks.at_least("input", x, 0, "a rate, since from_log_rate=False")
    include = _reduce.included(t, m, x.shape)
    if include is not None:
        # Unknown targets get k = 0 and a harmless input, so nothing there is NaN or inf.
        t = torch.where(include, t, 0.0)
        x = torch.where(include, x, 0.0 if from_log_rate else 1.0)

    if from_log_rate:
        loss = torch.exp(x) - t * x
    else:
        # Where k = 0 the term k log(lambda) is 0 even at lambda = 0; taking the log of 1
        # there keeps both the value and its gradient (k / lambda = 0 / 0) from being NaN.
        safe_rate = torch.where(t == 0, 1.0, x)
        loss = x - t * torch.log(safe_rate)
    if full:
        loss = loss + torch.lgamma(t + 1)
    return _finish(loss, include, w, reduction, input.dtype)
