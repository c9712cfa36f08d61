"""Speed and peak memory of losslab's losses, as ratios to baselines run in the same process.

    .venv/bin/python benchmarks/speed.py                    # every family at the issue's sizes
    .venv/bin/python benchmarks/speed.py --family sigmoid --sizes 1M,16M
    .venv/bin/python benchmarks/speed.py --quick            # small sizes, a smoke run

For each loss and size it times forward+backward (median of `--repeat` runs after one
warm-up call, which also compiles the fused kernels) and measures peak memory beyond the
inputs and the gradient(s), reported as a multiple of the logits' size (sigmoid and
softmax families) or in MiB (linear losses).

How memory is measured: the process re-executes itself with MALLOC_MMAP_THRESHOLD_=65536,
so that glibc serves every tensor above 64 KiB with its own mmap and returns it to the
system when freed; the resident set size (RSS, /proc/self/statm) then rises and falls
with the live tensors. A thread samples RSS every 0.2 ms during the call; the peak minus
the RSS just before the call, minus the bytes of the gradients the call leaves behind,
is the "extra" memory. The bytes saved for backward are counted exactly as well, with
torch.autograd.graph.saved_tensors_hooks.

Baselines: torchvision's sigmoid_focal_loss formula written out (torchvision is not a
dependency), F.binary_cross_entropy_with_logits without a mask, F.cross_entropy, and a
memory-traffic floor: torch.add(logits, targets, out=buffer), which reads both and writes
one tensor of the same size into memory that exists already.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import threading
import time

if "MALLOC_MMAP_THRESHOLD_" not in os.environ and sys.platform.startswith("linux"):
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import losslab  # noqa: E402
from losslab import fused  # noqa: E402

# The clock the timings use: wall time by default; `--clock cpu` uses this process's CPU
# time instead, which other processes' load on a shared machine does not inflate.
CLOCK = {"clock": time.perf_counter}


def now() -> float:
    return CLOCK["clock"]()


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MiB = 2**20


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRSS:
    """Sample RSS in a thread while the block runs; `extra` is the peak above the start."""

    def __enter__(self):
        gc.collect()
        self.start = self.peak = rss()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.0002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss())
        self.extra = self.peak - self.start


def saved_bytes(fn) -> int:
    """Bytes of the distinct tensors that `fn`'s forward saves for backward."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def measure_all(steps, params, repeat):
    """For each step() (forward+backward): median seconds and peak extra bytes.

    Each step is warmed up (compiling fused kernels) and measured for memory first; then
    the timed runs go round-robin over the steps, so that load from other processes on
    the machine falls on all of them alike and the ratios stay meaningful.
    """
    grad_bytes = sum(p.numel() * p.element_size() for p in params)

    def clear():
        for p in params:
            p.grad = None

    times, extras = [], []
    for step in steps:
        step()
        clear()
        t0 = now()
        with PeakRSS() as peak:
            step()
        times.append([now() - t0])  # the sampling thread costs next to nothing
        extras.append(peak.extra - grad_bytes)
        clear()
    for _ in range(repeat - 1):
        for i, step in enumerate(steps):
            t0 = now()
            step()
            times[i].append(now() - t0)
            clear()
    return [(statistics.median(t), e) for t, e in zip(times, extras, strict=True)]


def floor_time(x, t, repeat):
    buf = torch.empty_like(x)
    torch.add(x, t, out=buf)
    times = []
    for _ in range(repeat):
        t0 = now()
        torch.add(x, t, out=buf)
        times.append(now() - t0)
    return statistics.median(times)


def torchvision_focal(x, t, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss, written out (reduction "mean")."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss.mean()


def parse_size(s: str) -> int:
    s = s.strip().upper()
    mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(s[-1], 1)
    return int(float(s[:-1] if s[-1] in "KMG" else s) * mult)


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)), flush=True)


def with_fused(flag, fn):
    def run():
        previous = fused.enable(flag)
        try:
            return fn()
        finally:
            fused.enable(previous)

    return run


# ---------------------------------------------------------------- sigmoid family


def sigmoid_family(sizes, repeat):
    for n in sizes:
        _sigmoid_size(n, repeat)


