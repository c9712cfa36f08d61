"""Arbitrary-precision references (mpmath) shared by the tests.

Each reference computes a loss from exact arithmetic at 60 significant digits, and its
derivative by mpmath's high-precision numerical differentiation. The tests compare
losslab's float64 and float32 results against these where the true value is a normal
number of that dtype (below that, float rounding to subnormals or 0 is expected).
"""

from __future__ import annotations

import math

import mpmath as mp
import torch

mp.mp.dps = 60

# Relative tolerances per dtype, for values and gradients against the references.
RTOL = {torch.float64: 1e-12, torch.float32: 1e-5}
TINY = {torch.float64: 2.2250738585072014e-308, torch.float32: 1.1754943508222875e-38}

# Logits from the range [-1e4, 1e4], dense around where float64 saturates.
EXTREME_LOGITS = [
    -1e4,
    -745.0,
    -700.0,
    -100.0,
    -40.0,
    -37.0,
    -30.0,
    -20.0,
    -5.0,
    -1.0,
    -1e-3,
    0.0,
    1e-3,
    1.0,
    5.0,
    20.0,
    30.0,
    37.0,
    40.0,
    100.0,
    700.0,
    745.0,
    1e4,
]


def sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def log_sigmoid(x):
    # log(1 / (1 + e^-x)) = -log1p(e^-x), exact in mpmath at any magnitude.
    return -mp.log1p(mp.exp(-x))


def focal(x, t, *, alpha=None, gamma=0.0, pos_weight=1.0, smoothing=0.0):
    """-a+ t (1-p)^g log p - a- (1-t) p^g log(1-p); BCE at gamma=0."""
    x, t = mp.mpf(x), mp.mpf(t)
    t = t * (1 - mp.mpf(smoothing)) + mp.mpf(smoothing) / 2
    lp, lq = log_sigmoid(x), log_sigmoid(-x)
    a_pos = (mp.mpf(1) if alpha is None else mp.mpf(alpha)) * pos_weight
    a_neg = mp.mpf(1) if alpha is None else 1 - mp.mpf(alpha)
    g = mp.mpf(gamma)
    return -(a_pos * t * mp.exp(g * lq) * lp + a_neg * (1 - t) * mp.exp(g * lp) * lq)


def asymmetric(x, t, *, gamma_pos=0.0, gamma_neg=4.0, margin=0.05):
    x, t = mp.mpf(x), mp.mpf(t)
    p = sigmoid(x)
    pos = -t * mp.exp(mp.mpf(gamma_pos) * log_sigmoid(-x)) * log_sigmoid(x)
    pm = max(p - mp.mpf(margin), mp.mpf(0))
    neg = mp.mpf(0) if pm == 0 else -(1 - t) * pm ** mp.mpf(gamma_neg) * mp.log1p(-pm)
    return pos + neg


def value_and_grad(fn, x, **kwargs):
    """The reference value at x and its derivative in x, as mpf."""
    value = fn(x, **kwargs)
    grad = mp.diff(lambda u: fn(u, **kwargs), mp.mpf(x))
    return value, grad


def assert_close_to_reference(got: float, want, dtype: torch.dtype, what: str) -> None:
    """Assert relative agreement where the reference is a normal number of `dtype`."""
    want = float(want) if abs(want) < mp.mpf("1e308") else math.copysign(math.inf, want)
    if abs(want) < TINY[dtype] or math.isinf(want):
        return
    rel = abs(got - want) / abs(want)
    assert rel <= RTOL[dtype], f"{what}: got {got!r}, reference {want!r}, relative error {rel:.3g}"


def relative_error(got: float, want) -> float:
    """|got - want| / |want| for a normal reference, else 0 (used to report the worst)."""
    want = float(want)
    if want == 0 or math.isinf(want) or abs(want) < 1e-300:
        return 0.0
    return abs(got - want) / abs(want)


# ---------------------------------------------------------------- softmax family
# Each works on a list of logits (one sample) and is exact at any gap between them: the
# log-probabilities go through log1p of sums of e^{x_k - x_c}, never through 1 - p.


def log_softmax(xs, c):
    """log p_c = -log(1 + sum_{k != c} e^{x_k - x_c})."""
    xs = [mp.mpf(v) for v in xs]
    return -mp.log1p(mp.fsum(mp.exp(x - xs[c]) for k, x in enumerate(xs) if k != c))


def log1m_softmax(xs, c):
    """log(1 - p_c) = -log(1 + e^{x_c} / sum_{k != c} e^{x_k}); -inf for a single class."""
    xs = [mp.mpf(v) for v in xs]
    others = [x for k, x in enumerate(xs) if k != c]
    if not others:
        return mp.mpf("-inf")
    top = max(others)
    lse = top + mp.log(mp.fsum(mp.exp(x - top) for x in others))
    return -mp.log1p(mp.exp(xs[c] - lse))


def softmax_focal(xs, y, *, gamma=0.0, alpha=None, smoothing=0.0):
    """(1 - eps) f_y + eps/C sum_c f_c, f_c = -alpha_c (1 - p_c)^gamma log p_c; CE at gamma=0."""
    n = len(xs)
    g, eps = mp.mpf(gamma), mp.mpf(smoothing)

    def f(c):
        a = mp.mpf(1) if alpha is None else mp.mpf(alpha[c])
        focus = mp.exp(g * log1m_softmax(xs, c)) if gamma else mp.mpf(1)
        return -a * focus * log_softmax(xs, c)

    value = (1 - eps) * f(y)
    if smoothing:
        value += eps / n * mp.fsum(f(c) for c in range(n))
    return value


def soft_cross_entropy(xs, t):
    """-sum_c t_c log p_c for class probabilities t (0 log 0 = 0)."""
    return -mp.fsum(mp.mpf(tc) * log_softmax(xs, c) for c, tc in enumerate(t) if tc != 0)


def multilabel_softmax(xs, t, *, mode="normalized"):
    """The multi-label softmax losses of one row; t in {1, 0, negative = unknown}."""
    pos = [c for c, v in enumerate(t) if v == 1]
    neg = [c for c, v in enumerate(t) if v == 0]
    if not pos:
        return mp.mpf(0)
    if mode == "normalized":
        known = pos + neg
        sub = [xs[c] for c in known]
        return -mp.fsum(log_softmax(sub, known.index(c)) for c in pos) / len(pos)
    return -mp.fsum(log_softmax([xs[c]] + [xs[n] for n in neg], 0) for c in pos)


def gradient(fn, xs, **kwargs):
    """The partial derivatives of fn(xs, **kwargs) in each logit, as mpf."""
    xs = [mp.mpf(v) for v in xs]

    def partial(j):
        return mp.diff(lambda u: fn(xs[:j] + [u] + xs[j + 1 :], **kwargs), xs[j])

    return [partial(j) for j in range(len(xs))]


def kl_softmax(xs, t, *, temperature=1.0):
    """T^2 sum_c t_c (log t_c - log softmax(x / T)_c), with 0 log 0 = 0."""
    temp = mp.mpf(temperature)
    zs = [mp.mpf(v) / temp for v in xs]
    return temp**2 * mp.fsum(
        mp.mpf(tc) * (mp.log(mp.mpf(tc)) - log_softmax(zs, c)) for c, tc in enumerate(t) if tc > 0
    )
