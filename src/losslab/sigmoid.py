"""The sigmoid family: one independent sigmoid per output unit.

Binary classification, multi-label classification and partially labelled multi-label data
all put a sigmoid on every output and score each unit on its own. Every loss here is a
weighted sum of two log-probabilities,

    loss = -( w+ * t * log p  +  w- * (1 - t) * log(1 - p) ),    p = sigmoid(x),

where t in [0, 1] is the target and the weights w+ and w- carry the class balance (alpha,
pos_weight) and the focusing factors ((1 - p)^gamma for focal loss, and so on).

How the logarithms stay exact:

- From logits, log p = logsigmoid(x) and log(1 - p) = logsigmoid(-x). Neither ever
  rounds to log 0: logsigmoid(-1e4) is -1e4, not -inf, and logsigmoid(30) is -9.4e-14,
  not 0. Focusing factors are taken in log space too, (1 - p)^gamma = exp(gamma *
  logsigmoid(-x)), so their gradient is finite for every gamma >= 0, also below 1.
- From probabilities, log p = log(p) and log(1 - p) = log1p(-p), with no clamping: a
  probability of 1e-300 for a positive costs 690.7755 nats, and a probability of exactly
  0 or 1 against its label costs inf, the true value.

Elements with a negative target (-1: "not labelled") or with False in `mask` are left out
of the loss and its gradient; see `losslab._reduce` for what each reduction divides by.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _checks, _reduce, fused

_TARGET_MEANING = "a probability of the positive class, or a negative value for unknown"


class _Prepared:
    """Validated inputs in the compute dtype, with excluded elements made harmless."""

    __slots__ = ("x", "t", "include", "out_dtype")

    def __init__(self, x, t, include, out_dtype):
        self.x, self.t, self.include = x, t, include
        self.out_dtype = out_dtype


def _validate(input, target, *, from_logits, mask, reduction):
    """Check the common arguments; return (input, target, mask)."""
    x = _checks.floating("input", input)
    t = _checks.tensor("target", target)
    _checks.same_shape("target", t, "input", x)
    _checks.reduction(reduction, _reduce.SIGMOID_REDUCTIONS)
    _checks.boolean("from_logits", from_logits)
    m = _checks.optional_mask(mask, "input", x)
    if t.dtype != torch.bool:  # a bool target is at most 1 by its type
        _checks.at_most("target", t, 1, _TARGET_MEANING)
    if not from_logits:
        _checks.at_least("input", x, 0, "a probability, since from_logits=False")
        _checks.at_most("input", x, 1, "a probability, since from_logits=False")
    return x, t, m


def _fused(from_logits, x, t, *others) -> bool:
    """Whether to run the fused kernel (see `losslab.fused` for when it is used)."""
    return from_logits and fused.wanted(x, t, *others)


def _prepare(x, t, m, *, from_logits) -> _Prepared:
    """Bring validated input and target into the compute dtype, excluded places harmless."""
    if t.dtype == torch.bool:
        t = t.to(x.dtype)
    include = _reduce.included(t, m, x.shape)
    dtype = _checks.compute_dtype(x.dtype)
    xc, tc = x.to(dtype), t.to(dtype)
    if include is not None:
        # Excluded places get a harmless input and target (0.5 or logit 0, target 0), so
        # that neither their value nor their gradient can be NaN or inf.
        xc = torch.where(include, xc, 0.0 if from_logits else 0.5)
        tc = torch.where(include, tc, 0.0)
    return _Prepared(xc, tc, include, x.dtype)


def _log_probs(x: torch.Tensor, from_logits: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (log p, log(1 - p)), computed without clamping."""
    if from_logits:
        # logsigmoid(-x) = log(1 - sigmoid(x)) without forming 1 - sigmoid(x), which
        # rounds to 0 for x > 37 in float64 and would make the log -inf.
        return F.logsigmoid(x), F.logsigmoid(-x)
    # log1p(-p) is exact for small p, where log(1 - p) would lose every digit.
    # At p = 0 (or 1) the log is -inf, a constant there: the log is taken of a stand-in
    # 0.5, so that its derivative, multiplied by the 0 that the loss puts on that side,
    # cannot become 0 * inf = NaN. A sigmoid output of exactly 1.0 (x > 17 in float32)
    # against a positive label then gets the true gradient -1 rather than NaN.
    zero, one = x == 0, x == 1
    log_p = torch.where(zero, -math.inf, torch.log(torch.where(zero, 0.5, x)))
    log_q = torch.where(one, -math.inf, torch.log1p(-torch.where(one, 0.5, x)))
    return log_p, log_q


