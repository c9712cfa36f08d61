"""Information theory of discrete distributions: entropy, cross-entropy, KL, Huffman codes.

Why cross-entropy is the loss for classification, in numbers. A source that emits
symbol i with probability p_i can be coded with about -log2 p_i bits for symbol i, and no
code does better on average than the entropy

    H(p) = -sum_i p_i log p_i.

A code built for another distribution q costs the cross-entropy H(p, q) = -sum_i p_i
log q_i per symbol; the excess over H(p) is the Kullback-Leibler divergence
KL(p || q) = H(p, q) - H(p). A classifier that predicts q for labels drawn from p pays
exactly this cross-entropy, in nats instead of bits.

Conventions shared by every function here:

- A distribution is a 1-d list, tuple, numpy array or torch tensor of probabilities
  (`huffman_code` and `average_length` also take a {symbol: probability} mapping). It is
  converted to float64 and the result is a Python float.
- Every entry must be >= 0 and the entries must sum to 1 within `SUM_TOLERANCE` (1e-6),
  or within n times the machine epsilon of a float16/bfloat16/float32 input when that is
  larger, so that a float32 softmax over many classes passes. The values are used as
  given, not renormalised. Anything else raises a `ValueError` naming the argument.
- 0 log 0 = 0: a symbol of probability 0 costs nothing. A symbol with p_i > 0 and
  q_i = 0 makes the cross-entropy and the KL divergence inf, their true value.
- NaN is not hidden: it passes the checks and the result is NaN (a Huffman code of a
  distribution with NaN raises, since no code can be built).
- `base` is 2 by default (bits); `math.e` gives nats.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch

SUM_TOLERANCE = 1e-6

# The largest number of blocks (symbols ** n) that `block_code` builds a code for: one or two
# seconds of pure-Python Huffman; a million blocks would take half a minute.
MAX_BLOCKS = 1 << 16


# ---------------------------------------------------------------- validation


def _vector(name: str, value: object) -> np.ndarray:
    """Return `value` as a 1-d float64 array of probabilities, or raise naming `name`."""
    tolerance_eps = 0.0
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"`{name}` must hold real probabilities, got {value.dtype}")
        if value.is_floating_point():
            tolerance_eps = torch.finfo(value.dtype).eps
        array = value.detach().cpu().to(torch.float64).numpy()
    elif isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
            raise TypeError(
                f"`{name}` must hold real probabilities, got an array of dtype {array.dtype}"
            )
        if array.dtype.kind == "f":
            tolerance_eps = np.finfo(array.dtype).eps
        array = array.astype(np.float64)
    else:
        raise TypeError(
            f"`{name}` must be a list, numpy array or torch tensor of probabilities, "
            f"got {type(value).__name__}"
        )

    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-d vector of probabilities, got shape {array.shape}"
        )
    # NaN compares false, so it passes both checks and propagates into the result.
    if (array < 0).any():
        raise ValueError(f"`{name}` must hold probabilities >= 0, got {array[array < 0].min():g}")
    total = math.fsum(array.tolist())
    # A float64 input may be off by a few rounding errors; a float32 one by about n eps.
    tolerance = max(SUM_TOLERANCE, array.size * tolerance_eps)
    if abs(total - 1.0) > tolerance:
        raise ValueError(f"`{name}` must sum to 1 (within {tolerance:g}), got a sum of {total!r}")
    return array


def _symbols_and_probs(name: str, value: object) -> tuple[list[Hashable], np.ndarray]:
    """Split a vector (symbols 0..n-1) or a {symbol: probability} mapping."""
    if isinstance(value, Mapping):
        symbols = list(value.keys())
        try:
            probs = [float(v) for v in value.values()]
        except (TypeError, ValueError):
            raise TypeError(f"`{name}` must map symbols to real probabilities") from None
        return symbols, _vector(name, probs)
    probs = _vector(name, value)
    return list(range(probs.size)), probs


def _logger(base: object):
    """The logarithm to `base` (a real number > 0 other than 1) as an array function."""
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        raise TypeError(f"`base` must be a real number, got {type(base).__name__}")
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise ValueError(f"`base` must be a finite number > 0 other than 1, got {base!r}")
    # log2 is exact on powers of two, so 1/8 costs exactly 3 bits and the textbook
    # examples come out as 1.75 and 0.875, not 0.8749999999999998.
    if base == 2:
        return np.log2
    if base == math.e:
        return np.log
    log_b = math.log(base)
    return lambda x: np.log(x) / log_b


def _pair(p: object, q: object) -> tuple[np.ndarray, np.ndarray]:
    """Two distributions over the same symbols."""
    pa, qa = _vector("p", p), _vector("q", q)
    if pa.shape != qa.shape:
        raise ValueError(f"`q` must have as many probabilities as `p` ({pa.size}), got {qa.size}")
    return pa, qa


def _on_support(pa: np.ndarray, qa: np.ndarray) -> tuple[np.ndarray, np.ndarray] | float:
    """p and q where p > 0 (terms with p = 0 are 0); or the answer itself when it needs
    no sum: NaN if either holds a NaN, inf if q is 0 where p is not."""
    if np.isnan(pa).any() or np.isnan(qa).any():
        return math.nan
    support = pa > 0
    if (qa[support] == 0).any():
        return math.inf
    return pa[support], qa[support]


# ---------------------------------------------------------------- entropies


def entropy(p: object, *, base: float = 2) -> float:
    r"""Shannon entropy of a discrete distribution, 0 log 0 = 0.

    .. math:: H(p) = -\sum_i p_i \log_b p_i

    The fewest bits per symbol (base 2) that any code can reach on average (Shannon 1948,
    "A Mathematical Theory of Communication").

    Args:
        p: probabilities, a 1-d list, numpy array or tensor, >= 0, summing to 1.
        base: the base of the logarithm (default 2: bits; `math.e`: nats).

    Returns:
        H(p) as a float, >= 0.

    Example:
        >>> from losslab import info
        >>> info.entropy([0.5, 0.25, 0.125, 0.125])
        1.75
        >>> info.entropy([1.0, 0.0]), info.entropy([0.25] * 4)
        (0.0, 2.0)
        >>> round(info.entropy([0.9, 1/30, 1/30, 1/30]), 4)
        0.6275
    """
    pa = _vector("p", p)
    log = _logger(base)
    positive = pa[pa > 0]
    # Only positive entries count: 0 log 0 = 0 by continuity.
    h = -math.fsum((positive * log(positive)).tolist())
    if np.isnan(pa).any():
        return math.nan
    return h + 0.0  # + 0.0 turns -0.0 (certainty) into 0.0


def cross_entropy(p: object, q: object, *, base: float = 2) -> float:
    r"""Cross-entropy of q relative to p: the cost of coding p's symbols with q's code.

    .. math:: H(p, q) = -\sum_i p_i \log_b q_i

    Terms with p_i = 0 are 0 (whatever q_i); a term with p_i > 0 and q_i = 0 is inf.
    A classifier's cross-entropy loss is this with p the label distribution, q the
    predicted one and base e.

    Args:
        p: the true distribution (1-d, >= 0, summing to 1).
        q: the assumed distribution, as many entries as `p`.
        base: the base of the logarithm (default 2: bits; `math.e`: nats).

    Returns:
        H(p, q) as a float, >= H(p); inf where q misses part of p's support.

    Example:
        >>> from losslab import info
        >>> info.cross_entropy([1/8, 1/8, 1/4, 1/2], [1/2, 1/4, 1/8, 1/8])
        2.625
        >>> round(info.cross_entropy([0.2, 0.8], [0.4, 0.6]), 4)
        0.854
        >>> info.cross_entropy([0.5, 0.5], [1.0, 0.0])
        inf
    """
    pa, qa = _pair(p, q)
    log = _logger(base)
    found = _on_support(pa, qa)
    if isinstance(found, float):
        return found
    ps, qs = found
    return -math.fsum((ps * log(qs)).tolist()) + 0.0


def kl_divergence(p: object, q: object, *, base: float = 2) -> float:
    r"""Kullback-Leibler divergence KL(p || q): the extra cost of q's code on p's symbols.

    .. math:: \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log_b \frac{p_i}{q_i} = H(p, q) - H(p)

    Each term is computed as p_i (log p_i - log q_i), which is exactly 0 where p_i = q_i.
    Terms with p_i = 0 are 0; p_i > 0 with q_i = 0 gives inf. KL is >= 0 (Gibbs'
    inequality) up to rounding of about 1e-16, which is not clamped away.

    Args:
        p: the true distribution (1-d, >= 0, summing to 1).
        q: the assumed distribution, as many entries as `p`.
        base: the base of the logarithm (default 2: bits; `math.e`: nats).

    Returns:
        KL(p || q) as a float.

    Example:
        >>> from losslab import info
        >>> info.kl_divergence([1/8, 1/8, 1/4, 1/2], [1/2, 1/4, 1/8, 1/8])
        0.875
        >>> info.kl_divergence([0.3, 0.7], [0.3, 0.7])
        0.0
    """
    pa, qa = _pair(p, q)
    log = _logger(base)
    found = _on_support(pa, qa)
    if isinstance(found, float):
        return found
    ps, qs = found
    return math.fsum((ps * (log(ps) - log(qs))).tolist()) + 0.0


# ---------------------------------------------------------------- prefix codes


def huffman_code(p: object) -> dict[Hashable, str]:
    """The optimal binary prefix code of a distribution (Huffman 1952).

    Repeatedly merges the two least probable nodes; the first one taken gets the bit "0"
    and the second "1". Ties are broken deterministically: among nodes of equal
    probability the one created first is taken first, the symbols in their order in `p`
    (index order for a vector, insertion order for a mapping) before any merged node,
    and merged nodes in the order they were made. So [1/2, 1/4, 1/8, 1/8] gets
    0, 10, 110, 111. Other tie-breaking gives other codewords, and possibly other
    lengths, but never another average length: every optimal code has the same one.

    Symbols of probability 0 never occur and get no codeword (giving them one would
    lengthen the code of the others). A distribution with one possible symbol gets the
    empty codeword "": a certain outcome costs 0 bits.

    Args:
        p: a 1-d vector (symbols are the indices 0..n-1) or a {symbol: probability}
            mapping; probabilities >= 0 summing to 1.

    Returns:
        {symbol: codeword}, codewords made of "0" and "1", in the order of `p`.

    Example:
        >>> from losslab import info
        >>> info.huffman_code([0.5, 0.25, 0.125, 0.125])
        {0: '0', 1: '10', 2: '110', 3: '111'}
        >>> info.huffman_code({"a": 0.9, "b": 0.1, "c": 0.0})
        {'a': '1', 'b': '0'}
    """
    symbols, probs = _symbols_and_probs("p", p)
    return _huffman(symbols, probs)


def _huffman(symbols: Sequence[Hashable], probs: np.ndarray) -> dict[Hashable, str]:
    """Huffman's algorithm on validated probabilities (see `huffman_code`)."""
    if np.isnan(probs).any():
        raise ValueError("`p` must not contain NaN: no code can be built for it")
    leaves = [(float(pr), i) for i, pr in enumerate(probs) if pr > 0]
    if len(leaves) == 1:
        return {symbols[leaves[0][1]]: ""}

    # Heap entries are (probability, creation order, node); the creation order breaks
    # ties and is unique, so nodes themselves are never compared. A node is a leaf index
    # (int) or a pair (first child, second child).
    heap: list[tuple[float, int, object]] = [(pr, order, i) for order, (pr, i) in enumerate(leaves)]
    heapq.heapify(heap)
    order = itertools.count(len(heap))
    while len(heap) > 1:
        p0, _, first = heapq.heappop(heap)
        p1, _, second = heapq.heappop(heap)
        heapq.heappush(heap, (p0 + p1, next(order), (first, second)))

    # Walk the tree: "0" to the first child, "1" to the second.
    words: dict[int, str] = {}
    stack: list[tuple[object, str]] = [(heap[0][2], "")]
    while stack:
        node, prefix = stack.pop()
        if isinstance(node, tuple):
            stack.append((node[0], prefix + "0"))
            stack.append((node[1], prefix + "1"))
        else:
            words[node] = prefix
    return {symbols[i]: words[i] for i in sorted(words)}


