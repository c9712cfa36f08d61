"""The `losslab` command (`python -m losslab` runs it too).

Each subcommand is a thin shell over the public API: it parses arguments, calls the
library and reports. Bad arguments end in a one-line error and exit code 2 (click's
usage errors) or 1 (`click.ClickException`), never a traceback.
"""

from __future__ import annotations

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="losslab")
def main() -> None:
    """losslab: choose, compute and compare the loss that trains the best model."""


# Subcommands are added below, one section each.


# ---------------------------------------------------------------- losslab entropy


def _parse_probabilities(tokens: list[str], name: str) -> tuple[list[str] | None, list[float]]:
    """Read "0.25", "1/8" or "a=0.5" tokens; return (symbol names or None, probabilities)."""
    from fractions import Fraction

    names, probs = [], []
    for token in tokens:
        label, sep, number = token.rpartition("=")
        try:
            probs.append(float(Fraction(number)))
        except (ValueError, ZeroDivisionError):
            raise click.ClickException(
                f"{name} value {token!r} is not a probability (write 0.25, 1/4 or a=0.25)"
            ) from None
        names.append(label if sep else None)
    if all(n is None for n in names):
        return None, probs
    if any(n is None for n in names) or len(set(names)) != len(names):
        raise click.ClickException(f"{name}: name every symbol once (a=0.5 b=0.5) or none")
    return names, probs


def _split_vs(values: tuple[str, ...]) -> tuple[list[str], list[str] | None]:
    """Split `P... --vs Q...` into the two lists of tokens."""
    tokens = list(values)
    if tokens.count("--vs") > 1:
        raise click.ClickException("--vs may be given once")
    if "--vs" not in tokens:
        p, q = tokens, None
    else:
        at = tokens.index("--vs")
        p, q = tokens[:at], tokens[at + 1 :]
        if not q:
            raise click.ClickException("--vs needs the probabilities Q after it")
    unknown = [t for t in p + (q or []) if t.startswith("--")]
    if unknown:
        raise click.ClickException(f"no such option: {unknown[0]}")
    if not p:
        raise click.ClickException(
            "give the probabilities P, for example: losslab entropy 0.5 0.25 1/8 1/8"
        )
    return p, q


@main.command(
    "entropy",
    context_settings={"ignore_unknown_options": True},
    short_help="Entropy, Huffman code, and with --vs cross-entropy and KL, in bits.",
)
@click.argument("values", nargs=-1, type=click.UNPROCESSED, metavar="P... [--vs Q...]")
@click.option(
    "--block",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Also code blocks of 1..N words and show the bits per word.",
)
def entropy_command(values: tuple[str, ...], block: int | None) -> None:
    """Entropy of the distribution P, its Huffman code and average length, in bits.

    P is a list of probabilities summing to 1, as decimals or fractions (0.9 1/30 1/30
    1/30), optionally named (a=0.5 b=0.5). With --vs Q... (same symbols, same order) it
    adds the cross-entropy H(P, Q), the KL divergence KL(P || Q) and the cost of coding
    P's words with Q's Huffman code.
    """
    import math

    from rich.console import Console
    from rich.table import Table

    from . import info

    p_tokens, q_tokens = _split_vs(values)
    names, p = _parse_probabilities(p_tokens, "P")
    q = None
    if q_tokens is not None:
        q_names, q = _parse_probabilities(q_tokens, "Q")
        if len(q) != len(p):
            raise click.ClickException(
                f"Q must have as many probabilities as P ({len(p)}), got {len(q)}"
            )
        if (q_names is None) != (names is None) or set(q_names or ()) != set(names or ()):
            raise click.ClickException("Q must name the same symbols as P, or neither names any")
        if names is not None:
            q = [dict(zip(q_names, q, strict=True))[n] for n in names]
    symbols = names if names is not None else [str(i + 1) for i in range(len(p))]
    if block is not None and len(p) ** block > info.MAX_BLOCKS:
        raise click.ClickException(
            f"--block {block} makes {len(p)}^{block} blocks, more than the "
            f"{info.MAX_BLOCKS} a code is built for"
        )

    try:
        code = info.huffman_code(p)
        results = [
            ("entropy H(P)", info.entropy(p)),
            ("Huffman average length", info.average_length(code, p)),
        ]
        if q is not None:
            # cross_entropy checks Q under its own name before huffman_code sees it as `p`.
            results += [
                ("cross-entropy H(P, Q)", info.cross_entropy(p, q)),
                ("KL(P || Q)", info.kl_divergence(p, q)),
            ]
            q_code = info.huffman_code(q)
            # Q's code has no codeword for a word Q deems impossible: coding P with it fails.
            coverable = all(i in q_code for i, pi in enumerate(p) if pi > 0)
            cost = info.average_length(q_code, p) if coverable else math.inf
            results.append(("P coded with Q's Huffman code", cost))
        blocks = [(n, info.bits_per_symbol(p, n)) for n in range(1, (block or 0) + 1)]
    except (ValueError, TypeError) as error:
        # The library names its arguments p and q; here they are P and Q.
        message = str(error).replace("`p`", "P").replace("`q`", "Q")
        raise click.ClickException(message) from None

    console = Console()
    table = Table(title="Huffman code of P", title_justify="left")
    table.add_column("symbol")
    table.add_column("P", justify="right")
    if q is not None:
        table.add_column("Q", justify="right")
    table.add_column("codeword")
    table.add_column("bits", justify="right")
    for i, symbol in enumerate(symbols):
        word = code.get(i)
        row = [symbol, f"{p[i]:.6g}"] + ([f"{q[i]:.6g}"] if q is not None else [])
        if word is None:
            row += ["(none: never occurs)", "-"]
        else:
            row += [word or "(empty: certain)", str(len(word))]
        table.add_row(*row)
    console.print(table)

    summary = Table(show_header=False, title="in bits per word", title_justify="left")
    for label, value in results:
        summary.add_row(label, f"{value:.6g}")
    console.print(summary)

    if blocks:
        h = results[0][1]
        table = Table(title="Huffman code over blocks of n words", title_justify="left")
        for column in ("n", "blocks", "bits per word", "bound H + 1/n"):
            table.add_column(column, justify="right")
        for n, bits in blocks:
            table.add_row(str(n), str(len(p) ** n), f"{bits:.6g}", f"{h + 1 / n:.6g}")
        console.print(table)


