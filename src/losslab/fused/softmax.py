"""The fused softmax cross-entropy and focal loss: loss and gradient of class indices in one pass.

For logits x of shape (N, C), a class index y per row and label smoothing eps,

    loss = (1 - eps) (-log p_y) + eps (lse - mean_c z_c),     z = x - max_c x,
    d loss / d z_c = p_c - (1 - eps) [c = y] - eps / C.

The same exact forms as `losslab.softmax` (see its module docstring): with S the sum of
e^{z_c} over the classes other than y, u = z_y - log S is the log-odds of the true class,
log p_y = logsigmoid(u) and 1 - p_y = sigmoid(-u), so that the true class's gradient
-(1 - eps)(1 - p_y) + eps (p_y - 1/C) never computes 1 - p_y by cancellation.

Transcendental functions: one exp per element (e^{z_c}, reused for p_c = e^{z_c} / sum e),
and per row two logs, one log1p and four exps.

The focal loss (`softmax_focal_loss`, below) is a function of the same u alone; its
gradient is derived where it is defined.
"""

from __future__ import annotations

import torch

from . import SavedGradient, compiled


def _kernel(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, eps: float,
            elementwise: bool):  # fmt: skip
    """Per-row loss (or its sum and the included count) and d loss / dx, compute dtype."""
    dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    x = x.to(dtype)
    c = x.shape[1]

    # 0. Rows left out (negative index, mask False) get logits 0 and class 0: harmless.
    keep = y >= 0
    if mask is not None:
        keep = keep & mask
    x = torch.where(keep[:, None], x, 0.0)
    is_y = torch.arange(c, device=x.device)[None, :] == y.clamp(min=0)[:, None]

    # 1. Shift by the row maximum; e <= 1, nothing overflows.
    z = x - x.amax(dim=1, keepdim=True)
    e = torch.exp(z)
    z_y = torch.where(is_y, z, 0.0).sum(dim=1)
    others = torch.where(is_y, 0.0, e).sum(dim=1)  # S, summed without e_y: no cancellation
    u = z_y - torch.log(others)  # +inf when S = 0 (one class): p_y = 1 exactly

    # 2. log p_y = logsigmoid(u), log(1 - p_y) = logsigmoid(-u), from one exp and log1p.
    soft = torch.log1p(torch.exp(-u.abs()))
    log_p = torch.clamp(u, max=0) - soft
    q_y = torch.exp(torch.clamp(-u, max=0) - soft)  # 1 - p_y
    p_y = torch.exp(log_p)
    # sum_c e^{z_c} = e^{z_y} + S >= 1, a sum of non-negative terms. Its log is taken as
    # z_y - log p_y where the true class dominates (u > 0: log(1 + tiny) would drop the
    # tiny part), and directly elsewhere (where z_y - log p_y would cancel to noise).
    total = torch.exp(z_y) + others
    lse = torch.where(u > 0, z_y - log_p, torch.log(total))
    loss = -log_p
    if eps:
        loss = (1 - eps) * loss + eps * (lse - z.mean(dim=1))

    # 3. Gradient: p_c - eps / C off the true class, -(1 - eps) q_y + eps (p_y - 1/C) on it.
    p = e / total[:, None]
    grad = torch.where(is_y, (-(1 - eps) * q_y + eps * p_y)[:, None], p) - eps / c
    loss = torch.where(keep, loss, 0.0)
    grad = torch.where(keep[:, None], grad, 0.0)
    if elementwise:
        return loss, grad
    return loss.sum(), keep.sum(dtype=dtype), grad


_compiled_kernel = compiled(_kernel)


def softmax_cross_entropy(
    x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, *, eps: float, reduction: str
) -> torch.Tensor | None:
    """Fused cross-entropy of (N, C) logits and (N,) class indices, validated by the caller.

    Returns None when compilation is unavailable; the caller then runs the eager path.
    """
    elementwise = reduction == "none"
    with torch.no_grad():
        result = _compiled_kernel(x.detach(), y, mask, eps, elementwise)
    return _finish(x, result, reduction)


def _finish(x, result, reduction):
    """The reduced loss from a kernel's result, attached to `x` through its gradient."""
    if result is None:
        return None
    if reduction == "none":
        loss, grad = result
        scale = None
    else:
        total, count, grad = result
        divisor = count.clamp(min=1) if reduction == "mean" else torch.ones_like(total)
        loss, scale = total / divisor, 1 / divisor
    out = loss.to(x.dtype)
    if not x.requires_grad or not torch.is_grad_enabled():
        return out
    return SavedGradient.apply(x, out, grad, scale)


