"""Numbers into words, tables and files: statistics, findings, report.md, results.json, plots.

How a finding is decided: for each primary metric, the best row is the one with the best
mean over seeds. Every other row is compared with it by a paired t-test across seeds
(pairs share the data split, the initial weights and the batch order, so the pairing
removes the seed-to-seed variation that all losses share). A row whose p-value is at
least 0.05 is "not significantly different" from the best. With one seed there is no
test, and the finding says so. Rows that diverged in some seed are compared on the seeds
where both are finite.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from .run import SuiteResult

ALPHA = 0.05  # significance level of the paired t-test


def mean_std(values: list[float]) -> tuple[float, float, int]:
    """Mean and sample standard deviation over the finite values, and their count."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def paired_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of a paired t-test on the seeds where both are finite.

    Equal differences in every seed (zero spread) give p = 0 if they are not zero and
    p = 1 if they are; fewer than two pairs give NaN (no test).
    """
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 2:
        return math.nan
    d = np.array([x - y for x, y in pairs])
    if np.all(d == d[0]):
        return 0.0 if d[0] != 0 else 1.0
    return float(stats.ttest_rel([x for x, _ in pairs], [y for _, y in pairs]).pvalue)


def best_row(result: SuiteResult, metric: str) -> str | None:
    """The row with the best mean for `metric` (ignoring rows with no finite value)."""
    sign = 1 if result.higher[metric] else -1
    scored = [
        (sign * mean_std(result.values[r].get(metric, []))[0], r)
        for r in result.rows
        if mean_std(result.values[r].get(metric, []))[2]
    ]
    return max(scored)[1] if scored else None


def ties(result: SuiteResult, metric: str, best: str) -> list[str]:
    """Rows not significantly different from `best` on `metric` (paired t-test)."""
    ref = result.values[best][metric]
    out = []
    for r in result.rows:
        if r == best or metric not in result.values[r]:
            continue
        p = paired_p(ref, result.values[r][metric])
        if not math.isnan(p) and p >= ALPHA:
            out.append(r)
    return out


def _fmt(mean: float, std: float, n: int) -> str:
    if n == 0:
        return "diverged"
    return f"{mean:.3f} ± {std:.3f}" if n > 1 else f"{mean:.3f}"


def finding(result: SuiteResult, metric: str) -> str:
    """One sentence about `metric`, stated from the numbers."""
    best = best_row(result, metric)
    if best is None:
        return f"{metric}: no model produced finite scores."
    m, s, n = mean_std(result.values[best][metric])
    head = f"{metric}: best {best} ({_fmt(m, s, n)})"
    if len(result.seeds) < 2:
        return head + "; one seed, so no significance test."
    tied = ties(result, metric, best)
    others = [r for r in result.rows if r != best and metric in result.values[r]]
    if not others:
        return head + "."
    if len(tied) == len(others):
        return (
            head + f"; no significant difference from any other loss (paired t-test, p >= {ALPHA})."
        )
    if not tied:
        return head + f", significantly better than every other loss (paired t-test, p < {ALPHA})."
    return (
        head
        + f"; not significantly different: {', '.join(tied)}; the other {len(others) - len(tied)}"
        + f" are worse (paired t-test, p < {ALPHA})."
    )


def findings(result: SuiteResult) -> list[str]:
    """The suite's findings: one per primary metric, plus the RetinaNet check for dense."""
    lines = [
        finding(result, m)
        for m in result.primary
        if any(m in result.values[r] for r in result.rows)
    ]
    if result.name.startswith("dense"):
        lines.extend(retinanet_check(result))
    diverged = {r: k for r, k in result.diverged.items() if k}
    if diverged:
        lines.append(
            "Diverged (non-finite loss): "
            + ", ".join(f"{r} in {k} of {len(result.seeds)} seeds" for r, k in diverged.items())
            + "."
        )
    return lines


def retinanet_check(result: SuiteResult) -> list[str]:
    """Compare with Lin et al. 2017: focal gamma=2 vs the best alpha-balanced CE, and CE
    without the prior init."""
    v = result.values
    lines = []
    ce_rows = [r for r in ("bce+prior", "bce-a0.75+prior", "focal-0+prior") if r in v]
    if "focal-2+prior" in v and ce_rows:
        best_ce = max(ce_rows, key=lambda r: mean_std(v[r]["AP"])[0])
        f2, ce = mean_std(v["focal-2+prior"]["AP"])[0], mean_std(v[best_ce]["AP"])[0]
        p = paired_p(v["focal-2+prior"]["AP"], v[best_ce]["AP"])
        sig = "" if math.isnan(p) else (" (significant)" if p < ALPHA else " (not significant)")
        agree = "reproduces" if f2 > ce and (math.isnan(p) or p < ALPHA) else "does not reproduce"
        lines.append(
            f"RetinaNet (COCO): focal gamma=2 beats the best alpha-balanced CE by +2.9 AP. "
            f"Here: focal-2+prior minus {best_ce} = {100 * (f2 - ce):+.1f} AP points{sig}; "
            f"this setting {agree} the gain."
        )
        best = best_row(result, "AP")
        if best and best != "focal-2+prior":
            lines.append(f"The best loss here is {best}, not focal gamma=2.")
    if "bce (no prior)" in v and "bce+prior" in v:
        k = result.diverged.get("bce (no prior)", 0)
        a, b = mean_std(v["bce (no prior)"]["AP"])[0], mean_std(v["bce+prior"]["AP"])[0]
        early = ""
        first = result.first_losses
        if "bce (no prior)" in first and "bce+prior" in first:
            x = np.nanmean(np.array(first["bce (no prior)"])[:, 0])
            y = np.nanmean(np.array(first["bce+prior"])[:, 0])
            early = f"; its first-step loss is {x / y:.0f}x that with the prior"
        how = "Adam, which rescales gradients" if result.optimizer == "adam" else "SGD"
        state = f"diverged in {k} of {len(result.seeds)} seeds" if k else "did not diverge"
        lines.append(
            f"RetinaNet: CE without the prior init diverges early. Here ({how}) BCE without "
            f"the prior {state}{early}, and reaches AP {a:.3f} against {b:.3f} with it."
        )
    return lines


