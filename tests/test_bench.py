"""Tests of `losslab bench`: data builders, a seconds-long run of each suite, determinism,
the findings rule, the Durand et al. loss, every bad-file case and the CLI."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import losslab
from losslab.bench import data as D
from losslab.bench import report
from losslab.bench.run import SuiteResult, run_suite
from losslab.bench.suites import DEFAULT_SUITES, SUITES, durand_bce
from losslab.cli import _BENCH_DEFAULT, _BENCH_SUITES, main

# Small builds, so that a smoke run of a suite takes a second or two.
SMALL = {
    "binary": D.binary_imbalanced,
    "multiclass": D.multiclass,
    "multilabel": functools.partial(D.multilabel, n_train=300, n_test=200),
    "partial": functools.partial(D.partial_labels, n_train=300, n_test=200),
    "dense": functools.partial(D.dense_detection, n_train=64, n_test=32),
}


def small(name: str):
    return dataclasses.replace(SUITES[name], build=SMALL[name])


# ------------------------------------------------------------------------- data builders


def test_binary_is_imbalanced_at_two_percent_in_training_only():
    d = D.binary_imbalanced(0)
    y = d.train_targets["default"]
    assert d.x_train.shape == (len(y), 64) and y.shape == (len(y), 1)
    assert 0.015 < float(y.mean()) < 0.025, "training positives should be about 2%"
    assert 0.08 < float(d.y_test.mean()) < 0.12, "test keeps the digit's natural rate"
    assert set(torch.unique(y).tolist()) == {0.0, 1.0}
    assert 0.0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1.0


def test_multiclass_has_every_digit():
    d = D.multiclass(0)
    y = d.train_targets["default"]
    assert d.x_train.shape == (len(y), 64) and y.dtype == torch.int64
    assert torch.bincount(y).min() > 100 and len(torch.bincount(y)) == 10
    assert len(y) + len(d.y_test) == 1797


def test_multilabel_images_hold_one_to_four_distinct_digits():
    d = D.multilabel(1, n_train=400, n_test=100)
    y = d.train_targets["default"]
    assert d.x_train.shape == (400, 256) and y.shape == (400, 10)
    counts = y.sum(1)
    assert counts.min() == 1 and counts.max() == 4
    # Each label is one occupied 8x8 cell of the 2x2 grid.
    cells = d.x_train.view(400, 2, 8, 2, 8).abs().sum((2, 4)) > 0
    assert torch.equal(cells.sum((1, 2)).float(), counts)


def test_partial_labels_hide_the_asked_share_nested():
    d = D.partial_labels(0, n_train=1000, n_test=100)
    previous = None
    for r in D.HIDDEN_RATES:
        t, t0 = d.train_targets[D.hidden_key(r)], d.train_targets[D.hidden_key(r, as_negative=True)]
        hidden = t < 0
        assert abs(float(hidden.float().mean()) - r) < 0.02
        assert torch.all(t0[hidden] == 0) and torch.equal(t0[~hidden], t[~hidden])
        if previous is not None:
            assert torch.all(hidden[previous]), "what is hidden at a lower rate stays hidden"
        previous = hidden
    assert torch.all(d.y_test >= 0), "test labels stay complete"


def test_dense_positives_are_rare_and_sit_on_their_digit():
    d = D.dense_detection(0, n_train=200, n_test=20)
    y = d.train_targets["default"]
    assert d.x_train.shape == (200, 1, 48, 48) and y.shape == (200, 10, 12, 12)
    per_image = y.sum((1, 2, 3))
    assert per_image.min() >= 1 and per_image.max() <= 2
    assert float(y.mean()) < 1.5e-3, "about 1 positive in 1,000 outputs or rarer"
    n, c, i, j = torch.nonzero(y)[0].tolist()
    # The digit's 8x8 box is centred in cell (i, j): its pixels start at 4i - 2.
    box = d.x_train[n, 0, 4 * i - 2 : 4 * i + 6, 4 * j - 2 : 4 * j + 6]
    assert float(box.sum()) > 5


# ------------------------------------------------------------------------- suites


@pytest.mark.parametrize("name", list(SMALL))
def test_each_suite_runs_in_seconds(name):
    r = run_suite(small(name), seeds=[0], epochs=1)
    assert r.rows and not r.missing
    for row in r.rows:
        for metric, values in r.values[row].items():
            assert len(values) == 1 and metric in r.higher
            if not r.diverged.get(row):
                assert math.isfinite(values[0]), (row, metric)
    assert report.findings(r)


def test_all_suites_are_selectable_from_the_cli():
    assert set(_BENCH_SUITES) == set(SUITES)
    assert _BENCH_DEFAULT == DEFAULT_SUITES


def test_dense_sgd_runs_and_reports_the_retinanet_check():
    s = dataclasses.replace(SUITES["dense-sgd"], build=SMALL["dense"])
    r = run_suite(s, seeds=[0, 1], epochs=1, losses=["bce", "focal-2"])
    text = " ".join(report.findings(r))
    assert r.optimizer == "sgd" and "Here (SGD)" in text


def test_same_seed_gives_the_same_numbers():
    s = small("binary")
    a = run_suite(s, seeds=[3], epochs=2, losses=["bce", "focal-2"])
    b = run_suite(s, seeds=[3], epochs=2, losses=["bce", "focal-2"])
    c = run_suite(s, seeds=[4], epochs=2, losses=["bce", "focal-2"])
    assert a.values == b.values and a.curves == b.curves
    assert a.values != c.values


def test_members_train_as_if_alone():
    """A loss's numbers do not depend on which other losses train beside it."""
    s = small("multilabel")
    together = run_suite(s, seeds=[0], epochs=1, losses=["bce", "asl", "soft-f1"])
    alone = run_suite(s, seeds=[0], epochs=1, losses=["asl"])
    assert together.values["asl"]["macro mAP"] == pytest.approx(
        alone.values["asl"]["macro mAP"], abs=1e-6
    )


