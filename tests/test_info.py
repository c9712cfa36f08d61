"""Tests of losslab.info: entropies, their edge cases and errors, Huffman and block codes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losslab import info

# ---------------------------------------------------------------- known values


def test_message_length_values():
    p = [1 / 2, 1 / 4, 1 / 8, 1 / 8]
    q = [1 / 8, 1 / 8, 1 / 4, 1 / 2]
    assert info.entropy(p) == 1.75
    assert info.entropy(q) == 1.75
    assert info.cross_entropy(q, p) == 2.625
    assert info.kl_divergence(q, p) == 0.875
    assert info.entropy([1.0]) == 0.0
    assert info.entropy([1, 0, 0]) == 0.0
    assert info.entropy([0.25] * 4) == 2.0
    assert info.cross_entropy([0.2, 0.8], [0.4, 0.6]) == pytest.approx(0.853958, abs=1e-6)
    assert info.entropy([0.9, 1 / 30, 1 / 30, 1 / 30]) == pytest.approx(0.627492, abs=1e-6)


def test_bases_and_identities():
    p, q = [0.2, 0.5, 0.3], [0.1, 0.6, 0.3]
    assert info.entropy(p, base=math.e) == pytest.approx(info.entropy(p) * math.log(2))
    assert info.entropy(p, base=10) == pytest.approx(info.entropy(p) * math.log10(2))
    assert info.kl_divergence(p, q) == pytest.approx(info.cross_entropy(p, q) - info.entropy(p))
    assert info.kl_divergence(p, p) == 0.0


@pytest.mark.parametrize(
    "convert",
    [list, tuple, np.array, lambda v: np.array(v, dtype=np.float32), torch.tensor],
    ids=["list", "tuple", "numpy", "numpy-f32", "tensor"],
)
def test_input_kinds_agree(convert):
    p, q = [0.5, 0.25, 0.125, 0.125], [0.25, 0.25, 0.25, 0.25]
    assert info.entropy(convert(p)) == 1.75
    assert info.cross_entropy(convert(p), convert(q)) == 2.0
    assert info.kl_divergence(convert(p), convert(q)) == 0.25


def test_tensor_with_grad_and_float32_softmax_over_many_classes():
    logits = torch.randn(5000, generator=torch.Generator().manual_seed(0), requires_grad=True)
    p = torch.softmax(logits, 0)
    assert 0 < info.entropy(p) < math.log2(5000)


def test_zero_probabilities_and_infinities():
    # 0 log 0 = 0, whatever q says there.
    assert info.cross_entropy([1.0, 0.0], [0.5, 0.5]) == 1.0
    assert info.cross_entropy([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert info.kl_divergence([0.0, 1.0], [1.0, 0.0]) == math.inf
    assert info.cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf


def test_nan_propagates():
    assert math.isnan(info.entropy([math.nan, 1.0]))
    assert math.isnan(info.cross_entropy([0.5, 0.5], [math.nan, 0.5]))
    assert math.isnan(info.kl_divergence([0.5, 0.5], [math.nan, 0.5]))
    with pytest.raises(ValueError, match="NaN"):
        info.huffman_code([math.nan, 1.0])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: info.entropy([0.5, 0.6]), ValueError, r"`p` must sum to 1 .*1\.1"),
        (lambda: info.entropy([1.2, -0.2]), ValueError, "`p` must hold probabilities >= 0"),
        (lambda: info.entropy([]), ValueError, "`p` must be a non-empty 1-d"),
        (lambda: info.entropy([[0.5, 0.5]]), ValueError, "`p` must be a non-empty 1-d"),
        (lambda: info.entropy("ab"), TypeError, "`p` must be a list"),
        (lambda: info.entropy([True, False]), TypeError, "`p` must hold real"),
        (lambda: info.entropy([1.0], base=1), ValueError, "`base` must be"),
        (lambda: info.entropy([1.0], base=-2), ValueError, "`base` must be"),
        (lambda: info.cross_entropy([1.0], [0.5, 0.5]), ValueError, "`q` must have as many"),
        (lambda: info.kl_divergence([0.5, 0.5], [0.7, 0.7]), ValueError, "`q` must sum to 1"),
        (lambda: info.huffman_code({"a": "x"}), TypeError, "`p` must map symbols"),
        (lambda: info.average_length({0: "0"}, [0.5, 0.5]), ValueError, "no codeword"),
        (lambda: info.average_length({0: "02"}, [1.0]), ValueError, "strings of 0 and 1"),
        (lambda: info.average_length(["0"], [1.0]), TypeError, "`code` must be a"),
        (lambda: info.bits_per_symbol([0.5, 0.5], 0), ValueError, "`n` must be at least 1"),
        (lambda: info.bits_per_symbol([0.5, 0.5], 2.0), TypeError, "`n` must be an int"),
        (lambda: info.block_code([0.25] * 4, 9), ValueError, "4\\^9 blocks"),
    ],
)
def test_errors_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_sum_tolerance_is_as_documented():
    info.entropy([0.5, 0.5 + 0.9e-6])
    with pytest.raises(ValueError, match="sum to 1"):
        info.entropy([0.5, 0.5 + 1.1e-6])


# ---------------------------------------------------------------- Huffman codes


def test_huffman_textbook_code_and_costs():
    p = [1 / 2, 1 / 4, 1 / 8, 1 / 8]
    code = info.huffman_code(p)
    assert code == {0: "0", 1: "10", 2: "110", 3: "111"}
    assert info.average_length(code, p) == 1.75
    assert info.average_length({i: format(i, "02b") for i in range(4)}, p) == 2.0
    # The second sender with the first sender's code pays the cross-entropy...
    q = [1 / 8, 1 / 8, 1 / 4, 1 / 2]
    assert info.average_length(code, q) == 2.625
    # ... and her own code brings it back to her entropy.
    assert info.average_length(info.huffman_code(q), q) == 1.75


def test_huffman_mapping_zero_and_single_symbols():
    assert info.huffman_code({"x": 0.2, "y": 0.8}) == {"x": "0", "y": "1"}
    assert info.huffman_code({"sure": 1.0, "never": 0.0}) == {"sure": ""}
    code = info.huffman_code([0.5, 0.0, 0.5])
    assert code == {0: "0", 2: "1"}
    assert info.average_length(code, [0.5, 0.0, 0.5]) == 1.0


def test_huffman_ties_are_deterministic():
    p = [0.25] * 4
    assert info.huffman_code(p) == info.huffman_code(p) == {0: "00", 1: "01", 2: "10", 3: "11"}


def _is_prefix_free(words):
    return not any(a != b and b.startswith(a) for a, b in itertools.permutations(words, 2))


def _optimal_length_by_search(p):
    """The best average length over all complete prefix codes, by brute force (n <= 5)."""
    n = len(p)
    best = math.inf
    # The length profiles of complete binary codes satisfy Kraft with equality.
    for lengths in itertools.product(range(1, n), repeat=n):
        if sum(2.0**-ell for ell in lengths) == 1.0:
            best = min(best, sum(pi * ell for pi, ell in zip(p, lengths, strict=True)))
    return best


probabilities = st.lists(st.floats(0.001, 1.0), min_size=2, max_size=5).map(
    lambda w: [x / sum(w) for x in w]
)


@settings(max_examples=60, deadline=None)
@given(probabilities)
def test_huffman_is_a_complete_optimal_prefix_code(p):
    code = info.huffman_code(p)
    words = list(code.values())
    assert _is_prefix_free(words)
    assert info.kraft_sum(code) == pytest.approx(1.0)  # Kraft, with equality
    length, h = info.average_length(code, p), info.entropy(p)
    assert h - 1e-12 <= length < h + 1
    assert length == pytest.approx(_optimal_length_by_search(p), abs=1e-12)
    # Another tie-breaking (reversed symbol order) gives the same average length.
    reversed_code = info.huffman_code(p[::-1])
    assert info.average_length(reversed_code, p[::-1]) == pytest.approx(length, abs=1e-12)


# ---------------------------------------------------------------- block codes


def test_block_code_values_from_the_tour():
    p = [0.9, 1 / 30, 1 / 30, 1 / 30]
    got = [round(info.bits_per_symbol(p, n), 3) for n in (1, 2, 3, 4, 5)]
    assert got == [1.167, 0.786, 0.687, 0.649, 0.637]


@settings(max_examples=20, deadline=None)
@given(probabilities, st.integers(1, 4))
def test_block_bits_per_symbol_within_one_over_n_of_entropy(p, n):
    h = info.entropy(p)
    bits = info.bits_per_symbol(p, n)
    assert h - 1e-12 <= bits < h + 1 / n
    assert bits <= info.bits_per_symbol(p, 1) + 1e-12


def test_block_probabilities_and_code_shapes():
    blocks = info.block_probabilities({"a": 0.5, "b": 0.5}, 3)
    assert len(blocks) == 8 and blocks[("a", "b", "a")] == 0.125
    code = info.block_code({"a": 0.5, "b": 0.5}, 3)
    assert set(code) == set(blocks) and all(len(w) == 3 for w in code.values())
