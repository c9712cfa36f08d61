r"""The softmax family: one softmax over the classes of each sample.

Multiclass classification (one true class per sample), soft targets (label smoothing,
mixup, distillation) and multi-label data trained with a softmax all score a sample by
the log-probabilities :math:`\log p_c = x_c - \log \sum_k e^{x_k}` of its classes.

How the logarithms stay exact:

- For a class index y the loss is a binary problem in disguise. With S the sum of
  :math:`e^{x_c}` over the *other* classes,

      p_y = e^{x_y} / (e^{x_y} + S),   u = x_y - log S   (the log-odds of the true class),
      log p_y = logsigmoid(u),          log(1 - p_y) = logsigmoid(-u).

  `log_softmax` instead computes log(sum e^{x - max}) - (x_y - max); when the true class
  dominates, that sum is 1 + tiny and the log drops the tiny part: at x = [30, 0] it is
  off by 1e-3 relative in float64, and float32 returns exactly 0 once the gap passes 17.
  Summing the other classes on their own keeps every digit of the loss, of its gradient
  p - onehot(y) (the true class gets -(1 - p_y) = -sigmoid(-u), never 1 - 1 + tiny) and
  of the focal factor (1 - p_y)^gamma = exp(gamma * logsigmoid(-u)).
- Every exponential is shifted by the row's maximum, so no term exceeds 1 and nothing
  overflows; S underflows to 0 only where the loss itself is below the smallest normal.
- For soft targets, log sum e^{x - max} is computed as log1p(sum over all classes but
  the argmax), for the same reason, and the argmax's gradient from the other classes.

Samples whose target is negative (an index of -1 or PyTorch's -100, a soft-target row of
negative values) or whose `mask` is False are left out of the loss; see
`losslab._reduce` for what each reduction divides by. An index target costs one
exponential and two reductions over the classes, and no (N, C) one-hot tensor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _checks, _reduce, fused

_NEG_INF = float("-inf")
_LOG_HALF = -math.log(2.0)

# ---------------------------------------------------------------- checks


def _class_dim(x: torch.Tensor, dim: object) -> int:
    """Return `dim` as a non-negative index into `x`'s dimensions, or raise."""
    if x.dim() == 0:
        raise ValueError("`input` must have a class dimension, got a 0-d tensor")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"`dim` must be an int, got {type(dim).__name__}")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(
            f"`dim` must be in [{-x.dim()}, {x.dim() - 1}] for a {x.dim()}-d `input`, got {dim}"
        )
    return dim % x.dim()


def _sample_shape(x: torch.Tensor, dim: int) -> torch.Size:
    """The input's shape without the class dimension: one loss value per sample."""
    return x.shape[:dim] + x.shape[dim + 1 :]


def _sample_mask(mask: object, shape: torch.Size) -> torch.Tensor | None:
    """Check an optional boolean per-sample `mask` against the sample shape."""
    if mask is None:
        return None
    m = _checks.tensor("mask", mask)
    if m.dtype != torch.bool:
        raise TypeError(f"`mask` must be a boolean tensor (True = counts), got {m.dtype}")
    try:
        ok = torch.broadcast_shapes(m.shape, shape) == shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            "`mask` must broadcast to the shape of `input` without `dim` "
            f"{_checks.shape_str(shape)}, got {_checks.shape_str(m.shape)}"
        )
    return m


def _class_vector(name: str, value: object, x: torch.Tensor, num_classes: int):
    """Check an optional per-class tensor of shape (C,), floating, on the input's device."""
    if value is None:
        return None
    v = _checks.floating(name, value)
    if v.shape != (num_classes,):
        raise ValueError(
            f"`{name}` must have shape (C,) = ({num_classes},), one value per class, "
            f"got {_checks.shape_str(v.shape)}"
        )
    if v.device != x.device:
        raise ValueError(f"`{name}` must be on the device of `input` ({x.device}), got {v.device}")
    return v


def _index_target(t: torch.Tensor, x: torch.Tensor, dim: int) -> None:
    """Check class indices: the input's shape without `dim`, each < C (negative: ignored)."""
    shape = _sample_shape(x, dim)
    if t.shape != shape:
        raise ValueError(
            f"`target` of class indices must have the shape of `input` without `dim` "
            f"{_checks.shape_str(shape)}, got {_checks.shape_str(t.shape)}"
        )
    num_classes = x.shape[dim]
    if t.numel() and bool((t >= num_classes).any()):
        raise ValueError(
            f"`target` must hold class indices below C={num_classes} (negative: ignored), "
            f"got {int(t.max())}"
        )