# ------------------------------------------------------------------------- findings


def _result(values: dict[str, list[float]]) -> SuiteResult:
    n = len(next(iter(values.values())))
    return SuiteResult(
        name="t",
        title="t",
        rows=list(values),
        metrics=["AP"],
        higher={"AP": True},
        primary=["AP"],
        seeds=list(range(n)),
        epochs=1,
        values={r: {"AP": v} for r, v in values.items()},
    )


def test_finding_says_no_significant_difference_when_the_spread_says_so():
    r = _result({"a": [0.80, 0.90, 0.70], "b": [0.81, 0.85, 0.76]})
    assert "no significant difference" in report.finding(r, "AP")
    assert report.best_row(r, "AP") == "b"


def test_finding_names_a_clear_winner():
    r = _result({"a": [0.90, 0.80, 0.85], "b": [0.70, 0.62, 0.66], "c": [0.5, 0.43, 0.41]})
    assert "significantly better than every other" in report.finding(r, "AP")


def test_finding_with_one_seed_makes_no_claim():
    assert "one seed" in report.finding(_result({"a": [0.9], "b": [0.8]}), "AP")


def test_diverged_seeds_are_left_out_of_mean_and_test():
    assert report.mean_std([1.0, math.nan, 3.0]) == (2.0, pytest.approx(math.sqrt(2)), 2)
    assert report.mean_std([math.nan]) == (math.nan, math.nan, 0) or math.isnan(
        report.mean_std([math.nan])[0]
    )
    assert math.isnan(report.paired_p([1.0, math.nan], [2.0, 3.0]))


# ------------------------------------------------------------------------- Durand et al.


def test_durand_bce_is_mean_bce_when_every_label_is_known():
    x = torch.randn(6, 5, dtype=torch.float64)
    t = torch.randint(0, 2, (6, 5)).double()
    assert torch.allclose(durand_bce(x, t), losslab.binary_cross_entropy(x, t))


def test_durand_bce_scales_the_known_labels_by_g_of_their_share():
    x = torch.randn(2, 10, dtype=torch.float64)
    t = torch.randint(0, 2, (2, 10)).double()
    t[0, :9] = -1  # image 0 knows 1 of 10 labels: g(0.1) = -4.45 * 0.1 + 5.45 = 5.005
    per = losslab.binary_cross_entropy(x, t, reduction="none")
    expected = (5.005 * per[0].sum() / 10 + 1.0 * per[1].sum() / 10) / 2
    assert torch.allclose(durand_bce(x, t), expected)


# ------------------------------------------------------------------------- CLI