def _check_code(code: object) -> Mapping:
    if not isinstance(code, Mapping):
        raise TypeError(f"`code` must be a {{symbol: codeword}} mapping, got {type(code).__name__}")
    for symbol, word in code.items():
        if not isinstance(word, str) or set(word) - {"0", "1"}:
            raise ValueError(
                f"`code` must map symbols to strings of 0 and 1, got {word!r} for {symbol!r}"
            )
    return code


def average_length(code: Mapping[Hashable, str], p: object) -> float:
    r"""Expected codeword length in bits per symbol, :math:`L = \sum_i p_i \, |c_i|`.

    Args:
        code: {symbol: codeword}, as from `huffman_code`. Every symbol with p_i > 0 needs
            a codeword; symbols of probability 0 may be missing.
        p: a 1-d vector (symbols 0..n-1) or a {symbol: probability} mapping.

    Returns:
        L as a float. For a Huffman code of p, H(p) <= L < H(p) + 1.

    Example:
        >>> from losslab import info
        >>> code = info.huffman_code([0.5, 0.25, 0.125, 0.125])
        >>> info.average_length(code, [0.5, 0.25, 0.125, 0.125])
        1.75
        >>> info.average_length(code, [1/8, 1/8, 1/4, 1/2])   # the wrong sender's cost
        2.625
    """
    code = _check_code(code)
    symbols, probs = _symbols_and_probs("p", p)
    return _average_length(code, symbols, probs)