def _soft_target(t: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor | None:
    """Check class probabilities; return which samples are known (None: all of them).

    A sample whose target entries are all negative is left out (the -1 rows of
    `multi_hot`); a negative entry in a row that also holds probabilities is an error.
    """
    _checks.same_shape("target", t, "input", x)
    negative = t < 0
    if not bool(negative.any()):
        return None
    if t.shape[dim] and bool((negative.any(dim) & ~negative.all(dim)).any()):
        raise ValueError(
            "`target` probabilities must not be negative (a row of all negative values "
            f"leaves its sample out), got a value of {t[negative].min().item():g}"
        )
    return ~negative.all(dim)


# ---------------------------------------------------------------- exact pieces


def _safe_log(s: torch.Tensor) -> torch.Tensor:
    """log(s) for s >= 0, with log 0 = -inf and a zero (not NaN) gradient there."""
    positive = s > 0
    # The inner where keeps log's derivative 1/s away from s = 0, where it would be inf
    # and turn the zero gradient of the unused branch into 0 * inf = NaN.
    return torch.where(positive, torch.log(torch.where(positive, s, 1.0)), _NEG_INF)


def _log1mexp(log_p: torch.Tensor) -> torch.Tensor:
    """log(1 - e^l) for l <= 0, exact on both sides of -log 2 (Maechler 2012).

    Returns -inf with a zero gradient where 1 - e^l is below the smallest normal number
    (a probability that is 1 to within that): the derivative e^l / (1 - e^l) would
    overflow there and turn a zero gradient downstream into 0 * inf = NaN. Nothing is
    lost: the focal term multiplies this factor by -log p = 1 - p, itself below that.
    """
    inside = log_p < -torch.finfo(log_p.dtype).tiny
    log_p = torch.where(inside, log_p, -1.0)
    near = log_p > _LOG_HALF
    # -expm1(l) keeps the digits of 1 - e^l near l = 0; log1p(-e^l) those for small e^l.
    # Each branch sees only its own arguments (-1 elsewhere): log1p(-e^l) at an l where
    # e^l rounds to 1 would have derivative 0 / 0 even though where() discards it.
    value_near = torch.log(-torch.expm1(torch.where(near, log_p, -1.0)))
    value_far = torch.log1p(-torch.exp(torch.where(near, -1.0, log_p)))
    return torch.where(inside, torch.where(near, value_near, value_far), _NEG_INF)


def _left_out(include: torch.Tensor | None, dim: int) -> torch.Tensor | None:
    """The samples left out, class dim kept as size 1; None when every sample counts.

    Their loss is dropped by the reduction, but its zero gradient times a NaN or inf
    logit in the backward would still be NaN; the gradient is zeroed there instead.
    """
    if include is None or bool(include.all()):
        return None
    return ~include.unsqueeze(dim)


class _IndexTerms:
    """Log-softmax pieces at the true class y of every sample, computed exactly.

    Attributes (the class dimension kept with size 1 where it says so):
        z: x - max over classes, shape of x (the max is a constant shift: log-softmax
            does not depend on it, so it is detached).
        z_y: z at the true class, class dim kept.
        u: log(p_y / (1 - p_y)) = z_y - log sum_{c != y} e^{z_c}, class dim kept.
    """

    __slots__ = ("z", "z_y", "u")

    def __init__(self, x: torch.Tensor, y: torch.Tensor, dim: int) -> None:
        # y: class indices >= 0 with the class dim kept as size 1.
        self.z = x - x.detach().amax(dim, keepdim=True)
        e = torch.exp(self.z)
        self.z_y = self.z.gather(dim, y)
        # The other classes summed on their own: sum(e) - e_y would cancel to noise when
        # the true class dominates (e_y = 1, the rest tiny).
        others = e.scatter(dim, y, 0.0).sum(dim, keepdim=True)
        self.u = self.z_y - _safe_log(others)

    def log_total(self, log_p: torch.Tensor) -> torch.Tensor:
        """log sum_c e^{z_c} = z_y - log p_y, a sum of two non-negative numbers."""
        return self.z_y - log_p


class _TrueClassLogOdds(torch.autograd.Function):
    """Per sample, u = log(p_y / (1 - p_y)) and v = mean_c(-log p_c), with a one-pass backward.

    The same numbers as `_IndexTerms`, with the backward written out so that it reads the
    saved exponentials once and writes the gradient once (autograd through the pieces
    would take about five passes over (N, C)). With S = sum_{c != y} e^{z_c} and
    Z = e^{z_y} + S:

        du/dx_c = -e^{z_c} / S  (c != y),   du/dx_y = 1,
        dv/dx_c = e^{z_c} / Z - 1/C,

    so grad_c = e^{z_c} (g_v / Z - g_u / S) - g_v / C for c != y, and the true class gets
    g_u + g_v (p_y - 1/C). For cross-entropy g_u = -g (1 - p_y) = -g S / Z, so the factor
    is g / Z and nothing cancels; the true class gets -g (1 - p_y), exact.

    # Not yet: second derivatives; the backward is marked once-differentiable and
    # raises if differentiated again (`_IndexTerms` through autograd has them).
    """

    @staticmethod
    def forward(ctx, x, y, dim, want_v, left_out=None):
        # y: class indices >= 0 with the class dim kept as size 1; left_out: boolean of
        # the same shape, True for samples whose gradient is 0 whatever their logits.
        m = x.amax(dim, keepdim=True)
        e = torch.sub(x, m).exp_()  # every term <= 1: nothing overflows
        z_y = x.gather(dim, y) - m
        e_y = e.gather(dim, y)
        e.scatter_(dim, y, 0.0)  # the other classes only: no 1 - 1 + tiny below
        others = e.sum(dim, keepdim=True)
        u = z_y - _safe_log(others)
        total = others + e_y
        if want_v:
            # mean_c(-log p_c) = log Z - mean(z); log Z = z_y - log p_y, both >= 0.
            v = (z_y - F.logsigmoid(u)) + (m - x.mean(dim, keepdim=True))
        else:
            v = torch.zeros_like(u)
        ctx.save_for_backward(e, y, others, total, e_y, left_out)
        ctx.dim, ctx.want_v = dim, want_v
        ctx.set_materialize_grads(False)
        return u.squeeze(dim), v.squeeze(dim)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_u, g_v):
        e, y, others, total, e_y, left_out = ctx.saved_tensors
        dim = ctx.dim
        if not ctx.want_v:
            g_v = None
        if g_u is None and g_v is None:
            return None, None, None, None, None
        coef = torch.zeros_like(others)
        at_y = torch.zeros_like(others)
        if g_u is not None:
            g_u = g_u.unsqueeze(dim)
            # S = 0 only where every other e^{z_c} underflowed to 0: their gradient is 0.
            coef = coef - torch.where(others > 0, g_u / torch.where(others > 0, others, 1.0), 0.0)
            at_y = at_y + g_u
        if g_v is None:
            grad = e * coef
        else:
            g_v = g_v.unsqueeze(dim)
            coef = coef + g_v / total
            share = g_v / e.shape[dim]
            grad = torch.addcmul(-share, e, coef)
            at_y = at_y + g_v * (e_y / total) - share
        grad.scatter_(dim, y, at_y)
        if left_out is not None:
            # A left-out sample's gradient is 0 times finite numbers unless its logits
            # hold NaN or inf, and then its sum of exponentials is NaN: zero those rows
            # (a check of sample size; the pass over (N, C) only when there are some).
            bad = left_out & total.isnan()
            if bool(bad.any()):
                grad.masked_fill_(bad, 0.0)
        return grad, None, None, None, None