def _times(coef: torch.Tensor, log: torch.Tensor, from_logits: bool) -> torch.Tensor:
    """coef * log, with 0 * log 0 = 0 (a probability of 0 or 1 on the side that has no mass)."""
    if from_logits:
        return coef * log  # log-probabilities from logits are finite for finite logits
    # Zero the log where its coefficient is 0 before multiplying: the product's value and
    # its gradient in `coef` (which is `log`) are then 0 rather than 0 * inf = NaN.
    return coef * torch.where(coef == 0, torch.zeros((), dtype=log.dtype), log)


def _focus(log_other: torch.Tensor, gamma: float) -> torch.Tensor | None:
    """The focusing factor q^gamma = exp(gamma * log q); None when gamma is 0."""
    if gamma == 0:
        return None
    # exp(gamma * log q) instead of q ** gamma: the derivative of q ** gamma is infinite at
    # q = 0 for gamma < 1, while this one is finite everywhere (it only underflows to 0).
    return torch.exp(gamma * log_other)


def _finish(loss: torch.Tensor, prep: _Prepared, weight, reduction: str) -> torch.Tensor:
    """Apply the element weight and the reduction, and return in the input's dtype."""
    if weight is not None:
        loss = loss * weight.to(loss.dtype)
    out = _reduce.reduce(loss, prep.include, reduction, positives=prep.t)
    return out.to(prep.out_dtype)