def _average_length(code: Mapping, symbols: Sequence[Hashable], probs: np.ndarray) -> float:
    terms = []
    for symbol, pr in zip(symbols, probs.tolist(), strict=True):
        if pr == 0:
            continue
        if symbol not in code:
            raise ValueError(f"`code` has no codeword for symbol {symbol!r} (p = {pr:g})")
        terms.append(pr * len(code[symbol]))
    return math.fsum(terms)


def kraft_sum(code: Mapping[Hashable, str]) -> float:
    r"""Kraft's sum :math:`\sum_i 2^{-|c_i|}`: at most 1 for every prefix code.

    A prefix code with a Kraft sum of exactly 1 is complete (no codeword can be shortened);
    Huffman codes of two or more symbols are complete.

    Example:
        >>> from losslab import info
        >>> info.kraft_sum({0: "0", 1: "10", 2: "110", 3: "111"})
        1.0
    """
    code = _check_code(code)
    return math.fsum(2.0 ** -len(word) for word in code.values())


# ---------------------------------------------------------------- block codes


def block_probabilities(p: object, n: int) -> dict[tuple, float]:
    """The distribution of blocks of `n` independent symbols (the n-th extension of p).

    Args:
        p: a 1-d vector or a {symbol: probability} mapping.
        n: the block length, >= 1.

    Returns:
        {(s_1, ..., s_n): p_1 * ... * p_n} over every block, in lexicographic order of the
        symbols' positions in `p`.

    Example:
        >>> from losslab import info
        >>> info.block_probabilities([0.75, 0.25], 2)
        {(0, 0): 0.5625, (0, 1): 0.1875, (1, 0): 0.1875, (1, 1): 0.0625}
    """
    symbols, probs = _symbols_and_probs("p", p)
    n = _block_length(n, len(symbols))
    return _blocks(symbols, probs, n)