class _SoftCrossEntropy(torch.autograd.Function):
    """Per sample -sum_c t_c log p_c for targets t >= 0, with a one-pass backward.

    Shifted by the row's maximum x_a: log Z = log1p(sum_{c != a} e^{z_c}), which keeps
    the tiny sum when a dominates (log(1 + tiny) would lose it), and the loss
    T log Z - sum_c t_c z_c (T = sum_c t_c) adds two non-negative terms. The gradient
    g (T p_c - t_c) is written out; at the argmax it is g ((T - t_a) - T (1 - p_a)) with
    1 - p_a = rest / Z from the other classes, so a one-hot target on a dominant class
    gets -(1 - p_a), never 1 - 1 + tiny.

    # Not yet: second derivatives (once-differentiable), and no gradient for `target`
    # (`F.cross_entropy` has one for probabilities).
    """

    @staticmethod
    def forward(ctx, x, t, dim):
        a = x.argmax(dim, keepdim=True)
        z = x - x.gather(dim, a)
        cross = (t * z).sum(dim, keepdim=True)
        if bool(cross.isnan().any()):
            # 0 * (-inf) where a class without target mass has logit -inf: 0 log 0 = 0.
            # (A NaN logit still reaches the loss through log Z.)
            cross = torch.where(t != 0, t * z, 0.0).sum(dim, keepdim=True)
        e = z.exp_()  # z is not needed any more: reuse its memory
        e.scatter_(dim, a, 0.0)  # the argmax's own term e^0 = 1 is the 1 of log1p
        rest = e.sum(dim, keepdim=True)
        mass = t.sum(dim, keepdim=True)
        ctx.save_for_backward(e, t, a, rest, mass)
        ctx.dim = dim
        return (mass * torch.log1p(rest) - cross).squeeze(dim)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        e, t, a, rest, mass = ctx.saved_tensors
        dim = ctx.dim
        g = g.unsqueeze(dim)
        total = 1 + rest
        grad = e * (g * mass / total)  # g T p_c, 0 at the argmax
        grad.addcmul_(t, g, value=-1)
        at_a = g * ((mass - t.gather(dim, a)) - mass * rest / total)
        return grad.scatter_(dim, a, at_a), None, None


# ---------------------------------------------------------------- cross-entropy


