"""The fused sigmoid family: BCE, focal loss and ASL with their gradient in one pass.

Every loss of `losslab.sigmoid` from logits is one instance of

    loss = -( c+ * q^g+ * log p  +  c- * p^g- * log q ),   p = sigmoid(x), q = 1 - p,

with c+ = alpha * pos_weight * t and c- = (1 - alpha) * (1 - t) (ASL with a margin
replaces the negative term; see below). Its derivative in x follows from
d log p / dx = q, d log q / dx = -p, d q^g / dx = -g p q^g and d p^g / dx = g q p^g:

    d loss / dx = c+ q^g+ (g+ p log p - q)  +  c- p^g- (p - g- q log q).

Neither bracket cancels: in the first both terms are <= 0, in the second both are >= 0.

Transcendental functions per element: e = exp(-|x|) and log1p(e) give both log p and
log q (step 1), and one division gives p and q; each focusing factor adds one exp. So BCE
evaluates 2 (+1 division), focal loss 4, ASL with a margin 5 at its default gamma_pos = 0
(exp, log1p, log(q + m), and log and exp for p_m^g-), 6 with gamma_pos > 0.
"""

from __future__ import annotations

import torch

from . import SavedGradient, compiled


def _kernel(
    x: torch.Tensor,
    t: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor | None,
    pos_weight: torch.Tensor | None,
    a_pos: float,
    a_neg: float,
    smoothing: float,
    gamma_pos: float,
    gamma_neg: float,
    margin: float,
    focus_pos: bool,
    focus_neg: bool,
    use_margin: bool,
    elementwise: bool,
):
    """Per-element loss (or its sums) and the derivative d loss / dx, in the compute dtype.

    Returns (loss, grad) when `elementwise`, else (loss sum, included count, positive mass,
    grad). Written in plain torch ops: `torch.compile` fuses it into one loop, and the
    same function run eagerly gives the same numbers.
    """
    dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    x = x.to(dtype)
    t = t.to(dtype)

    # 0. Which elements count: target not negative (NaN counts) and mask True. Excluded
    #    places get logit 0 and target 0, so that nothing there can become NaN or inf.
    keep = ~(t < 0)
    if mask is not None:
        keep = keep & mask
    x = torch.where(keep, x, 0.0)
    t = torch.where(keep, t, 0.0)
    positives = t
    t = t * (1 - smoothing) + smoothing / 2  # label smoothing; the identity when it is 0

    # 1. log p = min(x, 0) - log1p(e) and log q = min(-x, 0) - log1p(e), e = exp(-|x|) <= 1:
    #    exact at every logit, and neither rounds to log 0. (log q is not log p - x, which
    #    loses every digit of log q once log p rounds to x.)
    e = torch.exp(-x.abs())
    soft = torch.log1p(e)
    log_p = torch.clamp(x, max=0) - soft
    log_q = torch.clamp(-x, max=0) - soft
    # p and q from the same e: 1 / (1 + e) and e / (1 + e), each without cancellation.
    r = 1 / (1 + e)
    right = x >= 0
    p = torch.where(right, r, e * r)
    q = torch.where(right, e * r, r)

    # 2. Positive term -c+ q^g+ log p; the factor as exp(g+ log q) stays finite in its
    #    derivative for g+ < 1 too.
    c_pos = a_pos * t
    if pos_weight is not None:
        c_pos = c_pos * pos_weight.to(dtype)
    if focus_pos:
        c_pos = c_pos * torch.exp(gamma_pos * log_q)
        grad = c_pos * (gamma_pos * p * log_p - q)
    else:
        grad = -c_pos * q
    loss = -c_pos * log_p

    # 3. Negative term.
    c_neg = a_neg * (1 - t)
    if use_margin:
        # ASL: p_m = max(p - m, 0), term -c- p_m^g- log(1 - p_m), where 1 - p_m = q + m
        # exactly, so the log needs no log1p of a rounded difference. Where p <= m the term
        # is 0; the stand-in 0.5 keeps log and exp finite in the unused branch.
        shifted = p - margin
        active = shifted > 0
        p_m = torch.where(active, shifted, 0.5)
        log_one_minus = torch.log(q + margin)
        if focus_neg:
            c_neg = c_neg * torch.exp(gamma_neg * torch.log(p_m))
            d_dpm = c_neg * (gamma_neg * log_one_minus / p_m - 1 / (q + margin))
        else:
            d_dpm = -c_neg / (q + margin)
        loss = loss + torch.where(active, -c_neg * log_one_minus, 0.0)
        # d p_m / dx = d p / dx = p q.
        grad = grad + torch.where(active, -d_dpm * p * q, 0.0)
    else:
        if focus_neg:
            c_neg = c_neg * torch.exp(gamma_neg * log_p)
            grad = grad + c_neg * (p - gamma_neg * q * log_q)
        else:
            grad = grad + c_neg * p
        loss = loss - c_neg * log_q

    # 4. Element weights, and 0 at excluded places.
    if weight is not None:
        w = weight.to(dtype)
        loss, grad = loss * w, grad * w
    loss = torch.where(keep, loss, 0.0)
    grad = torch.where(keep, grad, 0.0)
    if elementwise:
        return loss, grad
    return loss.sum(), keep.sum(dtype=dtype), torch.where(keep, positives, 0.0).sum(), grad


_compiled_kernel = compiled(_kernel)


def sigmoid_loss(
    x: torch.Tensor,
    t: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor | None,
    pos_weight: torch.Tensor | None,
    *,
    alpha: float | None,
    smoothing: float = 0.0,
    gamma_pos: float = 0.0,
    gamma_neg: float = 0.0,
    margin: float = 0.0,
    reduction: str,
) -> torch.Tensor | None:
    """The fused loss of logits `x` (arguments already validated by `losslab.sigmoid`).

    Returns None when compilation is unavailable; the caller then runs the eager path.
    """
    elementwise = reduction == "none"
    # Full-shape operands are flattened, so that one compiled kernel serves every rank.
    full = all(a is None or a.shape == x.shape for a in (mask, weight, pos_weight))
    view = (lambda a: None if a is None else a.reshape(-1)) if full else (lambda a: a)
    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
    flags = dict(
        focus_pos=gamma_pos != 0,
        focus_neg=gamma_neg != 0,
        use_margin=margin != 0,
        elementwise=elementwise,
    )
    with torch.no_grad():
        result = _compiled_kernel(
            view(x.detach()), view(t), view(mask), view(weight), view(pos_weight),
            a_pos, a_neg, smoothing, gamma_pos, gamma_neg, margin, **flags,
        )  # fmt: skip
    if result is None:
        return None

    if elementwise:
        loss, grad = result
        loss, grad = loss.view(x.shape), grad.view(x.shape)
        scale = None
    else:
        total, count, positive_mass, grad = result
        grad = grad.view(x.shape)
        if reduction == "sum":
            divisor = torch.ones_like(total)
        elif reduction == "mean":
            divisor = count
        else:  # "sum_over_positives"
            divisor = positive_mass
        # At least 1, as in `_reduce.reduce`: nothing included gives 0 with zero gradient.
        divisor = divisor.clamp(min=1)
        loss = total / divisor
        scale = 1 / divisor
    out = loss.to(x.dtype)
    if not x.requires_grad or not torch.is_grad_enabled():
        return out
    return SavedGradient.apply(x, out, grad, scale)