def binary_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    from_logits: bool = True,
    weight: torch.Tensor | None = None,
    pos_weight: torch.Tensor | None = None,
    alpha: float | None = None,
    label_smoothing: float = 0.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary cross-entropy, one sigmoid per element, exact at every logit.

    .. math::
        \ell = -\bigl(a_+ \, t \log p + a_- (1 - t) \log(1 - p)\bigr) \cdot w,
        \qquad p = \sigma(x),

    with :math:`a_+ = \alpha \cdot \text{pos\_weight}` and :math:`a_- = 1 - \alpha` (both
    without alpha when `alpha` is None). Label smoothing replaces t by
    :math:`t(1 - \varepsilon) + \varepsilon / 2`, as Keras does.

    Args:
        input: logits (or probabilities when `from_logits=False`), any shape, floating.
        target: the input's shape; values in [0, 1] (soft targets allowed) or negative for
            "unknown, leave out". Floating, integer or bool.
        from_logits: whether `input` holds logits (default) or probabilities in [0, 1].
        weight: per-element weight, broadcast to the input's shape.
        pos_weight: weight of the positive term, broadcast to the input's shape, as in
            `torch.nn.BCEWithLogitsLoss` (a per-class tensor of shape (C,) for (N, C)).
        alpha: weight of positives in [0, 1], negatives get 1 - alpha; None: no balancing.
        label_smoothing: epsilon in [0, 1).
        mask: boolean, broadcast to the input's shape; False leaves an element out.
        reduction: "none" | "mean" | "sum" | "sum_over_positives" (see `losslab._reduce`).
            "mean" divides by the number of included elements.

    Returns:
        A scalar, or the input's shape for "none", in the input's dtype (float16 and
        bfloat16 are computed in float32).

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([3.0, -1.0, 30.0, 2.0])
        >>> t = torch.tensor([1.0, 0.0, 1.0, -1.0])   # the last label is unknown
        >>> losslab.binary_cross_entropy(x, t, reduction="none")
        tensor([4.8587e-02, 3.1326e-01, 9.3576e-14, 0.0000e+00])
        >>> losslab.binary_cross_entropy(torch.tensor([1e-300], dtype=torch.float64),
        ...                              torch.tensor([1.0], dtype=torch.float64),
        ...                              from_logits=False)
        tensor(690.7755, dtype=torch.float64)
    """
    x, t, m = _validate(input, target, from_logits=from_logits, mask=mask, reduction=reduction)
    weight = _checks.optional_weight("weight", weight, "input", input)
    pos_weight = _checks.optional_weight("pos_weight", pos_weight, "input", input)
    if alpha is not None:
        alpha = _checks.number("alpha", alpha, low=0, high=1)
    eps = _checks.number("label_smoothing", label_smoothing, low=0, high=1, high_open=True)
    if _fused(from_logits, x, t, weight, pos_weight):
        out = fused.sigmoid_loss(
            x, t, m, weight, pos_weight, alpha=alpha, smoothing=eps, reduction=reduction
        )
        if out is not None:
            return out

    prep = _prepare(x, t, m, from_logits=from_logits)
    t = prep.t
    if eps:
        t = t * (1 - eps) + eps / 2
    pos, neg = t, 1 - t
    if alpha is not None:
        pos, neg = alpha * pos, (1 - alpha) * neg
    if pos_weight is not None:
        pos = pos * pos_weight.to(pos.dtype)

    log_p, log_q = _log_probs(prep.x, from_logits)
    loss = _times(pos, -log_p, from_logits) + _times(neg, -log_q, from_logits)
    return _finish(loss, prep, weight, reduction)


def focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    from_logits: bool = True,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Sigmoid focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection").

    .. math::
        \ell = -\alpha \, t \, (1 - p)^\gamma \log p
               - (1 - \alpha)(1 - t) \, p^\gamma \log(1 - p),

    RetinaNet's loss for hard targets; for a soft target it mixes the two terms. With
    `alpha=None` both terms have weight 1, and with `gamma=0, alpha=None` the loss is
    binary cross-entropy exactly. The factors are computed as exp(gamma * log q), so the
    gradient is finite for every finite logit and every gamma >= 0, where
    `torchvision.ops.sigmoid_focal_loss` returns NaN for gamma < 1 at saturated logits.

    Args:
        input: logits (or probabilities when `from_logits=False`), any shape, floating.
        target: the input's shape, values in [0, 1] or negative for unknown.
        alpha: weight of positives in [0, 1] (default 0.25, RetinaNet's); None: none.
        gamma: focusing parameter >= 0 (default 2).
        from_logits: whether `input` holds logits (default) or probabilities.
        weight: per-element weight, broadcast to the input's shape.
        mask: boolean, broadcast to the input's shape; False leaves an element out.
        reduction: "none" | "mean" | "sum" | "sum_over_positives"; RetinaNet uses
            "sum_over_positives" (the sum divided by the number of positive anchors).

    Returns:
        A scalar, or the input's shape for "none", in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([3.0, -1.0, 30.0])
        >>> t = torch.tensor([1.0, 0.0, 1.0])
        >>> losslab.focal_loss(x, t, reduction="none")
        tensor([2.7321e-05, 1.6994e-02, 2.0485e-40])
        >>> losslab.focal_loss(x, t, gamma=0.5, alpha=None, reduction="sum")
        tensor(0.1730)
    """
    x, t, m = _validate(input, target, from_logits=from_logits, mask=mask, reduction=reduction)
    weight = _checks.optional_weight("weight", weight, "input", input)
    if alpha is not None:
        alpha = _checks.number("alpha", alpha, low=0, high=1)
    gamma = _checks.number("gamma", gamma, low=0)
    if _fused(from_logits, x, t, weight):
        out = fused.sigmoid_loss(
            x, t, m, weight, None, alpha=alpha, gamma_pos=gamma, gamma_neg=gamma,
            reduction=reduction,
        )  # fmt: skip
        if out is not None:
            return out

    prep = _prepare(x, t, m, from_logits=from_logits)
    pos, neg = prep.t, 1 - prep.t
    if alpha is not None:
        pos, neg = alpha * pos, (1 - alpha) * neg

    log_p, log_q = _log_probs(prep.x, from_logits)
    focus_pos, focus_neg = _focus(log_q, gamma), _focus(log_p, gamma)
    if focus_pos is not None:
        pos, neg = pos * focus_pos, neg * focus_neg
    loss = _times(pos, -log_p, from_logits) + _times(neg, -log_q, from_logits)
    return _finish(loss, prep, weight, reduction)


