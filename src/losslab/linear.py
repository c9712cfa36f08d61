"""Losses of a linear layer's output, without materialising its (N, C) logits.

With C classes (a vocabulary, an extreme multi-label label set) the logits `hidden @
weight.T` are often the largest tensor of a model: N=4096 rows and C=65536 classes make
1 GiB in float32, and the naive loss keeps two or three tensors of that size alive until
backward. Here the rows are taken a chunk at a time: each chunk's logits are formed, the
loss and d loss / d logits computed from them, and the gradients of `hidden`, `weight`
and `bias` accumulated at once (two matrix products per chunk), after which the chunk's
logits are freed. Peak memory is one chunk of logits plus the gradients themselves.

For "mean" and "sum" the gradients are complete when forward ends; backward only scales
them by the incoming gradient, in place, and hands them to autograd, so that nothing else
is allocated (a second backward through the same graph is therefore refused, as in
`torch.nn.functional.linear_cross_entropy`'s chunked path). For "none", backward recomputes
the chunks with the per-row incoming gradient (one more matrix product per chunk).

Matrix products run in the input dtype, as `torch.nn.functional.linear` would; the
softmax and sigmoid math runs in float32 for float16/bfloat16 and in float64 for float64.
"""

from __future__ import annotations

import math

import torch

from . import _checks, fused
from .fused import sigmoid as _fused_sigmoid
from .fused import softmax as _fused_softmax

CE_REDUCTIONS = ("none", "mean", "sum")
MULTILABEL_REDUCTIONS = ("mean", "sum", "sum_over_positives")


CHUNK_ELEMENTS = 2**22  # 16 MiB of float32 logits


def _chunk_rows(n: int, d: int, c: int, chunk_size: int | None) -> int:
    """Rows per chunk: given, or a chunk of logits as large as `hidden` or 2**22 elements."""
    if chunk_size is not None:
        return chunk_size
    # A (rows, C) chunk no larger than the (N, d) hidden states keeps peak memory near that
    # of the inputs; the 2**22-element floor keeps the matrix products large enough to run
    # at full speed (a few dozen chunks for C = 65536).
    rows = max(1, math.ceil(max(n * d, CHUNK_ELEMENTS) / max(c, 1)))
    return min(n, 1 << (rows - 1).bit_length())


def _check_linear(hidden, weight, bias):
    """Validate hidden (N, d), weight (C, d) and bias (C,); return them."""
    h = _checks.floating("hidden", hidden)
    w = _checks.floating("weight", weight)
    if h.dim() != 2:
        raise ValueError(f"`hidden` must be 2-d (N, d), got {_checks.shape_str(h.shape)}")
    if w.dim() != 2 or w.shape[1] != h.shape[1]:
        raise ValueError(
            f"`weight` must have shape (C, {h.shape[1]}) for `hidden` "
            f"{_checks.shape_str(h.shape)}, got {_checks.shape_str(w.shape)}"
        )
    if w.dtype != h.dtype or w.device != h.device:
        raise ValueError(
            f"`weight` must have the dtype and device of `hidden` ({h.dtype}, {h.device}), "
            f"got ({w.dtype}, {w.device})"
        )
    if bias is not None:
        b = _checks.floating("bias", bias)
        if b.shape != (w.shape[0],):
            raise ValueError(
                f"`bias` must have shape ({w.shape[0]},), got {_checks.shape_str(b.shape)}"
            )
        if b.dtype != h.dtype or b.device != h.device:
            raise ValueError(
                f"`bias` must have the dtype and device of `hidden` ({h.dtype}, {h.device}), "
                f"got ({b.dtype}, {b.device})"
            )
    return h, w, bias


def _chunk_size_arg(chunk_size):
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive int, got {chunk_size!r}")
    return chunk_size


def _logits(h, w, b, rows, dtype):
    """The logits of `rows`, in the compute dtype."""
    z = h[rows] @ w.T
    if b is not None:
        z = z + b
    return z.to(dtype)


# ---------------------------------------------------------------- softmax cross-entropy