# ---------------------------------------------------------------- focal loss
#
# The softmax focal loss of a class index y (no label smoothing), with a = alpha_y:
#
#     loss = -a q^g log p,      p = p_y = sigmoid(u), q = 1 - p_y = sigmoid(-u),
#
# a function of the true class's log-odds u alone (u as above). From
# d log p / du = q, d log q / du = -p and d q^g / du = -g p q^g:
#
#     d loss / du = a q^g (g p log p - q)      (both terms <= 0: no cancellation),
#
# and the chain rule through u = z_y - log S, S = sum_{c != y} e^{z_c}, gives
#
#     d loss / dz_y = d loss / du,     d loss / dz_c = -(d loss / du) e^{z_c} / S  (c != y).
#
# q^g = exp(g log q) with log q = logsigmoid(-u): its derivative is finite for g in (0, 1)
# at saturated logits (q -> 0), where (1 - p) ** g has an infinite one. Where S = 0 (every
# other class underflowed, or C = 1) the other classes have e^{z_c} = 0 and gradient 0.
# Transcendental functions: one exp per element (e^{z_c}), and per row one log (of S),
# one log1p and four exps (e^{-|u|}, q, p and q^g).
#
# Not yet: label smoothing (its sum over classes needs every class's exact log(1 - p_c),
# about four more transcendental functions per element) and `weight`; those run eager.


def _focal_kernel(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None,
                  alpha: torch.Tensor, gamma: float, elementwise: bool):  # fmt: skip
    """Per-row focal loss (or its sum and the included count) and d loss / dx."""
    dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    x = x.to(dtype)
    c = x.shape[1]

    # 0. Rows left out (negative index, mask False) get logits 0 and class 0: harmless.
    keep = y >= 0
    if mask is not None:
        keep = keep & mask
    x = torch.where(keep[:, None], x, 0.0)
    y = y.clamp(min=0)
    is_y = torch.arange(c, device=x.device)[None, :] == y[:, None]

    # 1. The true class's log-odds u from the other classes' sum S, as for cross-entropy.
    z = x - x.amax(dim=1, keepdim=True)
    e = torch.exp(z)
    z_y = torch.where(is_y, z, 0.0).sum(dim=1)
    others = torch.where(is_y, 0.0, e).sum(dim=1)
    u = z_y - torch.log(others)

    # 2. log p and log q from one exp and one log1p; q^g = exp(g log q).
    soft = torch.log1p(torch.exp(-u.abs()))
    log_p = torch.clamp(u, max=0) - soft
    log_q = torch.clamp(-u, max=0) - soft
    q = torch.exp(log_q)
    # At gamma = 0, exp(0) = 1 and 0 * p log p = 0 exactly: the cross-entropy's numbers
    # from the same compiled kernel. log q is kept finite (-inf only when S = 0) so that
    # 0 * log q cannot be NaN; for gamma > 0 the factor still underflows to 0 there.
    log_q_finite = torch.clamp(log_q, min=torch.finfo(dtype).min)
    factor = alpha.to(dtype)[y] * torch.exp(gamma * log_q_finite)
    loss = -factor * log_p
    d_u = factor * (gamma * torch.exp(log_p) * log_p - q)

    # 3. Gradient: d_u at the true class, -d_u e^{z_c} / S elsewhere (0 where S = 0).
    has_others = others > 0
    coef = torch.where(has_others, -d_u / torch.where(has_others, others, 1.0), 0.0)
    grad = torch.where(is_y, d_u[:, None], e * coef[:, None])
    loss = torch.where(keep, loss, 0.0)
    grad = torch.where(keep[:, None], grad, 0.0)
    if elementwise:
        return loss, grad
    return loss.sum(), keep.sum(dtype=dtype), grad


_compiled_focal_kernel = compiled(_focal_kernel)


def softmax_focal_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None,
    alpha: torch.Tensor | None,
    *,
    gamma: float,
    reduction: str,
) -> torch.Tensor | None:
    """Fused focal loss of (N, C) logits and (N,) class indices, validated by the caller.

    Returns None when compilation is unavailable; the caller then runs the eager path.
    """
    elementwise = reduction == "none"
    # alpha=None as ones: one compiled variant serves both (multiplying by 1 is exact).
    if alpha is None:
        alpha = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
    with torch.no_grad():
        result = _compiled_focal_kernel(x.detach(), y, mask, alpha.detach(), gamma, elementwise)
    return _finish(x, result, reduction)