def asymmetric_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    margin: float = 0.05,
    from_logits: bool = True,
    weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Asymmetric loss (Ridnik et al. 2021, "Asymmetric Loss For Multi-Label Classification").

    .. math::
        \ell = -t \, (1 - p)^{\gamma_+} \log p
               - (1 - t) \, p_m^{\gamma_-} \log(1 - p_m),
        \qquad p_m = \max(p - m, 0).

    Negatives are focused harder than positives (gamma_neg > gamma_pos), and the margin m
    shifts their probability down, so that easy negatives (p < m) cost nothing at all and
    very likely mislabelled negatives cost at most -log m. With margin=0 and
    gamma_pos = gamma_neg it is focal loss without alpha.

    Args:
        input: logits (or probabilities when `from_logits=False`), any shape, floating.
        target: the input's shape, values in [0, 1] or negative for unknown.
        gamma_pos: focusing of positives, >= 0 (default 0).
        gamma_neg: focusing of negatives, >= 0 (default 4).
        margin: probability shift m in [0, 1) for negatives (default 0.05).
        from_logits: whether `input` holds logits (default) or probabilities.
        weight: per-element weight, broadcast to the input's shape.
        mask: boolean, broadcast to the input's shape; False leaves an element out.
        reduction: "none" | "mean" | "sum" | "sum_over_positives". The paper's code sums.

    Returns:
        A scalar, or the input's shape for "none", in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([3.0, -1.0, -4.0, 2.0])
        >>> t = torch.tensor([1.0, 0.0, 0.0, 0.0])
        >>> losslab.asymmetric_loss(x, t, reduction="none")
        tensor([4.8587e-02, 5.6780e-04, 0.0000e+00, 8.4641e-01])
    """
    x, t, m = _validate(input, target, from_logits=from_logits, mask=mask, reduction=reduction)
    weight = _checks.optional_weight("weight", weight, "input", input)
    gamma_pos = _checks.number("gamma_pos", gamma_pos, low=0)
    gamma_neg = _checks.number("gamma_neg", gamma_neg, low=0)
    margin = _checks.number("margin", margin, low=0, high=1, high_open=True)
    if _fused(from_logits, x, t, weight):
        out = fused.sigmoid_loss(
            x, t, m, weight, None, alpha=None, gamma_pos=gamma_pos, gamma_neg=gamma_neg,
            margin=margin, reduction=reduction,
        )  # fmt: skip
        if out is not None:
            return out

    prep = _prepare(x, t, m, from_logits=from_logits)

    log_p, log_q = _log_probs(prep.x, from_logits)
    pos = prep.t
    focus_pos = _focus(log_q, gamma_pos)
    if focus_pos is not None:
        pos = pos * focus_pos
    loss_pos = _times(pos, -log_p, from_logits)

    if margin == 0:
        neg = 1 - prep.t
        focus_neg = _focus(log_p, gamma_neg)
        if focus_neg is not None:
            neg = neg * focus_neg
        loss_neg = _times(neg, -log_q, from_logits)
    else:
        # p = exp(log p) rather than sigmoid(x): autograd then differentiates through
        # logsigmoid, whose derivative sigmoid(-x) keeps its digits where 1 - p would not.
        p = torch.exp(log_p) if from_logits else prep.x
        shifted = p - margin
        active = shifted > 0
        # Where p <= m the term is exactly 0; a stand-in of 0.5 there keeps log and pow
        # finite, so that the zero gradient of the unused branch cannot turn into NaN.
        p_m = torch.where(active, shifted, 0.5)
        term = -torch.log1p(-p_m)
        if gamma_neg != 0:
            term = term * p_m.pow(gamma_neg)
        loss_neg = (1 - prep.t) * torch.where(active, term, 0.0)
    return _finish(loss_pos + loss_neg, prep, weight, reduction)


def prior_bias(prior: float | torch.Tensor) -> float | torch.Tensor:
    r"""The final-layer bias that makes a sigmoid output start at `prior`.

    .. math:: b = \log \frac{\pi}{1 - \pi}

    RetinaNet initialises its classifier bias with pi = 0.01 so that the many background
    anchors do not swamp the first updates (Lin et al. 2017, section 3.3).

    Args:
        prior: a probability in (0, 1), a float or a floating tensor of per-class priors.

    Returns:
        A float for a float, a tensor of the same shape and dtype for a tensor.

    Example:
        >>> import losslab
        >>> round(losslab.prior_bias(0.01), 5)
        -4.59512
    """
    if isinstance(prior, torch.Tensor):
        p = _checks.floating("prior", prior)
        bad = ~((p > 0) & (p < 1))
        if bool(bad.any()):
            raise ValueError(f"`prior` must hold probabilities in (0, 1), got {p[bad][0].item():g}")
        # log(p) - log1p(-p) keeps full precision for priors near 0 and near 1.
        return torch.log(p) - torch.log1p(-p)
    p = _checks.number("prior", prior, low=0, high=1, low_open=True, high_open=True)
    return math.log(p) - math.log1p(-p)


def label_priors(
    target: torch.Tensor,
    *,
    dim: int = -1,
    mask: torch.Tensor | None = None,
    pseudocount: float = 0.5,
) -> torch.Tensor:
    r"""Per-class frequency of positives among the known labels, ready for `prior_bias`.

    .. math:: \pi_c = \frac{\text{positives}_c + a}{\text{known}_c + 2a}

    Unknown labels (negative targets, or False in `mask`) are skipped. The pseudocount a
    (default 0.5, Jeffreys' prior) keeps every prior inside (0, 1), so that a class with
    no positive, or no known label, still gets a finite bias.

    Args:
        target: multi-hot targets, classes along `dim`; values in [0, 1] or negative.
        dim: the class dimension (default -1, the last); every other dimension is counted.
        mask: boolean, broadcast to the target's shape; False leaves a label out.
        pseudocount: a > 0.

    Returns:
        A float tensor of shape (C,), float32 unless `target` is float64.

    Example:
        >>> import torch, losslab
        >>> y = torch.tensor([[1, 0, -1], [0, 0, 1], [1, 0, -1], [0, 0, 1]])
        >>> losslab.label_priors(y)
        tensor([0.5000, 0.1000, 0.8333])
        >>> losslab.prior_bias(losslab.label_priors(y))
        tensor([ 0.0000, -2.1972,  1.6094])
    """
    t = _checks.tensor("target", target)
    if t.dim() == 0:
        raise ValueError("`target` must have a class dimension, got a 0-d tensor")
    if not -t.dim() <= dim < t.dim():
        raise ValueError(
            f"`dim` must be in [{-t.dim()}, {t.dim() - 1}] for a {t.dim()}-d `target`, got {dim}"
        )
    a = _checks.number("pseudocount", pseudocount, low=0, low_open=True)
    m = _checks.optional_mask(mask, "target", t)
    _checks.at_most("target", t, 1, _TARGET_MEANING)

    dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
    t = t.to(dtype)
    known = ~(t < 0)
    if m is not None:
        known = known & m
    t = torch.where(known, t, 0.0)
    # Sum over every dimension except the class dimension.
    others = [d for d in range(t.dim()) if d != dim % t.dim()]
    positives = t.sum(dim=others)
    counts = known.to(dtype).sum(dim=others)
    return (positives + a) / (counts + 2 * a)