# ---------------------------------------------------------------------------------------
# files


def to_json(results: list[SuiteResult], meta: dict) -> dict:
    """Everything needed to redo the tables: per-seed values, means, findings, settings."""
    suites = []
    for r in results:
        table = {
            row: {
                m: {"values": vals, "mean": mean_std(vals)[0], "std": mean_std(vals)[1]}
                for m, vals in r.values[row].items()
            }
            for row in r.rows
        }
        suites.append(
            {
                "suite": r.name,
                "title": r.title,
                "seeds": r.seeds,
                "epochs": r.epochs,
                "seconds": round(r.seconds, 2),
                "data": r.info,
                "metrics": {
                    m: "higher is better" if h else "lower is better" for m, h in r.higher.items()
                },
                "results": table,
                "diverged": r.diverged,
                "findings": findings(r),
                "not available": r.missing,
                "training curves": r.curves,
            }
        )
    return {"meta": meta, "suites": suites}


def markdown_table(r: SuiteResult) -> str:
    """A markdown table: rows = losses, columns = metrics, best mean per column in bold."""
    metrics = [m for m in r.metrics if any(m in r.values[row] for row in r.rows)]
    best = {m: best_row(r, m) for m in metrics}
    arrows = {m: "↑" if r.higher[m] else "↓" for m in metrics}
    lines = ["| loss | " + " | ".join(f"{m} {arrows[m]}" for m in metrics) + " |"]
    lines.append("|---|" + "---:|" * len(metrics))
    for row in r.rows:
        cells = []
        for m in metrics:
            text = _fmt(*mean_std(r.values[row].get(m, [])))
            cells.append(f"**{text}**" if best[m] == row else text)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(results: list[SuiteResult], meta: dict, plots: dict[str, list[str]]) -> str:
    """report.md: per suite its data, table, findings and plots."""
    out = ["# losslab bench", "", f"Command: `{meta['command']}`", ""]
    out.append(
        f"Mean ± standard deviation over seeds; best mean per column in **bold**; "
        f"findings use a paired t-test across seeds at p < {ALPHA}. "
        f"Total wall time {meta['seconds']:.0f} s on {meta['threads']} thread(s)."
    )
    for r in results:
        out += ["", f"## {r.title} (`--suite {r.name}`)", ""]
        facts = ", ".join(f"{k} {v}" for k, v in r.info.items() if not isinstance(v, dict))
        out.append(f"{facts}; {len(r.seeds)} seeds x {r.epochs} epochs, {r.seconds:.0f} s.")
        if r.missing:
            out.append(f"Not available in this losslab: {', '.join(r.missing)}.")
        out += ["", markdown_table(r), ""]
        out += [f"- {line}" for line in findings(r)]
        for p in plots.get(r.name, []):
            out += ["", f"![{r.name}]({p})"]
    return "\n".join(out) + "\n"


def plot(r: SuiteResult, out_dir: Path) -> list[str]:
    """Two PNGs per suite: each metric per loss with error bars, and training curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    metrics = [m for m in r.metrics if any(m in r.values[row] for row in r.rows)]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.2 * len(metrics), 0.35 * len(r.rows) + 1.6), squeeze=False
    )
    for ax, m in zip(axes[0], metrics, strict=True):
        stats_ = [mean_std(r.values[row].get(m, [])) for row in r.rows]
        means = [s[0] for s in stats_]
        errs = [s[1] for s in stats_]
        best = best_row(r, m)
        colors = ["tab:orange" if row == best else "tab:blue" for row in r.rows]
        ax.barh(range(len(r.rows)), means, xerr=errs, color=colors, capsize=3)
        ax.set_yticks(range(len(r.rows)), r.rows, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{m} ({'higher' if r.higher[m] else 'lower'} is better)", fontsize=9)
        finite = [x for x in means if math.isfinite(x)]
        if finite and r.higher[m]:
            ax.set_xlim(
                max(0.0, min(finite) - 0.1),
                min(1.0, max(finite) + 0.05) if max(finite) <= 1 else None,
            )
    fig.suptitle(f"{r.name}: mean ± std over {len(r.seeds)} seeds", fontsize=10)
    fig.tight_layout()
    name = f"{r.name}-metrics.png"
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    files.append(name)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, curve in r.curves.items():
        ax.plot(range(1, len(curve) + 1), curve, label=label, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (each loss in its own units)")
    ax.set_title(f"{r.name}: training loss per epoch, mean over seeds", fontsize=10)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    name = f"{r.name}-curves.png"
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    files.append(name)
    return files


def _clean(obj):
    """NaN and inf become null, so that results.json is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write(results: list[SuiteResult], meta: dict, out_dir: Path) -> list[Path]:
    """Write report.md, results.json and the PNG plots into `out_dir`; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = {r.name: plot(r, out_dir) for r in results}
    text = json.dumps(_clean(to_json(results, meta)), indent=1, allow_nan=False)
    (out_dir / "results.json").write_text(text + "\n")
    (out_dir / "report.md").write_text(markdown(results, meta, plots))
    return [out_dir / "report.md", out_dir / "results.json"] + [
        out_dir / p for files in plots.values() for p in files
    ]