# ---------------------------------------------------------------- losslab tour


@main.command("tour", short_help="A guided walk from message lengths to focal loss.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, dir_okay=True, writable=True),
    default=None,
    metavar="DIR",
    help="Write the tour's plots to DIR as PNG files (created if missing).",
)
def tour_command(out: str | None) -> None:
    """A guided walk from message lengths to focal loss.

    Each step computes its numbers with losslab and prints them beside the value commonly
    quoted for them, flagging any disagreement. With --out DIR the plots go to DIR.
    """
    from pathlib import Path

    from rich.console import Console

    from . import tour

    if out is not None:
        # Make the folder first, so that a bad --out fails before the walk is printed.
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise click.ClickException(f"cannot write the plots to {out}: {error}") from None

    console = Console()
    tour.render(tour.steps(), console)
    if out is None:
        console.print("Add --out DIR to draw the plots as PNG files.")
        return
    try:
        paths = tour.save_plots(out)
    except OSError as error:
        raise click.ClickException(f"cannot write the plots to {out}: {error}") from None
    console.print(f"plots written to {out}: " + ", ".join(p.name for p in paths))


# ---------------------------------------------------------------- losslab bench

# The default five, then extras that run only when named (kept in step with bench.suites).
_BENCH_SUITES = ("binary", "multiclass", "multilabel", "partial", "dense", "dense-sgd")
_BENCH_DEFAULT = _BENCH_SUITES[:5]


@main.command("bench", short_help="Train small models with each loss and show which wins.")
@click.option(
    "--suite",
    "suites",
    multiple=True,
    type=click.Choice(_BENCH_SUITES),
    help="Run this suite (repeatable); default: all five.",
)
@click.option(
    "--losses",
    default=None,
    metavar="A,B,C",
    help="Only these losses (row names, or loss names without +prior).",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Seeds per suite (default: the suite's quick or full budget).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Epochs per training run (default: the suite's budget).",
)
@click.option(
    "--seed",
    "base_seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="First seed; runs use seeds SEED, SEED+1, ...",
)
@click.option("--full", is_flag=True, help="More seeds and epochs (minutes longer).")
@click.option(
    "--data",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE.npz",
    help="Your own data: arrays X (n, d) and y, (n,) classes or (n, C) multi-hot "
    "with -1 for unknown.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, writable=True),
    default=None,
    metavar="DIR",
    help="Write report.md, results.json and PNG plots to DIR.",
)
@click.option("--list", "list_only", is_flag=True, help="List the suites and their losses.")
def bench_command(suites, losses, seeds, epochs, base_seed, full, data, out, list_only) -> None:
    """Train small models with each candidate loss and report which wins.

    The default (quick) run trains on scikit-learn's handwritten digits in five suites:
    binary imbalanced, multiclass, multi-label, partial labels and dense detection, and
    prints mean ± std over seeds with a one-line finding per suite. --data FILE.npz
    trains on your own data instead.
    """
    import sys
    from pathlib import Path

    from rich.console import Console

    from .bench import console as bench_console
    from .bench.suites import SUITES
    from .bench.userdata import UserDataError

    console = Console()
    if list_only:
        bench_console.list_suites(console)
        return
    if data is not None and suites:
        raise click.UsageError("--data and --suite cannot be combined: --data is its own suite")
    names = [s.strip() for s in losses.split(",") if s.strip()] if losses is not None else None
    if names is not None and not names:
        raise click.BadParameter("give at least one loss name", param_hint="--losses")
    if out is not None:
        # Make the folder first, so that a bad --out fails before minutes of training.
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise click.ClickException(f"cannot write to {out}: {error}") from None
    try:
        if data is not None:
            selected = [bench_console.user_suite(console, Path(data))]
        else:
            selected = [SUITES[s] for s in (suites or _BENCH_DEFAULT)]
        bench_console.bench(
            console,
            suites=selected,
            losses=names,
            seeds=seeds,
            epochs=epochs,
            full=full,
            base_seed=base_seed,
            out=Path(out) if out is not None else None,
            command="losslab " + " ".join(sys.argv[1:])
            if sys.argv[1:2] == ["bench"]
            else "losslab bench",
        )
    except (UserDataError, bench_console.BenchError) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot write to {out}: {error}") from None
