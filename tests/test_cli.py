"""Tests of the `losslab` command through click's CliRunner."""

from __future__ import annotations

import runpy
import sys

import pytest
from click.testing import CliRunner

from losslab import tour
from losslab.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _assert_clean_error(result, *, fragment: str, code: int | None = None):
    """A bad argument: non-zero exit, a clear message, no traceback."""
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    assert fragment in result.output, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, (ValueError, TypeError)), result.exception


# ---------------------------------------------------------------- losslab entropy


def test_entropy_prints_code_and_lengths():
    result = _run("entropy", "0.5", "0.25", "1/8", "1/8")
    assert result.exit_code == 0, result.output
    assert "1.75" in result.output
    for word in ("0", "10", "110", "111"):
        assert f" {word} " in result.output


def test_entropy_vs_gives_cross_entropy_and_kl():
    result = _run("entropy", "1/8", "1/8", "1/4", "1/2", "--vs", "0.5", "0.25", "0.125", "0.125")
    assert result.exit_code == 0, result.output
    assert "cross-entropy H(P, Q)" in result.output and "2.625" in result.output
    assert "KL(P || Q)" in result.output and "0.875" in result.output


def test_entropy_block_option_reaches_the_issue_values():
    result = _run("entropy", "0.9", "1/30", "1/30", "1/30", "--block", "5")
    assert result.exit_code == 0, result.output
    for value in ("0.627492", "1.16667", "0.786111", "0.687272", "0.649135", "0.636529"):
        assert value in result.output


def test_entropy_named_symbols_and_certainty():
    result = _run("entropy", "sun=1", "rain=0", "--vs", "rain=0.5", "sun=0.5")
    assert result.exit_code == 0, result.output
    assert "sun" in result.output and "(empty: certain)" in result.output
    assert "never occurs" in result.output


def test_entropy_vs_with_a_zero_where_p_is_positive_is_inf():
    result = _run("entropy", "0.5", "0.5", "--vs", "1", "0")
    assert result.exit_code == 0, result.output
    assert "inf" in result.output


@pytest.mark.parametrize(
    "args, fragment, code",
    [
        (["entropy"], "give the probabilities P", 1),
        (["entropy", "0.5", "0.6"], "P must sum to 1", 1),
        (["entropy", "-0.5", "1.5"], "P must hold probabilities >= 0", 1),
        (["entropy", "0.5", "abc"], "'abc' is not a probability", 1),
        (["entropy", "1/0"], "'1/0' is not a probability", 1),
        (["entropy", "0.5", "0.5", "--vs"], "--vs needs the probabilities Q", 1),
        (["entropy", "0.5", "0.5", "--vs", "0.3", "0.3"], "Q must sum to 1", 1),
        (["entropy", "0.5", "0.5", "--vs", "1"], "Q must have as many", 1),
        (["entropy", "0.5", "0.5", "--vs", "0.5", "0.5", "--vs", "1", "0"], "once", 1),
        (["entropy", "a=0.5", "0.5"], "name every symbol once", 1),
        (["entropy", "a=0.5", "b=0.5", "--vs", "a=0.5", "c=0.5"], "same symbols", 1),
        (["entropy", "0.5", "0.5", "--bogus"], "no such option: --bogus", 1),
        (["entropy", "0.5", "0.5", "--block", "0"], "--block", 2),
        (["entropy", "0.5", "0.5", "--block", "x"], "--block", 2),
        (["entropy", "0.25", "0.25", "0.25", "0.25", "--block", "9"], "4^9 blocks", 1),
    ],
)
def test_entropy_bad_arguments_are_one_clear_error(args, fragment, code):
    _assert_clean_error(_run(*args), fragment=fragment, code=code)


# ---------------------------------------------------------------- losslab tour


def test_tour_runs_and_flags_the_misquoted_entropy(tmp_path, monkeypatch):
    # One plot is enough to test the command's path; test_tour.py draws them all.
    monkeypatch.setattr(tour, "PLOTS", {"focal.png": tour.PLOTS["focal.png"]})
    out = tmp_path / "plots"
    result = _run("tour", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Message lengths" in result.output and "Focal loss" in result.output
    assert "DIFFERS" in result.output and "1 disagreeing" in result.output
    assert "plots written" in result.output and "focal.png" in result.output
    assert [p.name for p in out.glob("*.png")] == ["focal.png"]


def test_tour_without_out_draws_nothing():
    result = _run("tour")
    assert result.exit_code == 0, result.output
    assert "Add --out DIR" in result.output


def test_tour_out_that_is_a_file_is_a_clean_error(tmp_path):
    file = tmp_path / "taken"
    file.write_text("x")
    _assert_clean_error(_run("tour", "--out", str(file)), fragment="--out", code=2)


def test_tour_out_that_cannot_be_created_is_a_clean_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _run("tour", "--out", str(blocker / "sub"))
    _assert_clean_error(result, fragment="cannot write the plots", code=1)


def test_python_dash_m_losslab_runs_the_command(monkeypatch, capsys):
    # What `python -m losslab entropy 0.5 0.5` runs, in this process (a new interpreter
    # would spend most of the test importing torch).
    monkeypatch.setattr(sys, "argv", ["losslab", "entropy", "0.5", "0.5"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("losslab", run_name="__main__")
    assert exit_info.value.code == 0
    assert "entropy H(P)" in capsys.readouterr().out