def _sigmoid_size(n, repeat):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(n, generator=g) * 3).requires_grad_()
    positive = torch.rand(n, generator=g) < 0.01
    t_plain = positive.float()
    t = t_plain.clone()
    t[torch.rand(n, generator=g) < 0.10] = -1  # 10% of labels unknown
    logit_bytes = n * 4

    def step_of(loss_fn):
        def step():
            loss_fn().backward()

        return step

    cases = [
        ("torchvision focal formula (no mask)", lambda: torchvision_focal(x, t_plain)),
        ("F.binary_cross_entropy_with_logits (no mask)",
         lambda: F.binary_cross_entropy_with_logits(x, t_plain)),
    ]  # fmt: skip
    for name, fn, kwargs in [
        ("bce", losslab.binary_cross_entropy, {}),
        ("focal", losslab.focal_loss, {"gamma": 2.0, "alpha": 0.25}),
        ("asl", losslab.asymmetric_loss, {}),
    ]:
        for flag, label in ((True, "fused"), (False, "eager")):
            cases.append(
                (f"losslab {name} {label} (10% unknown)",
                 with_fused(flag, lambda fn=fn, kwargs=kwargs: fn(x, t, **kwargs)))
            )  # fmt: skip

    floor = floor_time(x.detach(), t, repeat)
    measured = measure_all([step_of(fn) for _, fn in cases], [x], repeat)
    results = [
        (name, sec, extra, saved_bytes(fn))
        for (name, fn), (sec, extra) in zip(cases, measured, strict=True)
    ]
    tv, bce = results[0][1], results[1][1]
    rows = [
        (
            name,
            f"{sec * 1e3:.0f}",
            f"{tv / sec:.2f}x",
            f"{sec / bce:.2f}",
            f"{sec / floor:.0f}",
            f"{extra / logit_bytes:.2f}",
            f"{saved / logit_bytes:.2f}",
        )
        for name, sec, extra, saved in results
    ]
    table(
        f"sigmoid family, {n / 2**20:g}M float32 logits, 1% positives "
        f"(floor {floor * 1e3:.1f} ms)",
        ["loss", "ms", "speed-up vs tv", "time / bce", "time / floor", "peak extra / logits",
         "saved / logits"],
        rows,
    )  # fmt: skip


# ---------------------------------------------------------------- softmax family


def eager_softmax_focal(x, y, gamma=2.0):
    """Softmax focal loss as usually written: log_softmax, gather, (1 - p)^gamma."""
    logp = F.log_softmax(x, dim=1).gather(1, y[:, None]).squeeze(1)
    return (-((1 - logp.exp()) ** gamma) * logp).mean()


def softmax_family(shapes, repeat):
    for n, c in shapes:
        _softmax_shape(n, c, repeat)


def _softmax_shape(n, c, repeat):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, generator=g).requires_grad_()
    y = torch.randint(0, c, (n,), generator=g)
    y_masked = y.clone()
    y_masked[torch.rand(n, generator=g) < 0.10] = -100
    logit_bytes = n * c * 4
    cases = [
        ("F.cross_entropy", lambda: F.cross_entropy(x, y)),
        ("F.cross_entropy (ignore 10%, smoothing 0.1)",
         lambda: F.cross_entropy(x, y_masked, label_smoothing=0.1)),
        ("eager softmax focal formula", lambda: eager_softmax_focal(x, y)),
    ]  # fmt: skip
    if hasattr(losslab, "softmax_cross_entropy"):
        cases += [
            ("losslab softmax_cross_entropy (10% unknown, smoothing 0.1)",
             lambda: losslab.softmax_cross_entropy(x, y_masked, label_smoothing=0.1)),
            ("losslab softmax_focal_loss",
             lambda: losslab.softmax_focal_loss(x, y, gamma=2.0)),
        ]  # fmt: skip
    floor = floor_time(x.detach(), x.detach(), repeat)
    steps = [lambda fn=fn: fn().backward() for _, fn in cases]
    measured = measure_all(steps, [x], repeat)
    results = [
        (name, sec, extra, saved_bytes(fn))
        for (name, fn), (sec, extra) in zip(cases, measured, strict=True)
    ]
    ce = results[0][1]
    focal = results[2][1]
    rows = [
        (
            name,
            f"{sec * 1e3:.0f}",
            f"{sec / ce:.2f}",
            f"{focal / sec:.2f}x",
            f"{sec / floor:.0f}",
            f"{extra / logit_bytes:.2f}",
            f"{saved / logit_bytes:.2f}",
        )
        for name, sec, extra, saved in results
    ]
    table(
        f"softmax family, ({n} x {c}) float32 logits (floor {floor * 1e3:.1f} ms)",
        ["loss", "ms", "time / F.cross_entropy", "speed-up vs eager focal", "time / floor",
         "peak extra / logits", "saved / logits"],
        rows,
    )  # fmt: skip


# ---------------------------------------------------------------- linear losses