def _ce_chunk(z, target, keep, eps, soft, kernel=None):
    """Per-row loss and d loss / d z of one chunk of logits z (rows, C).

    Cross-entropy against t' = (1 - eps) t + eps / C (t one-hot, or soft):
        loss = sum_j t'_j (lse - z_j),        d loss / d z = (sum_j t'_j) softmax(z) - t'.

    Class indices go through the fused softmax kernel of `losslab.fused` (compiled when
    `kernel` is given, run eagerly otherwise), which keeps the exact forms of
    `losslab.softmax` where the true class dominates. Soft targets overwrite z.
    """
    if not soft:
        args = (z, target, keep, eps, True)
        out = None if kernel is None else kernel(*args)
        return out if out is not None else _fused_softmax._kernel(*args)

    c = z.shape[1]
    # log-sum-exp with the row maximum taken out, so that exp never overflows.
    top = z.amax(dim=1, keepdim=True)
    z.sub_(top)
    lse = torch.logsumexp(z, dim=1)  # of the shifted logits
    t = target.to(z.dtype)
    if eps:
        t = t * (1 - eps) + eps / c
    mass = t.sum(dim=1)
    loss = mass * lse - (t * z).sum(dim=1)
    grad = z.sub_(lse[:, None]).exp_().mul_(mass[:, None]).sub_(t)
    if keep is not None:
        # Rows left out: loss 0 and no gradient (also where their logits are NaN).
        loss = torch.where(keep, loss, 0.0)
        grad.masked_fill_(~keep[:, None], 0.0)
    return loss, grad


