"""Tests of the tour's numbers (computed by losslab), its rendering and its plots."""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

from losslab import tour


@pytest.fixture(scope="module")
def walk():
    return {step.key: step for step in tour.steps()}


def _values(step):
    return {v.label: v for v in step.values}


# Every value of the issue: (step key, label, the value it must compute, tolerance).
EXPECTED = [
    ("message-lengths", "fixed 2-bit code", 2.0, 0),
    ("message-lengths", "code 0, 10, 110, 111", 1.75, 0),
    ("message-lengths", "entropy H(p)", 1.75, 0),
    ("cross-entropy", "his code on her words", 2.625, 0),
    ("cross-entropy", "cross-entropy H(q, p)", 2.625, 0),
    ("cross-entropy", "her own Huffman code", 1.75, 0),
    ("cross-entropy", "KL(q || p)", 0.875, 0),
    ("minus-sign", "cross-entropy -sum p log2 q", 0.853958, 1e-6),
    ("certainty", "entropy of [1, 0, 0, 0]", 0.0, 0),
    ("certainty", "entropy of four equal words", 2.0, 0),
    ("block-codes", "code 0, 10, 110, 111", 7 / 6, 1e-15),
    ("block-codes", "entropy H(p)", 0.627492, 1e-6),
    ("block-codes", "Huffman over blocks of 2", 0.786111, 1e-6),
    ("block-codes", "Huffman over blocks of 3", 0.687272, 1e-6),
    ("block-codes", "Huffman over blocks of 4", 0.649135, 1e-6),
    ("block-codes", "Huffman over blocks of 5", 0.636529, 1e-6),
    ("regression", "MAE at 150", 50.0, 0),
    ("regression", "MSE at 150", 2500.0, 0),
    ("regression", "MAE gradient size at 150", 1.0, 0),
    ("regression", "MAE gradient size at 101", 1.0, 0),
    ("regression", "MSE gradient at 150", 100.0, 0),
    ("regression", "MSE gradient at 101", 2.0, 0),
    ("sigmoid-softmax", "logit of 0.8 = ln 4", math.log(4), 1e-15),
    ("sigmoid-softmax", "sigmoid(logit(0.8)) = e^-BCE", 0.8, 1e-15),
    ("sigmoid-softmax", "softmax [2, 1, 0.1], class 1", 0.659001, 1e-6),
    ("categorical", "categorical CE = -ln 0.7", -math.log(0.7), 1e-15),
    ("categorical", "sum of per-class BCE", -math.log(0.7 * 0.9 * 0.8), 1e-15),
    ("masking", "mean BCE over the known labels", 0.134806, 1e-6),
    ("masking", "loss at the unknown label", 0.0, 0),
    ("multilabel-softmax", "target of label 1", 1 / 3, 1e-15),
    ("multilabel-softmax", "target of label 5", 1 / 3, 1e-15),
    ("multilabel-softmax", "target of label 6", 1 / 3, 1e-15),
    ("multilabel-softmax", "target of the five others, summed", 0.0, 1e-15),
    ("focal", "factor p^2 of a negative at p = 0.01", 1e-4, 1e-15),
    ("focal", "factor p^5 of a negative at p = 0.99", 0.99**5, 1e-14),
    ("focal", "CE / focal at p_t = 0.9, gamma = 2", 100.0, 1e-10),
    ("prior", "bias for prior 0.01", -4.595120, 1e-6),
    ("prior", "mean BCE per anchor, bias 0", math.log(2), 1e-12),
    (
        "prior",
        "mean BCE per anchor, prior bias",
        (99_990 * -math.log(0.99) + 10 * -math.log(0.01)) / 100_000,
        1e-12,
    ),
    ("distributions", "binomial: P(4 customers of 8 hours)", 70 / 256, 1e-14),
    ("distributions", "Poisson: visitors per day", 10_000 / 365, 1e-12),
    ("distributions", "exponential: mean wait", 52.56, 1e-9),
    ("distributions", "exponential: P(no visitor in an hour)", math.exp(-10_000 / 8760), 1e-12),
    ("distributions", "Gaussian: within 1 sigma", 68.2689, 1e-4),
    ("distributions", "Gaussian: within 2 sigma", 95.4500, 1e-4),
    ("distributions", "Gaussian: outside 6 sigma", 1.97318, 1e-5),
    ("distributions", "Gaussian: extra -log-lik. at 1 sigma = MSE / 2", 0.5, 0),
]


@pytest.mark.parametrize("key, label, expected, tol", EXPECTED, ids=[e[1] for e in EXPECTED])
def test_step_values(walk, key, label, expected, tol):
    value = _values(walk[key])[label]
    assert value.computed == pytest.approx(expected, abs=tol, rel=0), f"{key}: {label}"


def test_only_the_misquoted_entropy_disagrees(walk):
    disagreeing = [(s.key, v.label) for s in walk.values() for v in s.values if v.agree is False]
    assert disagreeing == [("block-codes", "entropy, as sometimes quoted")]
    flagged = _values(walk["block-codes"])["entropy, as sometimes quoted"]
    assert flagged.quoted == "0.67" and flagged.computed == pytest.approx(0.6275, abs=1e-4)
    assert not walk["block-codes"].agree
    assert all(s.agree for k, s in walk.items() if k != "block-codes")


def test_claims_about_the_textbook_code_and_convexity(walk):
    assert _values(walk["message-lengths"])["Huffman code is 0, 10, 110, 111"].computed is True
    convex = _values(walk["convexity"])
    assert convex["cross-entropy convex in w"].computed is True
    assert convex["MSE on sigmoid convex in w"].computed is False
    assert convex["least curvature, MSE on sigmoid"].computed < 0


def test_poisson_is_the_limit_of_the_binomial(walk):
    v = _values(walk["distributions"])
    poisson = v["Poisson: P(30 visitors in a day)"].computed
    binomial = v["binomial per minute: P(30 in a day)"].computed
    assert binomial == pytest.approx(poisson, rel=0.01)


def test_focal_loss_curves_fall_with_gamma():
    c = tour.focal_curves()
    easy = c["p_t"] > 0.5
    for lower, higher in zip(tour.FOCAL_GAMMAS, tour.FOCAL_GAMMAS[1:], strict=False):
        assert (c[f"gamma={higher:g}"][easy] <= c[f"gamma={lower:g}"][easy]).all()


@pytest.mark.parametrize(
    "quoted, computed, agree",
    [
        ("0.67", 0.6275, False),
        ("0.627", 0.6275, True),
        ("2", 1.97, True),
        ("1e-4", 1.4e-4, True),
        ("1e-4", 1.6e-4, False),
        (True, True, True),
        (None, 3.0, None),
    ],
)
def test_agreement_rounds_to_the_quoted_digits(quoted, computed, agree):
    assert tour.Value("x", computed, quoted).agree is agree


def test_render_prints_tables_and_flags_the_disagreement(walk):
    buffer = io.StringIO()
    count = tour.render(list(walk.values()), Console(file=buffer, width=120))
    text = buffer.getvalue()
    assert count == 1
    assert "DIFFERS" in text and "0.67" in text and "0.6274918" in text
    assert "Focal loss" in text and "0.1348" in text


def test_save_plots_writes_pngs(tmp_path):
    paths = tour.save_plots(tmp_path / "plots")
    assert sorted(p.name for p in paths) == sorted(tour.PLOTS)
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