def linear_family(n, d, c, multilabel_rows, repeat):
    g = torch.Generator().manual_seed(0)
    h = (torch.randn(n, d, generator=g)).requires_grad_()
    w = (torch.randn(c, d, generator=g) / d**0.5).requires_grad_()
    y = torch.randint(0, c, (n,), generator=g)
    y[torch.rand(n, generator=g) < 0.10] = -100
    # Multi-label on the first `multilabel_rows` rows only: the naive eager focal loss of
    # all N rows would need about 18 x 1 GiB here, more than the machine has.
    hm = h[:multilabel_rows]
    multi = torch.rand(multilabel_rows, c, generator=g) < 5 / c  # ~5 labels per row, bool

    options = getattr(torch.nn, "LinearCrossEntropyOptions", None)
    # (name, loss function, the naive case it is compared with)
    naive_ce = "naive: F.linear + F.cross_entropy"
    naive_bce = f"naive: F.linear + losslab.binary_cross_entropy (multi-label, N={multilabel_rows})"
    naive_focal = f"naive: F.linear + losslab.focal_loss (multi-label, N={multilabel_rows})"
    cases = [(naive_ce, lambda: F.cross_entropy(F.linear(h, w), y), naive_ce)]
    if options is not None:
        cases.append(
            ("torch F.linear_cross_entropy (chunked)",
             lambda: F.linear_cross_entropy(h, w, y, options=options()), naive_ce)
        )  # fmt: skip
    cases.append(
        ("losslab linear_cross_entropy", lambda: losslab.linear_cross_entropy(h, w, y), naive_ce)
    )
    if multilabel_rows:
        cases += [
            (naive_bce, lambda: losslab.binary_cross_entropy(F.linear(hm, w), multi), naive_bce),
            ("losslab linear_sigmoid_loss (multi-label BCE)",
             lambda: losslab.linear_sigmoid_loss(hm, w, multi), naive_bce),
            (naive_focal,
             lambda: losslab.focal_loss(F.linear(hm, w), multi, gamma=2.0, alpha=None),
             naive_focal),
            ("losslab linear_sigmoid_loss (multi-label focal)",
             lambda: losslab.linear_sigmoid_loss(hm, w, multi, gamma=2.0), naive_focal),
        ]  # fmt: skip
    steps = [lambda fn=fn: fn().backward() for _, fn, _ in cases]
    measured = measure_all(steps, [h, w], repeat)
    results = {name: m for (name, _, _), m in zip(cases, measured, strict=True)}
    rows = []
    for name, _, base in cases:
        sec, extra = results[name]
        base_sec, base_extra = results[base]
        rows.append(
            (name, f"{sec * 1e3:.0f}", f"{sec / base_sec:.2f}", f"{extra / MiB:.0f}",
             f"{extra / max(base_extra, 1):.3f}")
        )  # fmt: skip
    table(
        f"linear losses, N={n}, d={d}, C={c}, float32 (logits would be "
        f"{n * c * 4 / MiB:.0f} MiB; gradients of hidden and weight "
        f"{(n + c) * d * 4 / MiB:.0f} MiB, not counted)",
        ["loss", "ms", "time / naive", "peak extra MiB", "memory / naive"],
        rows,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["sigmoid", "softmax", "linear", "all"],
                        default="all")  # fmt: skip
    parser.add_argument("--sizes", default="1M,16M,64M", help="sigmoid family sizes")
    parser.add_argument("--softmax-shapes", default="32768x1000,4096x32000")
    parser.add_argument("--linear", default="4096x256x65536", help="N x d x C")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--multilabel-rows", type=int, default=512, help="rows of the multi-label linear losses"
    )
    parser.add_argument("--linear-repeat", type=int, default=1, help="each call takes seconds")
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time, or this process's CPU time (robust to other load)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":
        CLOCK["clock"] = time.process_time
    if args.quick:
        args.sizes, args.softmax_shapes, args.linear = "256K", "4096x1000", "1024x64x8192"
        args.repeat = 2

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; times ({args.clock} clock) are forward+backward medians of "
        f"{args.repeat} runs ({args.linear_repeat} for linear losses); "
        "memory beyond inputs and gradients"
    )
    if args.family in ("sigmoid", "all"):
        sigmoid_family([parse_size(s) for s in args.sizes.split(",")], args.repeat)
    if args.family in ("softmax", "all"):
        shapes = [tuple(int(v) for v in s.split("x")) for s in args.softmax_shapes.split(",")]
        softmax_family(shapes, args.repeat)
    if args.family in ("linear", "all"):
        n, d, c = (int(v) for v in args.linear.split("x"))
        linear_family(n, d, c, min(n, args.multilabel_rows), args.linear_repeat)


if __name__ == "__main__":
    main()