def softmax_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    dim: int = 1,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Softmax cross-entropy, exact at every logit, with ignored samples that cost nothing.

    .. math::
        \ell = w_y \Bigl((1 - \varepsilon)(-\log p_y)
               + \frac{\varepsilon}{C} \sum_c (-\log p_c)\Bigr),
        \qquad p = \operatorname{softmax}(x),

    for a class index y; for class probabilities t the first term is
    :math:`-\sum_c w_c t_c \log p_c` and the sample weight of the second is
    :math:`\sum_c w_c t_c`.

    Where the options coincide, values and gradients equal `F.cross_entropy`'s (tested):
    index targets with `weight` or with `label_smoothing`, ignored indices, soft targets
    that sum to 1. The differences:

    - With every target ignored the loss is 0 with a zero gradient (`F.cross_entropy`
      returns NaN, pytorch#70348).
    - `weight` with `label_smoothing`: the class weight weighs the *sample* (by its true
      class) and the smoothing mass stays uniform over the classes. `F.cross_entropy`
      also multiplies each class's share of the smoothing mass by that class's weight,
      which pulls predictions toward heavily weighted classes (pytorch#104776).
    - "mean" with `weight` divides by the sum of the included samples' weights w_y for
      index targets and by the number of included samples for soft targets, exactly as
      `F.cross_entropy` does (it is `F.cross_entropy`'s own inconsistency, kept for
      agreement); an all-zero weight sum gives 0, not NaN.
    - Soft targets may leave a sample out with a row of negative values (what
      `multi_hot` writes for an ignored index); `F.cross_entropy` has no ignoring for them.

    Args:
        input: logits, classes along `dim`: (N, C), (N, C, d1, ...) or (C,) with dim=0.
        target: either integer class indices of the input's shape without `dim`, values
            in [0, C) or negative for "ignore" (covers -100); or class probabilities of the
            input's shape (floating or bool), non-negative, or a row of negative values to
            leave the sample out.
        dim: the class dimension (default 1, as in `F.cross_entropy`).
        weight: class weights of shape (C,), or None.
        label_smoothing: epsilon in [0, 1]; the target becomes (1 - eps) target + eps / C.
        mask: boolean of the input's shape without `dim` (broadcast); False leaves a
            sample out.
        reduction: "none" (the sample shape, 0 where left out) | "mean" | "sum".

    Returns:
        A scalar, or the input's shape without `dim` for "none", in the input's dtype
        (float16 and bfloat16 are computed in float32).

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [30.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        >>> y = torch.tensor([0, 0, -100])              # the last sample is ignored
        >>> losslab.softmax_cross_entropy(x, y, reduction="none")
        tensor([1.6985e-01, 1.8715e-13, 0.0000e+00])
        >>> losslab.softmax_cross_entropy(x, torch.tensor([-100, -100, -100]))
        tensor(0.)
    """
    x = _checks.floating("input", input)
    t = _checks.tensor("target", target)
    dim = _class_dim(x, dim)
    _checks.reduction(reduction, _reduce.SOFTMAX_REDUCTIONS)
    eps = _checks.number("label_smoothing", label_smoothing, low=0, high=1)
    num_classes = x.shape[dim]
    w = _class_vector("weight", weight, x, num_classes)
    shape = _sample_shape(x, dim)
    m = _sample_mask(mask, shape)
    dtype = _checks.compute_dtype(x.dtype)
    xc = x.to(dtype)

    if t.is_floating_point() or t.dtype == torch.bool:
        known = _soft_target(t, x, dim)
        include = known if m is None else (m if known is None else known & m)
        include = None if include is None else include.expand(shape)
        loss = _soft_loss(xc, t.to(dtype), dim, w, eps, known)
        return _reduce.reduce(loss, include, reduction).to(x.dtype)

    if t.is_complex():
        raise TypeError(f"`target` must hold class indices or probabilities, got {t.dtype}")
    _index_target(t, x, dim)
    if w is None and x.dim() == 2 and dim == 1 and fused.wanted(x, t):
        # The fused kernel: loss and gradient in one compiled pass (see losslab.fused).
        m_rows = None if m is None else m.expand(shape)
        out = fused.softmax_cross_entropy(x, t, m_rows, eps=eps, reduction=reduction)
        if out is not None:
            return out
    include = _reduce.included(t, m, shape)
    y = t.clamp(min=0).unsqueeze(dim)
    u, smooth = _TrueClassLogOdds.apply(xc, y, dim, bool(eps), _left_out(include, dim))
    loss = -F.logsigmoid(u)  # -log p_y
    if eps:
        # The smoothing term mean_c(-log p_c), weighed like the rest by w_y.
        loss = (1 - eps) * loss + eps * smooth
    sample_weight = None
    if w is not None:
        sample_weight = w.to(dtype)[y.squeeze(dim)]
        loss = loss * sample_weight
    return _reduce.reduce(loss, include, reduction, mean_weights=sample_weight).to(x.dtype)


def _soft_loss(x, t, dim, w, eps, known):
    """Per-sample soft-target cross-entropy with class weights and label smoothing."""
    if known is not None:
        # Left-out rows (all negative) get target 0: their loss is 0 and finite.
        t = torch.where(known.unsqueeze(dim), t, 0.0)
    tw = t if w is None else t * w.to(t.dtype).view([-1] + [1] * (t.dim() - dim - 1))
    if eps:
        # The smoothing mass, uniform over the classes, times the sample's weight
        # sum_c w_c t_c: one target (1 - eps) t w + eps W / C, one cross-entropy.
        tw = torch.add((1 - eps) * tw, tw.sum(dim, keepdim=True), alpha=eps / x.shape[dim])
    return _SoftCrossEntropy.apply(x, tw, dim)


# ---------------------------------------------------------------- focal loss


def softmax_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: torch.Tensor | None = None,
    dim: int = 1,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Softmax focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection").

    .. math::
        \ell = w_y \Bigl((1 - \varepsilon)\, f_y + \frac{\varepsilon}{C} \sum_c f_c\Bigr),
        \qquad f_c = -\alpha_c (1 - p_c)^\gamma \log p_c,

    the multiclass form of RetinaNet's loss, with one softmax over the classes (not one
    sigmoid per class, as smp's "multiclass" focal loss has it). At gamma=0 with
    `alpha=None` it is `softmax_cross_entropy` with the same options.

    (1 - p_y)^gamma is computed as exp(gamma * log(1 - p_y)) with log(1 - p_y) taken from
    the log-softmax of the *other* classes (see the module docstring), so it keeps its
    digits when p_y is close to 1 and its gradient is finite for every gamma >= 0, also
    below 1 at saturated logits, where (1 - p) ** gamma has an infinite derivative.

    `alpha` weighs each class's term and leaves the "mean" divisor alone; `weight` weighs
    the sample by its true class and "mean" divides by the sum of those weights, as in
    `softmax_cross_entropy`.

    Args:
        input: logits, classes along `dim`.
        target: integer class indices of the input's shape without `dim`; negative values
            are ignored. (Soft targets are not supported by the focal loss.)
        gamma: focusing parameter >= 0 (default 2).
        alpha: per-class weights of shape (C,), or None (all 1).
        dim: the class dimension (default 1).
        weight: class weights of shape (C,) weighing each sample by its true class.
        label_smoothing: epsilon in [0, 1], spread as in `softmax_cross_entropy`.
        mask: boolean of the input's shape without `dim`; False leaves a sample out.
        reduction: "none" | "mean" | "sum".

    Returns:
        A scalar, or the input's shape without `dim` for "none", in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
        >>> y = torch.tensor([0, 0])
        >>> losslab.softmax_focal_loss(x, y, reduction="none")
        tensor([0.0041, 2.8210])
        >>> losslab.softmax_focal_loss(x, y, gamma=0.0)  # cross-entropy
        tensor(1.6324)
    """
    x = _checks.floating("input", input)
    t = _checks.tensor("target", target)
    dim = _class_dim(x, dim)
    gamma = _checks.number("gamma", gamma, low=0)
    _checks.reduction(reduction, _reduce.SOFTMAX_REDUCTIONS)
    eps = _checks.number("label_smoothing", label_smoothing, low=0, high=1)
    num_classes = x.shape[dim]
    a = _class_vector("alpha", alpha, x, num_classes)
    w = _class_vector("weight", weight, x, num_classes)
    shape = _sample_shape(x, dim)
    m = _sample_mask(mask, shape)
    if t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
        # Not yet: soft targets (sum_c t_c (1 - p_c)^gamma log p_c needs every class's
        # exact log(1 - p_c), as the label-smoothing branch below computes it).
        raise TypeError(f"`target` must hold integer class indices, got {t.dtype}")
    _index_target(t, x, dim)
    if not eps and w is None and x.dim() == 2 and dim == 1 and fused.wanted(x, t, a):
        # The fused kernel: loss and gradient in one compiled pass (see losslab.fused).
        m_rows = None if m is None else m.expand(shape)
        out = fused.softmax_focal_loss(x, t, m_rows, a, gamma=gamma, reduction=reduction)
        if out is not None:
            return out
    dtype = _checks.compute_dtype(x.dtype)
    include = _reduce.included(t, m, shape)
    xc = x.to(dtype)
    y = t.clamp(min=0).unsqueeze(dim)
    left_out = _left_out(include, dim)

    if eps:
        # The smoothing sum needs every class's (1 - p_c)^gamma: autograd through the
        # pieces. Without it, one sample-sized log-odds u is all the loss needs.
        terms = _IndexTerms(xc, y, dim)
        if left_out is not None and bool((left_out & terms.u.isnan()).any()):
            # A left-out sample with a NaN or inf logit (its u is NaN) would send NaN
            # through autograd's pieces: again with logits 0 there (rare, so no extra
            # pass over (N, C) in the common case).
            terms = _IndexTerms(xc.masked_fill(left_out, 0.0), y, dim)
        u = terms.u
    else:
        u = _TrueClassLogOdds.apply(xc, y, dim, False, left_out)[0].unsqueeze(dim)
    log_p = F.logsigmoid(u)
    # exp(gamma * log(1 - p)): finite derivative where (1 - p) ** gamma has none.
    loss = -torch.exp(gamma * F.logsigmoid(-u)) * log_p if gamma else -log_p
    if a is not None:
        a = a.to(dtype)
        loss = loss * a[y]
    if eps:
        log_p_all = terms.z - terms.log_total(log_p)
        spread = -log_p_all
        if gamma:
            spread = spread * torch.exp(gamma * _log1mexp(log_p_all))
        if a is not None:
            spread = spread * a.view([-1] + [1] * (x.dim() - dim - 1))
        loss = (1 - eps) * loss + eps * spread.mean(dim, keepdim=True)
    loss = loss.squeeze(dim)
    sample_weight = None
    if w is not None:
        sample_weight = w.to(dtype)[y.squeeze(dim)]
        loss = loss * sample_weight
    return _reduce.reduce(loss, include, reduction, mean_weights=sample_weight).to(x.dtype)


# ---------------------------------------------------------------- multi-label softmax

MULTILABEL_MODES = ("normalized", "per_positive")


def multilabel_softmax_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: str = "normalized",
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-label classification with a softmax: one row, several positive classes.

    `mode="normalized"` (Mahajan et al. 2018, "Exploring the Limits of Weakly Supervised
    Pretraining"; PAL-N in Menon et al. 2019) is the cross-entropy against the target
    divided by its number of positives k:

    .. math:: \ell = -\frac{1}{k} \sum_{c \in P} \log \frac{e^{x_c}}{\sum_{j \in K} e^{x_j}}

    so [1, 0, 0, 0, 1, 1, 0, 0] becomes [1/3, 0, 0, 0, 1/3, 1/3, 0, 0]. The positives share
    one softmax, so the loss is at least log k.

    `mode="per_positive"` puts each positive in its own softmax against the negatives N
    only, so that positives do not compete:

    .. math::
        \ell = \sum_{c \in P} -\log \frac{e^{x_c}}{e^{x_c} + \sum_{n \in N} e^{x_n}}
             = \sum_{c \in P} \operatorname{softplus}\Bigl(\log \sum_{n \in N} e^{x_n} - x_c\Bigr).

    Here P are the positives, N the negatives and K = P + N the known labels of the row.
    Unknown labels (a negative target, or False in `mask`) take no part in any softmax;
    a row without a known positive contributes nothing and is not counted by "mean".

    Args:
        input: logits of shape (N, C).
        target: multi-hot targets of shape (N, C): 1 positive, 0 negative, negative value
            unknown. Integer, floating or bool.
        mode: "normalized" (default) or "per_positive".
        mask: boolean, broadcast to (N, C); False makes a label unknown.
        reduction: "none" (one value per row, 0 for rows without a positive) | "mean"
            (over rows with a positive) | "sum".

    Returns:
        A scalar, or shape (N,) for "none", in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([[3.0, 1.0, 0.0, -1.0], [0.0, 0.0, 2.0, 5.0]])
        >>> y = torch.tensor([[1, 1, 0, 0], [0, -1, 0, 0]])   # the second row has no positive
        >>> losslab.multilabel_softmax_loss(x, y, reduction="none")
        tensor([1.1852, 0.0000])
        >>> losslab.multilabel_softmax_loss(x, y, mode="per_positive", reduction="none")
        tensor([0.4735, 0.0000])
    """
    x = _checks.floating("input", input)
    t = _checks.tensor("target", target)
    if x.dim() != 2:
        raise ValueError(f"`input` must have shape (N, C), got {_checks.shape_str(x.shape)}")
    _checks.same_shape("target", t, "input", x)
    mode = _checks.choice("mode", mode, MULTILABEL_MODES)
    _checks.reduction(reduction, _reduce.SOFTMAX_REDUCTIONS)
    m = _checks.optional_mask(mask, "input", x)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    signed = t.is_floating_point() or t.dtype.is_signed
    # Valid values: 1, 0 or negative (for integers: anything up to 1).
    bad = t > 1 if not t.is_floating_point() else (t > 0) & (t != 1)
    if bool(bad.any()):
        raise ValueError(
            "`target` must hold 1 (positive), 0 (negative) or a negative value (unknown), "
            f"got a value of {t[bad][0].item():g}"
        )
    unknown = t < 0 if signed else None
    if unknown is not None and not bool(unknown.any()):
        unknown = None
    if m is not None:
        unknown = ~m.expand(x.shape) if unknown is None else unknown | ~m
    positive = t == 1 if unknown is None else (t == 1) & ~unknown
    has_positive = positive.any(1)
    xc = x.to(_checks.compute_dtype(x.dtype))
    if unknown is None and bool(has_positive.all()):
        negative = ~positive
    else:
        # Only rows with a positive take part; their unknown labels and every label of the
        # other rows get logit 0, so that no NaN or inf there reaches loss or gradient.
        # Rows without a positive count all their labels as negatives, so that their
        # (unused) softmax stays finite.
        no_positive = ~has_positive.unsqueeze(1)
        left_out = no_positive if unknown is None else unknown | no_positive
        xc = xc.masked_fill(left_out, 0.0)
        negative = ~positive if unknown is None else ~positive & ~(unknown & ~no_positive)

    # The positives as (row, class) pairs: a row has few, so their terms cost O(P), and
    # the dense work is a handful of passes over (N, C).
    # Not yet: the checks and masks above take about as many passes as the loss itself
    # (about 4-6x the time of F.cross_entropy on the same logits); a fused kernel would
    # read the targets once.
    rows, cols = positive.nonzero(as_tuple=True)
    if mode == "normalized":
        loss = _NormalizedMultiLabel.apply(xc, negative, rows, cols)
    else:
        loss = _PerPositive.apply(xc, negative, rows, cols)
    return _reduce.reduce(loss, has_positive, reduction).to(x.dtype)


class _NormalizedMultiLabel(torch.autograd.Function):
    """Row loss log sum_{K} e^{x} - (1/k) sum_{P} x, with a one-pass backward.

    P: positives, K: P and the negatives N (the known labels), k = |P|. With
    e_c = e^{x_c - m}, s_P and s_N the sums of e over P and N, and Z = s_P + s_N, the
    gradient is p_c - [c in P] / k with p_c = e_c / Z; at a positive it is taken as
    ((k e_c - s_P) - s_N) / (k Z). A row with one positive y is index cross-entropy:
    k e_y - s_P is exactly 0, so its gradient is -s_N / Z, never 1 - 1 + tiny, and its
    loss is -logsigmoid(x_y - m - log s_N). With k >= 2 the loss is at least log 2, so
    log Z loses nothing.

    # Not yet: second derivatives (the backward is once-differentiable).
    """

    @staticmethod
    def forward(ctx, x, negative, rows, cols):
        # x: logits with a harmless 0 at labels left out; negative: boolean (N, C);
        # (rows, cols): the positives. Each row has a known label.
        n = x.shape[0]
        known = negative.index_put((rows, cols), torch.ones_like(rows, dtype=torch.bool))
        x_known = torch.where(known, x, _NEG_INF)
        m = x_known.amax(1)
        e = torch.sub(x_known, m.unsqueeze(1)).exp_()  # 0 where left out
        e_pos = e[rows, cols]
        e[rows, cols] = 0.0  # now e lives on the negatives only
        s_neg = e.sum(1)
        s_pos = x.new_zeros(n).index_add_(0, rows, e_pos)
        k = x.new_zeros(n).index_add_(0, rows, torch.ones_like(e_pos))
        z_pos = x.new_zeros(n).index_add_(0, rows, x[rows, cols] - m[rows])
        total = s_pos + s_neg
        general = torch.log(total) - z_pos / k.clamp(min=1)
        single = -F.logsigmoid(z_pos - _safe_log(s_neg))
        ctx.save_for_backward(e, e_pos, rows, cols, k, s_pos, s_neg, total)
        return torch.where(k == 1, single, general)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        e, e_pos, rows, cols, k, s_pos, s_neg, total = ctx.saved_tensors
        grad = e * (g / total).unsqueeze(1)  # p_c g at the negatives, 0 elsewhere
        k_r = k[rows]
        at_pos = ((k_r * e_pos - s_pos[rows]) - s_neg[rows]) / (k_r * total[rows])
        grad[rows, cols] = at_pos * g[rows]
        return grad, None, None, None


class _PerPositive(torch.autograd.Function):
    """Row loss sum_{c in P} softplus(log sum_{n in N} e^{x_n} - x_c), with a one-pass backward.

    The negatives' log-sum-exp L is shared by every positive of the row: one pass over the
    classes per row, then O(1) per positive, O(C) in all, where building each positive's
    own softmax would cost O(C) per positive, O(C * |P|). With u_c = x_c - L:

        d/dx_c = -sigmoid(-u_c)  (c in P),    d/dx_n = e^{x_n - L} sum_{c in P} sigmoid(-u_c),

    both exact (sigmoid(-u_c) = 1 - p_c without the subtraction). The loss is taken as
    -logsigmoid(u_c), exact also where F.softplus switches to its input.

    # Not yet: second derivatives (the backward is once-differentiable).
    """

    @staticmethod
    def forward(ctx, x, negative, rows, cols):
        n = x.shape[0]
        x_neg = torch.where(negative, x, _NEG_INF)
        m = x_neg.amax(1)
        # A row without a known negative: L = -inf and every positive costs exactly 0.
        m = torch.where(torch.isfinite(m), m, 0.0)
        e = torch.sub(x_neg, m.unsqueeze(1)).exp_()  # 0 except at negatives
        s_neg = e.sum(1)
        u = (x[rows, cols] - m[rows]) - _safe_log(s_neg)[rows]
        loss = x.new_zeros(n).index_add_(0, rows, -F.logsigmoid(u))
        focus = torch.sigmoid(-u)
        spread = x.new_zeros(n).index_add_(0, rows, focus)
        ctx.save_for_backward(e, focus, rows, cols, s_neg, spread)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        e, focus, rows, cols, s_neg, spread = ctx.saved_tensors
        # S = 0 only in a row without negatives (e is 0 there too).
        coef = torch.where(s_neg > 0, g * spread / torch.where(s_neg > 0, s_neg, 1.0), 0.0)
        grad = e * coef.unsqueeze(1)
        grad[rows, cols] = -focus * g[rows]
        return grad, None, None, None


# ---------------------------------------------------------------- multi-hot targets


def multi_hot(indices: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Turn class indices into multi-hot (or one-hot) targets for one BCE per class.

    Each row gets 1 at its classes and 0 elsewhere; a row whose indices are all negative
    (an ignored sample: -1, -100) becomes a row of -1, which every losslab loss reads as
    "unknown, leave out", so a multiclass problem trains with `binary_cross_entropy` or
    `focal_loss` and keeps its ignored samples ignored.

    Args:
        indices: integer class indices, shape (N,) for one class per sample (one-hot), or
            (N, K) for up to K classes per sample with negative values as padding.
        num_classes: C >= 1; every index must be below it.

    Returns:
        A float tensor of shape (N, C) (the default dtype) on the indices' device.

    Example:
        >>> import torch, losslab
        >>> losslab.multi_hot(torch.tensor([2, 0, -100]), 3)
        tensor([[ 0.,  0.,  1.],
                [ 1.,  0.,  0.],
                [-1., -1., -1.]])
        >>> losslab.multi_hot(torch.tensor([[0, 2], [1, -1]]), 3)
        tensor([[1., 0., 1.],
                [0., 1., 0.]])
    """
    idx = _checks.tensor("indices", indices)
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(f"`indices` must be an integer tensor, got {idx.dtype}")
    if idx.dim() not in (1, 2):
        raise ValueError(
            f"`indices` must have shape (N,) or (N, K), got {_checks.shape_str(idx.shape)}"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"`num_classes` must be an int, got {type(num_classes).__name__}")
    if num_classes < 1:
        raise ValueError(f"`num_classes` must be at least 1, got {num_classes}")
    if idx.numel() and bool((idx >= num_classes).any()):
        raise ValueError(
            f"`indices` must be below num_classes={num_classes} (negative: ignored), "
            f"got {int(idx.max())}"
        )
    if idx.dim() == 1:
        idx = idx.unsqueeze(1)
    valid = idx >= 0
    out = torch.zeros(idx.shape[0], num_classes, device=idx.device)
    # scatter_add then clamp: repeated or padded indices must not overwrite a 1 with a 0.
    out.scatter_add_(1, idx.clamp(min=0), valid.to(out.dtype)).clamp_(max=1)
    return out.masked_fill_(~valid.any(1, keepdim=True), -1.0)


# ---------------------------------------------------------------- KL divergence


def kl_divergence_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    dim: int = 1,
    from_logits: bool = True,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""KL divergence of the model's softmax from target probabilities (distillation).

    .. math::
        \ell = T^2 \sum_c t_c \bigl(\log t_c - \log q_c\bigr),
        \qquad q = \operatorname{softmax}(x / T),

    per sample, summed over the classes, with 0 log 0 = 0. "mean" is the mean over
    samples, the true KL (what `F.kl_div` calls "batchmean"; its "mean" also divides by
    the number of classes).

    Temperature (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"):
    `target` holds *probabilities*, the teacher's softmax at the same temperature, e.g.
    ``torch.softmax(teacher_logits / T, dim)``, so that any source of soft labels works
    (teacher logits, an ensemble's averaged probabilities, human label distributions).
    The gradient in the logits of KL at temperature T is (q - t) / T; the T^2 factor,
    included in the returned value, makes it T (q - t), so the soft-target loss keeps its
    weight against the hard-label loss when T changes. At T = 1 the value is the KL
    itself; divide by T^2 to read the KL at another T.

    Args:
        input: logits (or probabilities when `from_logits=False`), classes along `dim`.
        target: class probabilities of the input's shape; a row of negative values leaves
            its sample out, a negative value in a row of probabilities is an error.
        dim: the class dimension (default 1).
        from_logits: whether `input` holds logits (default) or probabilities, whose log
            is then taken exactly (a probability of 0 where the target has mass costs inf).
        temperature: T > 0, for logits only (default 1).
        mask: boolean of the input's shape without `dim`; False leaves a sample out.
        reduction: "none" (the sample shape) | "mean" (over included samples) | "sum".

    Returns:
        A scalar, or the input's shape without `dim` for "none", in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> teacher = torch.tensor([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0]])
        >>> student = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
        >>> losslab.kl_divergence_loss(student, teacher, reduction="none")
        tensor([0.0058, 1.0986])
        >>> losslab.kl_divergence_loss(student, teacher, temperature=2.0)
        tensor(2.3541)
    """
    x = _checks.floating("input", input)
    t = _checks.floating("target", target)
    dim = _class_dim(x, dim)
    _checks.boolean("from_logits", from_logits)
    temp = _checks.number("temperature", temperature, low=0, low_open=True)
    _checks.reduction(reduction, _reduce.SOFTMAX_REDUCTIONS)
    if not from_logits:
        if temp != 1:
            raise ValueError(
                f"`temperature` applies to logits; with from_logits=False it must be 1, "
                f"got {temperature!r}"
            )
        _checks.at_least("input", x, 0, "a probability, since from_logits=False")
        _checks.at_most("input", x, 1, "a probability, since from_logits=False")
    shape = _sample_shape(x, dim)
    m = _sample_mask(mask, shape)
    known = _soft_target(t, x, dim)
    include = known if m is None else (m if known is None else known & m)
    include = None if include is None else include.expand(shape)

    dtype = _checks.compute_dtype(x.dtype)
    xc, tc = x.to(dtype), t.to(dtype)
    if known is not None:
        tc = torch.where(known.unsqueeze(dim), tc, 0.0)
    # KL = sum t log t - sum t log q, with 0 log 0 = 0: classes without target mass cost
    # nothing, even where q is 0.
    has_mass = tc > 0
    log_t = torch.log(torch.where(has_mass, tc, 1.0))
    if from_logits:
        # The cross-entropy part from the exact soft-target form, whose gradient T (q - t)
        # keeps its digits also at the dominant class.
        cross = _SoftCrossEntropy.apply(xc / temp if temp != 1 else xc, tc, dim)
        loss = cross + torch.where(has_mass, tc * log_t, 0.0).sum(dim)
    else:
        log_q = torch.log(xc)
        loss = torch.where(has_mass, tc * (log_t - log_q), 0.0).sum(dim)
    if temp != 1:
        loss = loss * temp**2
    return _reduce.reduce(loss, include, reduction).to(x.dtype)


# ---------------------------------------------------------------- soft F1

F1_AVERAGES = ("macro", "micro")


def soft_f1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    average: str = "macro",
    from_logits: bool = True,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""1 - F1, with the counts of the F1 score replaced by sums of probabilities.

    .. math::
        \mathrm{tp} = \sum p\,y, \quad \mathrm{fp} = \sum p\,(1 - y), \quad
        \mathrm{fn} = \sum (1 - p)\,y, \qquad
        \ell = 1 - \frac{2\,\mathrm{tp}}{2\,\mathrm{tp} + \mathrm{fp} + \mathrm{fn}}
             = \frac{\mathrm{fp} + \mathrm{fn}}{\sum p + \sum y},

    summed over the samples (and any dimensions after the classes) of the batch, per
    class. "macro" averages 1 - F1 over the classes, "micro" pools the sums of all
    classes first. The loss is differentiable and optimises the batch's F1 directly; it
    has no per-sample form, so it has no `reduction`.

    Unknown labels (a negative target, or False in `mask`) are left out of every sum and,
    from logits, out of the softmax. A class with a zero denominator (no known label with
    target mass and no predicted mass, e.g. a class absent from the batch when
    `from_logits=False` predicts exactly 0) has no F1: it is left out of the macro
    average. With no class left (or a zero micro denominator) the loss is 0 with a zero
    gradient.

    Args:
        input: logits of shape (N, C) or (N, C, d1, ...), classes along dim 1; with
            `from_logits=True` (default) p = softmax over the classes, otherwise `input`
            holds probabilities in [0, 1] (pass sigmoid outputs for multi-label data).
        target: the input's shape with values in [0, 1] (one-hot, multi-hot or soft) or
            negative for unknown; or integer class indices of the input's shape without
            dim 1 (negative: ignored sample).
        average: "macro" (default) or "micro".
        from_logits: whether `input` holds logits (default) or probabilities.
        mask: boolean, broadcast to the input's shape; False leaves a label out (use
            ``mask[:, None]`` for a per-sample mask of shape (N,)).

    Returns:
        A scalar in [0, 1], in the input's dtype.

    Example:
        >>> import torch, losslab
        >>> x = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0], [4.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 1, 2, 1])
        >>> losslab.soft_f1_loss(x, y)
        tensor(0.2473)
        >>> losslab.soft_f1_loss(x, y, average="micro")
        tensor(0.2721)
    """
    x = _checks.floating("input", input)
    t = _checks.tensor("target", target)
    if x.dim() < 2:
        raise ValueError(
            f"`input` must have shape (N, C) or (N, C, d1, ...), got {_checks.shape_str(x.shape)}"
        )
    average = _checks.choice("average", average, F1_AVERAGES)
    _checks.boolean("from_logits", from_logits)
    m = _checks.optional_mask(mask, "input", x)
    if not from_logits:
        _checks.at_least("input", x, 0, "a probability, since from_logits=False")
        _checks.at_most("input", x, 1, "a probability, since from_logits=False")
    dtype = _checks.compute_dtype(x.dtype)

    if t.is_floating_point() or t.dtype == torch.bool or t.shape == x.shape:
        _checks.same_shape("target", t, "input", x)
        _checks.at_most("target", t, 1, "a probability of the class, or negative for unknown")
        y = t.to(dtype)
    else:
        _index_target(t, x, 1)
        # One-hot targets, with ignored samples as rows of -1.
        y = F.one_hot(t.clamp(min=0), x.shape[1]).movedim(-1, 1).to(dtype)
        y = torch.where((t < 0).unsqueeze(1), -1.0, y)
    known = ~(y < 0)
    if m is not None:
        known = known & m
    everything = bool(known.all())

    xc = x.to(dtype)
    if not everything:
        # Unknown labels get a harmless 0 (no NaN can leak from them) and, from logits,
        # -inf so that they take no part in the softmax; a row with no known label keeps
        # its zeros, so that its (unused) softmax stays finite.
        xc = xc.masked_fill(~known, 0.0 if from_logits else 0.5)
        if from_logits:
            xc = xc.masked_fill(~known & known.any(1, keepdim=True), _NEG_INF)
        y = torch.where(known, y, 0.0)
    p = torch.softmax(xc, 1) if from_logits else xc
    if not everything:
        p = torch.where(known, p, 0.0)

    # Sum over every dimension but the classes: per-class sums of shape (C,).
    others = [d for d in range(x.dim()) if d != 1]
    tp = (p * y).sum(others)
    errors = (p * (1 - y) + (1 - p) * y).sum(others)  # fp + fn, without cancellation
    denominator = p.sum(others) + y.sum(others)  # 2 tp + fp + fn
    if average == "micro":
        tp, errors, denominator = tp.sum(), errors.sum(), denominator.sum()
    has_f1 = denominator > 0
    loss = errors / torch.where(has_f1, denominator, 1.0)
    out = _reduce.reduce(loss, has_f1, "mean") if average == "macro" else loss
    return out.to(x.dtype)