class _LinearCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, w, b, target, keep, eps, soft, rows, reduction):
        dtype = _checks.compute_dtype(h.dtype)
        n = h.shape[0]
        need_h, need_w = h.requires_grad, w.requires_grad
        need_b = b is not None and b.requires_grad
        scalar = reduction != "none"
        grad_h = torch.empty(h.shape, dtype=dtype, device=h.device) if scalar and need_h else None
        grad_w = torch.zeros(w.shape, dtype=dtype, device=w.device) if scalar and need_w else None
        grad_b = (
            torch.zeros(w.shape[0], dtype=dtype, device=w.device) if scalar and need_b else None
        )
        losses = torch.empty(n, dtype=dtype, device=h.device)
        kernel = _softmax_kernel(n, w.shape[0])

        for start in range(0, n, rows):
            r = slice(start, min(start + rows, n))
            k = None if keep is None else keep[r]
            z = _logits(h, w, b, r, dtype)
            loss, g = _ce_chunk(z, target[r], k, eps, soft, kernel)
            del z  # the kernel's gradient is a new tensor: free the logits before the products
            losses[r] = loss
            if scalar:
                _accumulate(g, h, w, r, grad_h, grad_w, grad_b, k)

        ctx.reduction, ctx.eps, ctx.soft, ctx.rows = reduction, eps, soft, rows
        ctx.dtypes = (h.dtype, w.dtype)
        if scalar:
            total = losses.sum()
            count = n if keep is None else keep.sum()
            divisor = torch.as_tensor(count, dtype=dtype, device=h.device).clamp(min=1)
            out = total if reduction == "sum" else total / divisor
            scale = torch.ones((), dtype=dtype, device=h.device) if reduction == "sum" else divisor
            ctx.grads = (grad_h, grad_w, grad_b, scale)
            return out.to(h.dtype)
        ctx.save_for_backward(h, w, b, target, keep)
        return losses.to(h.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        if ctx.reduction == "none":
            return (*_ce_recompute(ctx, grad_output), None, None, None, None, None, None)
        return (*_scale_saved(ctx, grad_output), None, None, None, None, None, None)


def _softmax_kernel(n: int, c: int):
    """The compiled softmax kernel if fused kernels are on for (n, c) logits, else None."""
    logits = torch.empty(n, c, device="meta")
    return _fused_softmax._compiled_kernel if fused.is_enabled(logits) else None


def _scale_saved(ctx, grad_output):
    """Hand out the gradients precomputed in forward, scaled by grad_output / divisor.

    They are kept on `ctx` rather than saved for backward, and dropped from it here, so
    that the returned tensors are the only references: scaled in place and taken over by
    autograd as the parameters' `.grad` without a copy.
    """
    if ctx.grads is None:
        raise RuntimeError(
            "a linear loss hands out its precomputed gradients once, so its graph can be "
            "backpropagated once; call the loss again for a second backward"
        )
    (grad_h, grad_w, grad_b, divisor), ctx.grads = ctx.grads, None
    s = grad_output.to(divisor.dtype) / divisor
    dtypes = (ctx.dtypes[0], ctx.dtypes[1], ctx.dtypes[1])
    grads = (grad_h, grad_w, grad_b)
    return tuple(
        None if g is None else g.mul_(s).to(dt) for g, dt in zip(grads, dtypes, strict=True)
    )


def _accumulate(g, h, w, r, grad_h, grad_w, grad_b, keep=None):
    """Add one chunk's d loss / d z (rows, C) into the gradients of h, w and b."""
    hr = h[r]
    if keep is not None:
        # Rows left out contribute 0 * h to the weight's gradient; zeroing them first keeps
        # a NaN or inf in a left-out row from turning that 0 into NaN.
        hr = torch.where(keep[:, None], hr, 0.0)
    if grad_h is not None:
        grad_h[r] = (g.to(h.dtype) @ w).to(grad_h.dtype)  # (rows, C) @ (C, d)
    if grad_w is not None:
        # (C, rows) @ (rows, d) added in place: no (C, d) temporary per chunk.
        grad_w.addmm_(g.T, hr.to(grad_w.dtype))
    if grad_b is not None:
        grad_b.add_(g.sum(dim=0))


def _ce_recompute(ctx, grad_output):
    """Backward of reduction "none": recompute each chunk, scaled by its rows' gradient."""
    h, w, b, target, keep = ctx.saved_tensors
    dtype = _checks.compute_dtype(h.dtype)
    grad_h = torch.zeros(h.shape, dtype=dtype, device=h.device) if ctx.needs_input_grad[0] else None
    grad_w = torch.zeros(w.shape, dtype=dtype, device=w.device) if ctx.needs_input_grad[1] else None
    need_b = b is not None and ctx.needs_input_grad[2]
    grad_b = torch.zeros(w.shape[0], dtype=dtype, device=w.device) if need_b else None
    go = grad_output.to(dtype)
    kernel = _softmax_kernel(h.shape[0], w.shape[0])
    for start in range(0, h.shape[0], ctx.rows):
        r = slice(start, min(start + ctx.rows, h.shape[0]))
        k = None if keep is None else keep[r]
        z = _logits(h, w, b, r, dtype)
        _, g = _ce_chunk(z, target[r], k, ctx.eps, ctx.soft, kernel)
        del z
        g.mul_(go[r][:, None])
        _accumulate(g, h, w, r, grad_h, grad_w, grad_b, k)
    return tuple(
        None if g is None else g.to(dt)
        for g, dt in ((grad_h, h.dtype), (grad_w, w.dtype), (grad_b, w.dtype))
    )


# Not yet: per-class weights (`softmax_cross_entropy`'s `weight`) and a class dimension
# other than the last; the loss is for (N, d) hidden states and (C, d) classifier weights.
def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Softmax cross-entropy of `hidden @ weight.T + bias`, without the (N, C) logits.

    .. math::
        \ell_i = \sum_j t'_{ij} \bigl(\operatorname{logsumexp}_k z_{ik} - z_{ij}\bigr),
        \qquad z = h W^\top + b,\quad t' = (1 - \varepsilon)\, t + \varepsilon / C,

    the value of `softmax_cross_entropy(hidden @ weight.T + bias, target)`, computed a
    chunk of rows at a time (Wijmans et al. 2024, "Cut Your Losses in Large-Vocabulary
    Language Models", do the same on GPU). Peak memory is one (chunk_size, C) block of
    logits plus the gradients.

    Args:
        hidden: (N, d) floating, the last hidden states.
        weight: (C, d), the classifier's weight, of hidden's dtype and device.
        target: (N,) integer class indices, negative for "unknown, leave out" (covers
            ignore_index -100); or (N, C) floating class probabilities (soft targets).
        bias: optional (C,).
        label_smoothing: epsilon in [0, 1): mixes the target with the uniform distribution.
        mask: optional (N,) boolean; False leaves a row out.
        reduction: "none" (per row, 0 where left out) | "mean" (over included rows) | "sum".
        chunk_size: rows per chunk (default: a chunk of logits the size of `hidden`, or
            of 2**22 elements if that is larger).

    Returns:
        A scalar, or (N,) for "none", in hidden's dtype. Nothing included gives 0 with
        zero gradient.

    Example:
        >>> import torch, losslab
        >>> g = torch.Generator().manual_seed(0)
        >>> h, w = torch.randn(4, 3, generator=g), torch.randn(5, 3, generator=g)
        >>> y = torch.tensor([0, 4, -100, 2])
        >>> losslab.linear_cross_entropy(h, w, y, reduction="none")
        tensor([2.2826, 1.2238, 0.0000, 0.5461])
        >>> torch.nn.functional.cross_entropy(h @ w.T, y, reduction="none")
        tensor([2.2826, 1.2238, 0.0000, 0.5461])
    """
    h, w, b = _check_linear(hidden, weight, bias)
    t = _checks.tensor("target", target)
    n, c = h.shape[0], w.shape[0]
    soft = t.is_floating_point()
    if soft:
        _checks.same_shape("target", t, "hidden @ weight.T", torch.empty(n, c, device="meta"))
    elif t.dtype == torch.bool or t.shape != (n,):
        raise ValueError(
            f"`target` must be (N,) integer class indices or (N, C) probabilities, "
            f"here ({n},) or ({n}, {c}), got {t.dtype} {_checks.shape_str(t.shape)}"
        )
    elif t.numel() and int(t.max()) >= c:
        raise ValueError(f"`target` must hold class indices below C={c}, got {int(t.max())}")
    eps = _checks.number("label_smoothing", label_smoothing, low=0, high=1, high_open=True)
    _checks.reduction(reduction, CE_REDUCTIONS)
    m = _checks.optional_mask(mask, "hidden's rows", torch.empty(n, device="meta"))
    rows = _chunk_rows(n, h.shape[1], c, _chunk_size_arg(chunk_size))

    keep = None if soft else ~(t < 0)
    if m is not None:
        keep = m if keep is None else keep & m
    if keep is not None and bool(keep.all()):
        keep = None
    return _LinearCE.apply(h, w, b, t, keep, eps, soft, rows, reduction)


# ---------------------------------------------------------------- multi-label (sigmoid)


class _LinearSigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, w, b, target, mask, params, rows, reduction):
        dtype = _checks.compute_dtype(h.dtype)
        n = h.shape[0]
        grad_h = torch.empty(h.shape, dtype=dtype, device=h.device) if h.requires_grad else None
        grad_w = torch.zeros(w.shape, dtype=dtype, device=w.device) if w.requires_grad else None
        need_b = b is not None and b.requires_grad
        grad_b = torch.zeros(w.shape[0], dtype=dtype, device=w.device) if need_b else None
        total = torch.zeros((), dtype=dtype, device=h.device)
        count, positives = total.clone(), total.clone()
        # Compiled or not by the size of the logits the loss stands for, as for the losses.
        logits = torch.empty(n, w.shape[0], device="meta")
        kernel = _fused_sigmoid._compiled_kernel if fused.is_enabled(logits) else None

        for start in range(0, n, rows):
            r = slice(start, min(start + rows, n))
            z = _logits(h, w, b, r, dtype)
            args = (z, target[r], None if mask is None else mask[r], None, None, *params)
            out = None if kernel is None else kernel(*args)
            if out is None:
                out = _fused_sigmoid._kernel(*args)
            chunk_total, chunk_count, chunk_positives, g = out
            total += chunk_total
            count += chunk_count
            positives += chunk_positives
            _accumulate(g, h, w, r, grad_h, grad_w, grad_b)

        ctx.dtypes = (h.dtype, w.dtype)
        divisor = {"sum": torch.ones_like(total), "mean": count, "sum_over_positives": positives}
        divisor = divisor[reduction].clamp(min=1)  # nothing included: 0, zero gradient
        ctx.grads = (grad_h, grad_w, grad_b, divisor)
        return (total / divisor).to(h.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        return (*_scale_saved(ctx, grad_output), None, None, None, None, None)


# Not yet: sparse targets (lists of positive class indices per row); the (N, C) target is
# dense, bool or int8 keep it at a quarter of the logits' size.
def linear_sigmoid_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    gamma: float = 0.0,
    alpha: float | None = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Multi-label BCE or focal loss of `hidden @ weight.T + bias`, without the logits.

    .. math::
        \ell_{ij} = -\alpha\, t_{ij} (1 - p_{ij})^\gamma \log p_{ij}
                    - (1 - \alpha)(1 - t_{ij})\, p_{ij}^\gamma \log(1 - p_{ij}),
        \qquad p = \sigma(h W^\top + b),

    the value of `losslab.focal_loss(hidden @ weight.T + bias, target, ...)` (binary
    cross-entropy with `gamma=0, alpha=None`, the default), computed a chunk of rows at a
    time with the fused sigmoid kernel (`losslab.fused`), so that peak memory is one
    (chunk_size, C) block of logits plus the gradients. For extreme multi-label problems
    (Lin et al. 2017 for the focal term).

    Args:
        hidden: (N, d) floating.
        weight: (C, d), of hidden's dtype and device.
        target: (N, C) multi-hot targets in [0, 1], negative for "unknown, leave out";
            floating, integer or bool (bool and int8 keep the targets 4x smaller).
        bias: optional (C,).
        gamma: focusing parameter >= 0 (default 0: binary cross-entropy).
        alpha: weight of positives in [0, 1], negatives get 1 - alpha; None: no balancing.
        mask: optional boolean, broadcast to (N, C); False leaves a label out.
        reduction: "mean" (over included labels) | "sum" | "sum_over_positives".
        chunk_size: rows per chunk (default: a chunk of logits the size of `hidden`, or
            of 2**22 elements if that is larger).

    Returns:
        A scalar in hidden's dtype.

    Example:
        >>> import torch, losslab
        >>> g = torch.Generator().manual_seed(0)
        >>> h, w = torch.randn(4, 3, generator=g), torch.randn(5, 3, generator=g)
        >>> y = torch.tensor([[1, 0, 0, -1, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 1], [1, 1, 0, 0, 0]])
        >>> losslab.linear_sigmoid_loss(h, w, y, gamma=2.0)
        tensor(0.3376)
        >>> losslab.focal_loss(h @ w.T, y, gamma=2.0, alpha=None)
        tensor(0.3376)
    """
    h, w, b = _check_linear(hidden, weight, bias)
    n, c = h.shape[0], w.shape[0]
    t = _checks.tensor("target", target)
    _checks.same_shape("target", t, "hidden @ weight.T", torch.empty(n, c, device="meta"))
    if t.dtype != torch.bool:
        _checks.at_most("target", t, 1, "a probability of the positive class, or negative")
    gamma = _checks.number("gamma", gamma, low=0)
    if alpha is not None:
        alpha = _checks.number("alpha", alpha, low=0, high=1)
    _checks.reduction(reduction, MULTILABEL_REDUCTIONS)
    m = _checks.optional_mask(mask, "hidden @ weight.T", torch.empty(n, c, device="meta"))
    if m is not None:
        m = m.expand(n, c)
    rows = _chunk_rows(n, h.shape[1], c, _chunk_size_arg(chunk_size))

    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
    # The fused kernel's parameters: a+, a-, smoothing, gammas, margin, and its flags.
    focus = gamma != 0
    params = (a_pos, a_neg, 0.0, gamma, gamma, 0.0, focus, focus, False, False)
    return _LinearSigmoid.apply(h, w, b, t, m, params, rows, reduction)
