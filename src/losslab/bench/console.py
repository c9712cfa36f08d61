"""What `losslab bench` shows: rich progress bars while it trains, a table per suite.

The CLI (`losslab.cli`) parses arguments and calls `list_suites` or `bench`; everything
that reports lives here, so that the library modules of `losslab.bench` never print.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import report
from .run import SuiteResult, base_name, run_suite, select
from .suites import SUITES, Suite


class BenchError(ValueError):
    """A bad selection (unknown loss, nothing left to run), said in one line."""


def candidate_names(suite: Suite, seed: int = 0) -> list[str]:
    """The row names of `suite` (its candidate losses as built for `seed`)."""
    names = []
    for c in suite.candidates(suite.build(seed)):
        if c.name not in names:
            names.append(c.name)
    return names


def list_suites(console: Console) -> None:
    """Print every suite with its title, budgets and losses."""
    table = Table(title="losslab bench: suites and losses", show_lines=True)
    table.add_column("suite")
    table.add_column("what it trains")
    table.add_column("losses (--losses takes these, or their names without +prior)")
    for s in SUITES.values():
        budget = (
            f"quick {s.quick.seeds} seeds x {s.quick.epochs} epochs; "
            f"full {s.full.seeds} x {s.full.epochs}"
        )
        table.add_row(s.name, f"{s.title}\n[dim]{budget}[/dim]", ", ".join(candidate_names(s)))
    console.print(table)


def _check_losses(suites: list[Suite], losses: list[str] | None, seed: int) -> None:
    if losses is None:
        return
    known = {}
    for s in suites:
        for name in candidate_names(s, seed):
            known[name] = s
            known[base_name(name)] = s
    unknown = [name for name in losses if name not in known]
    if unknown:
        raise BenchError(
            f"unknown loss {unknown[0]!r} for suite(s) {', '.join(s.name for s in suites)}; "
            f"choose from {', '.join(sorted(known))}"
        )


def rich_table(r: SuiteResult) -> Table:
    """The suite's table: mean ± std over seeds, best mean per column in bold green."""
    metrics = [m for m in r.metrics if any(m in r.values[row] for row in r.rows)]
    best = {m: report.best_row(r, m) for m in metrics}
    table = Table(title=f"{r.title} (--suite {r.name})", title_justify="left")
    table.add_column("loss")
    for m in metrics:
        table.add_column(f"{m} {'↑' if r.higher[m] else '↓'}", justify="right")
    for row in r.rows:
        cells = []
        for m in metrics:
            mean, std, n = report.mean_std(r.values[row].get(m, []))
            text = "diverged" if n == 0 else (f"{mean:.3f} ± {std:.3f}" if n > 1 else f"{mean:.3f}")
            cells.append(f"[bold green]{text}[/bold green]" if best[m] == row else text)
        table.add_row(row, *cells)
    return table


def _print_result(console: Console, r: SuiteResult) -> None:
    console.print(rich_table(r))
    facts = ", ".join(f"{k} {v}" for k, v in r.info.items() if not isinstance(v, dict))
    console.print(
        f"[dim]{facts}; {len(r.seeds)} seeds x {r.epochs} epochs, {r.seconds:.1f} s[/dim]"
    )
    if r.missing:
        console.print(f"[yellow]not available in this losslab: {', '.join(r.missing)}[/yellow]")
    for line in report.findings(r):
        console.print(f"  • {line}")
    console.print()


def bench(
    console: Console,
    *,
    suites: list[Suite],
    losses: list[str] | None,
    seeds: int | None,
    epochs: int | None,
    full: bool,
    base_seed: int,
    out: Path | None,
    command: str,
) -> list[SuiteResult]:
    """Run the suites with progress bars, print their tables and findings, write `out`.

    Raises:
        BenchError: an unknown loss name, or a selection that leaves a suite empty.
    """
    _check_losses(suites, losses, base_seed)
    start = time.perf_counter()
    results = []
    plans = []
    for s in suites:
        budget = s.full if full else s.quick
        n_seeds, n_epochs = seeds or budget.seeds, epochs or budget.epochs
        plans.append((s, list(range(base_seed, base_seed + n_seeds)), n_epochs))

    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        # Each bar's clock starts when its suite starts, so that it shows the suite's time.
        tasks = [progress.add_task(s.name, total=len(sd) * ep, start=False) for s, sd, ep in plans]
        for (s, sd, ep), task in zip(plans, tasks, strict=True):
            if losses is not None and not select(s.candidates(s.build(base_seed)), losses):
                progress.update(task, description=f"{s.name} (skipped)", total=0)
                continue
            progress.start_task(task)
            r = run_suite(
                s,
                seeds=sd,
                epochs=ep,
                losses=losses,
                on_epoch=lambda task=task: progress.advance(task),
            )
            progress.stop_task(task)
            results.append(r)
            progress.console.print()
            _print_result(progress.console, r)
    if not results:
        raise BenchError("--losses left no loss to train in the selected suite(s)")

    seconds = time.perf_counter() - start
    console.print(
        f"[bold]losslab bench[/bold] finished in {seconds:.1f} s "
        f"(torch {torch.__version__}, training on 1 thread)"
    )
    if out is not None:
        meta = {
            "command": command,
            "seconds": round(seconds, 1),
            "threads": 1,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "full": full,
            "base seed": base_seed,
        }
        paths = report.write(results, meta, out)
        console.print(
            f"wrote {len(paths)} files to {out}/ (report.md, results.json, "
            f"{len(paths) - 2} PNG plots)"
        )
    return results


def user_suite(console: Console, path: Path) -> Suite:
    """The suite for `--data FILE.npz`, after printing the task inferred from `y`."""
    from .userdata import suite

    s, task = suite(path)
    data = s.build(0)
    y = data.y_test
    if task == "binary":
        what = "binary (y has 2 classes)"
    elif task == "multiclass":
        what = f"multiclass (y has {int(y.max().item()) + 1} classes)"
    else:
        unknown = bool((data.train_targets["default"] < 0).any())
        what = f"multi-label ({y.shape[1]} label columns{', some unknown (-1)' if unknown else ''})"
    console.print(
        f"{path}: {len(data.x_train) + len(data.x_test)} examples, "
        f"{data.x_train.shape[1]} features; task inferred: {what}"
    )
    return s


__all__ = ["BenchError", "bench", "list_suites", "user_suite"]