def _invoke(*args):
    result = CliRunner().invoke(main, ["bench", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_cli_list_shows_suites_and_losses():
    out = _invoke("--list").output
    for name in SUITES:
        assert name in out
    assert "focal-2+prior" in out and "durand-bce" in out


def test_cli_runs_a_selection_and_writes_the_report(tmp_path):
    result = _invoke(
        "--suite",
        "binary",
        "--losses",
        "bce,asl",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert "bce+prior" in result.output and "AP" in result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.md", "results.json", "binary-metrics.png", "binary-curves.png"} <= names
    text = (tmp_path / "report.md").read_text()
    assert "| asl+prior |" in text and "**" in text


def test_cli_unknown_loss_is_a_one_line_error():
    result = _invoke("--suite", "binary", "--losses", "hinge", "--epochs", "1")
    assert result.exit_code != 0
    assert result.output.startswith("Error: unknown loss 'hinge'")
    assert "Traceback" not in result.output


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    ("task", "y"),
    [
        ("binary", lambda rng: rng.integers(0, 2, 120)),
        ("multiclass", lambda rng: np.arange(120) % 3),
        ("multi-label", lambda rng: rng.choice([-1, 0, 1], size=(120, 4), p=[0.2, 0.4, 0.4])),
    ],
)
def test_cli_trains_on_user_data_and_says_the_task(tmp_path, task, y):
    rng = np.random.default_rng(0)
    path = _npz(tmp_path / "d.npz", X=rng.normal(size=(120, 6)), y=y(rng))
    result = _invoke("--data", path, "--seeds", "1", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert f"task inferred: {task}" in result.output


X_OK = np.zeros((20, 3))
Y_OK = np.arange(20) % 2
BAD_FILES = {
    "missing X": ({"y": Y_OK}, "missing array `X`"),
    "missing y": ({"X": X_OK}, "missing array `y`"),
    "X 1-d": ({"X": np.zeros(20), "y": Y_OK}, "`X` must be 2-d"),
    "X text": ({"X": np.full((20, 3), "a"), "y": Y_OK}, "`X` must be numeric"),
    "X NaN": ({"X": np.where(np.eye(20, 3) > 0, np.nan, 0.0), "y": Y_OK}, "NaN or infinite"),
    "y length": ({"X": X_OK, "y": np.zeros(19, dtype=int)}, "`y` must be (n,) classes"),
    "y float classes": ({"X": X_OK, "y": Y_OK.astype(float)}, "integer classes"),
    "y 3-d": ({"X": X_OK, "y": np.zeros((20, 2, 2))}, "`y` must be (n,) classes"),
    "negative class": ({"X": X_OK, "y": Y_OK - 1}, "classes in `y` must be 0, 1"),
    "class without examples": ({"X": X_OK, "y": Y_OK * 2}, "class 1 has no examples"),
    "single class": ({"X": X_OK, "y": np.zeros(20, dtype=int)}, "a single class"),
    "class with one example": ({"X": X_OK, "y": np.r_[Y_OK[:19], 2]}, "class 2 has 1 example"),
    "multi-hot value": ({"X": X_OK, "y": np.full((20, 3), 2)}, "must hold 1, 0 or -1"),
    "label without positive": (
        {"X": X_OK, "y": np.c_[np.ones(20), np.zeros(20)]},
        "class 1 (column of `y`) has no positive",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_cli_bad_file_is_a_one_line_error(tmp_path, case):
    arrays, message = BAD_FILES[case]
    result = _invoke("--data", _npz(tmp_path / "bad.npz", **arrays))
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error:")


@pytest.mark.parametrize("case", ["no file", "not an archive", "npy", "object array"])
def test_cli_unreadable_file_is_a_one_line_error(tmp_path, case):
    path = tmp_path / "f.npz"
    if case == "not an archive":
        path.write_text("X,y\n1,2\n")
    elif case == "npy":
        path = tmp_path / "f.npy"
        np.save(path, X_OK)
    elif case == "object array":
        np.savez(path, X=np.array([{"a": 1}] * 20, dtype=object), y=Y_OK)
    result = _invoke("--data", str(path))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error:") and result.output.count("\n") == 1, result.output
    if case == "not an archive":
        assert "not an .npz archive" in result.output