def _block_length(n: object, k: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"`n` must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"`n` must be at least 1, got {n}")
    if k**n > MAX_BLOCKS:
        raise ValueError(
            f"`n` = {n} makes {k}^{n} blocks, more than the {MAX_BLOCKS} a code is built for"
        )
    return int(n)


def _blocks(symbols: Sequence[Hashable], probs: np.ndarray, n: int) -> dict[tuple, float]:
    pairs = list(zip(symbols, probs.tolist(), strict=True))
    blocks = {}
    for combo in itertools.product(pairs, repeat=n):
        block = tuple(s for s, _ in combo)
        blocks[block] = math.prod(pr for _, pr in combo)
    return blocks


def block_code(p: object, n: int) -> dict[tuple, str]:
    """The Huffman code of blocks of `n` symbols (see `huffman_code` and
    `block_probabilities`).

    Coding blocks spreads the up-to-one-bit rounding loss of a symbol code over n
    symbols: the bits per symbol lie in [H(p), H(p) + 1/n), so they approach the entropy
    as n grows (Shannon's source coding theorem).

    Args:
        p: a 1-d vector or a {symbol: probability} mapping.
        n: the block length, >= 1, with at most `MAX_BLOCKS` blocks (k ** n).

    Returns:
        {block tuple: codeword}.

    Example:
        >>> from losslab import info
        >>> info.block_code([0.75, 0.25], 2)
        {(0, 0): '1', (0, 1): '011', (1, 0): '00', (1, 1): '010'}
    """
    symbols, probs = _symbols_and_probs("p", p)
    n = _block_length(n, len(symbols))
    blocks = _blocks(symbols, probs, n)
    return _huffman(list(blocks), np.fromiter(blocks.values(), dtype=np.float64))


def bits_per_symbol(p: object, n: int = 1) -> float:
    """Average bits per symbol of the Huffman code over blocks of `n` symbols.

    Args:
        p: a 1-d vector or a {symbol: probability} mapping.
        n: the block length (default 1: a plain Huffman code).

    Returns:
        The average codeword length of the block code divided by n, in [H(p), H(p) + 1/n).

    Example:
        >>> from losslab import info
        >>> p = [0.9, 1/30, 1/30, 1/30]
        >>> [round(info.bits_per_symbol(p, n), 3) for n in (1, 2, 3, 4, 5)]
        [1.167, 0.786, 0.687, 0.649, 0.637]
    """
    symbols, probs = _symbols_and_probs("p", p)
    n = _block_length(n, len(symbols))
    blocks = _blocks(symbols, probs, n)
    block_symbols = list(blocks)
    block_probs = np.fromiter(blocks.values(), dtype=np.float64)
    code = _huffman(block_symbols, block_probs)
    return _average_length(code, block_symbols, block_probs) / n
