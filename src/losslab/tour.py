"""`losslab tour`: a guided walk from message lengths to focal loss, computed and drawn.

Three layers, kept apart so that tests check the numbers without printing or plotting:

- `steps()` returns the walk as data: a list of `Step`, each with a few sentences and its
  `Value`s (what losslab computes, the value commonly quoted for it, and whether the two
  agree). Every number comes from losslab's public functions.
- `render(steps, console)` prints the walk with rich tables, flagging disagreements.
- `save_plots(out_dir)` draws the curves with matplotlib (Agg, no display) to PNG files.

A quoted value is written as it is usually quoted ("0.627", "1e-10"); it agrees when the
computed value rounds to it, that is when they differ by at most half a unit of its last
digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import torch

import losslab
from losslab import info


@dataclass(frozen=True)
class Value:
    """One number of a step: what losslab computes beside what is commonly quoted.

    Attributes:
        label: what the number is, in a few words.
        computed: the value losslab computes (a float, or a bool for a yes/no claim).
        quoted: the value as commonly quoted, as a string ("0.627", "1e-10"), a bool for a
            claim, or None when nothing is commonly quoted.
        unit: the unit of both ("bits", "nats", "%", ...), or "".
    """

    label: str
    computed: float | bool
    quoted: str | bool | None = None
    unit: str = ""

    @property
    def tolerance(self) -> float:
        """Half a unit of the quoted value's last digit (0 for a claim or no quote)."""
        if not isinstance(self.quoted, str):
            return 0.0
        return 0.5 * 10.0 ** Decimal(self.quoted).as_tuple().exponent

    @property
    def agree(self) -> bool | None:
        """Whether the computed value rounds to the quoted one; None when nothing is quoted."""
        if self.quoted is None:
            return None
        if isinstance(self.quoted, bool):
            return bool(self.computed) == self.quoted
        # The relative slack absorbs the binary rounding of a decimal that sits exactly
        # half a unit away, such as 0.12 + 0.005.
        diff = abs(float(self.computed) - float(self.quoted))
        return diff <= self.tolerance * (1 + 1e-9)


@dataclass(frozen=True)
class Step:
    """One stop of the tour: a title, a few plain sentences, its numbers and its plot."""

    key: str
    title: str
    story: tuple[str, ...]
    values: tuple[Value, ...]
    plot: str | None = None  # the PNG file `save_plots` draws for this step

    @property
    def agree(self) -> bool:
        """True unless a value disagrees with its quote."""
        return all(v.agree is not False for v in self.values)


def _t(values, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(values, dtype=dtype)


# ---------------------------------------------------------------- the steps

FIRST = [1 / 2, 1 / 4, 1 / 8, 1 / 8]
SECOND = [1 / 8, 1 / 8, 1 / 4, 1 / 2]
SKEWED = [0.9, 1 / 30, 1 / 30, 1 / 30]
TEXTBOOK_CODE = {0: "0", 1: "10", 2: "110", 3: "111"}


def message_lengths() -> Step:
    fixed = {i: format(i, "02b") for i in range(4)}
    code = info.huffman_code(FIRST)
    return Step(
        "message-lengths",
        "Message lengths",
        (
            "A sender uses four words, with probabilities 1/2, 1/4, 1/8 and 1/8.",
            "Two bits per word name any of the four.",
            "Short codewords for frequent words do better: 0, 10, 110 and 111.",
            "No code beats the entropy, and this one reaches it.",
        ),
        (
            Value("fixed 2-bit code", info.average_length(fixed, FIRST), "2", "bits/word"),
            Value("Huffman code is 0, 10, 110, 111", code == TEXTBOOK_CODE, True),
            Value("code 0, 10, 110, 111", info.average_length(code, FIRST), "1.75", "bits/word"),
            Value("entropy H(p)", info.entropy(FIRST), "1.75", "bits/word"),
        ),
    )


def someone_elses_code() -> Step:
    first_code = info.huffman_code(FIRST)
    own_code = info.huffman_code(SECOND)
    return Step(
        "cross-entropy",
        "Someone else's code: cross-entropy and KL",
        (
            "A second sender uses the same words with probabilities 1/8, 1/8, 1/4, 1/2.",
            "She borrows the first sender's code, built for the wrong frequencies.",
            "What she pays is the cross-entropy of her distribution against his.",
            "Her own Huffman code brings her back to her entropy.",
            "The difference is the price of the wrong code: the KL divergence.",
        ),
        (
            Value(
                "his code on her words",
                info.average_length(first_code, SECOND),
                "2.625",
                "bits/word",
            ),
            Value("cross-entropy H(q, p)", info.cross_entropy(SECOND, FIRST), "2.625", "bits/word"),
            Value(
                "her own Huffman code", info.average_length(own_code, SECOND), "1.75", "bits/word"
            ),
            Value("KL(q || p)", info.kl_divergence(SECOND, FIRST), "0.875", "bits/word"),
        ),
    )


def minus_sign() -> Step:
    p, q = [0.2, 0.8], [0.4, 0.6]
    h = info.cross_entropy(p, q)
    return Step(
        "minus-sign",
        "Two words and a minus sign",
        (
            "Two words occur with p = 0.2, 0.8; we code them as if q = 0.4, 0.6.",
            "Each log of a probability is negative, so the sum needs a minus in front.",
            "Drop it and a cost comes out negative, which no code can have.",
        ),
        (
            Value("cross-entropy -sum p log2 q", h, "0.854", "bits/word"),
            Value("sum p log2 q, minus dropped", -h, None, "bits/word"),
        ),
    )


def certainty() -> Step:
    return Step(
        "certainty",
        "Certainty and ignorance",
        (
            "A word that always comes tells nothing, so it costs nothing.",
            "Four equally likely words cost two bits: nothing can be saved.",
        ),
        (
            Value("entropy of [1, 0, 0, 0]", info.entropy([1.0, 0.0, 0.0, 0.0]), "0", "bits"),
            Value("entropy of four equal words", info.entropy([0.25] * 4), "2", "bits"),
        ),
    )


def block_codes() -> Step:
    h = info.entropy(SKEWED)
    blocks = tuple(
        Value(f"Huffman over blocks of {n}", info.bits_per_symbol(SKEWED, n), quoted, "bits/word")
        for n, quoted in ((2, "0.786"), (3, "0.687"), (4, "0.649"), (5, "0.637"))
    )
    return Step(
        "block-codes",
        "A skewed source and block codes",
        (
            "Now one word takes 90% of the traffic and three share the rest.",
            "The code 0, 10, 110, 111 is still optimal word by word, yet far above the entropy.",
            "A codeword has a whole number of bits, and the common word needs far less than one.",
            "Coding blocks of words spreads that rounding over the block.",
            "The cost per word falls towards the entropy as the blocks grow.",
        ),
        (
            Value(
                "code 0, 10, 110, 111",
                info.average_length(TEXTBOOK_CODE, SKEWED),
                "1.167",
                "bits/word",
            ),
            Value("entropy H(p)", h, "0.627", "bits/word"),
            Value("entropy, as sometimes quoted", h, "0.67", "bits/word"),
            *blocks,
        ),
        plot="block_codes.png",
    )


def regression_curves() -> dict[str, torch.Tensor]:
    """MAE and MSE with their gradients for target 100 and predictions 0..200."""
    x = torch.linspace(0.0, 200.0, 401, dtype=torch.float64, requires_grad=True)
    target = torch.full_like(x, 100.0)
    curves = {"prediction": x.detach()}
    for name, fn in (("mae", losslab.mean_absolute_error), ("mse", losslab.mean_squared_error)):
        loss = fn(x, target, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), x)
        curves[name], curves[name + "_grad"] = loss.detach(), grad
    return curves


def regression() -> Step:
    c = regression_curves()
    at = {v: int(v * 2) for v in (101.0, 150.0)}  # grid index of a prediction
    best = c["prediction"]
    return Step(
        "regression",
        "Regression: MAE and MSE",
        (
            "The target is 100 and the prediction runs from 0 to 200.",
            "The absolute error is a V: its slope has size 1 everywhere but the bottom.",
            "The squared error is a U: its slope is twice the error.",
            "Far away, MSE pushes hard; close by, it barely pushes at all.",
            "MSE assumes Gaussian noise and fits the mean; MAE assumes Laplace noise and fits "
            "the median.",
        ),
        (
            Value("MAE at 150", c["mae"][at[150.0]].item(), "50"),
            Value("MSE at 150", c["mse"][at[150.0]].item(), "2500"),
            Value("MAE gradient size at 150", abs(c["mae_grad"][at[150.0]].item()), "1"),
            Value("MAE gradient size at 101", abs(c["mae_grad"][at[101.0]].item()), "1"),
            Value("MSE gradient at 150", c["mse_grad"][at[150.0]].item(), "100"),
            Value("MSE gradient at 101", c["mse_grad"][at[101.0]].item(), "2"),
            Value("minimum of MAE at", best[c["mae"].argmin()].item(), "100"),
            Value("minimum of MSE at", best[c["mse"].argmin()].item(), "100"),
        ),
        plot="regression.png",
    )


def _probability_of(logits: torch.Tensor, label: int) -> float:
    """exp(-loss) of one sample: the probability the model gives to `label`."""
    target = torch.tensor([label])
    return math.exp(-losslab.softmax_cross_entropy(logits[None], target).item())


def sigmoid_softmax() -> Step:
    bias = losslab.prior_bias(0.8)
    x = _t([bias])
    p = math.exp(-losslab.binary_cross_entropy(x, _t([1.0])).item())
    half = math.exp(-losslab.binary_cross_entropy(_t([0.0]), _t([1.0])).item())
    scores = _t([2.0, 1.0, 0.1])
    soft = [_probability_of(scores, i) for i in range(3)]
    return Step(
        "sigmoid-softmax",
        "The sigmoid and the softmax",
        (
            "A logit is the log of the odds, log(p / (1 - p)).",
            "The sigmoid undoes it and turns any score into a probability.",
            "The softmax does the same for several classes at once: e^x over the sum of e^x.",
            "Each loss here is minus the log of a probability, so e^-loss gives it back.",
        ),
        (
            Value("logit of 0.8 = ln 4", bias, "1.386"),
            Value("sigmoid(logit(0.8)) = e^-BCE", p, "0.8"),
            Value("sigmoid(0)", half, "0.5"),
            Value("softmax [2, 1, 0.1], class 1", soft[0], "0.659"),
            Value("softmax [2, 1, 0.1], class 2", soft[1], "0.242"),
            Value("softmax [2, 1, 0.1], class 3", soft[2], "0.099"),
        ),
        plot="sigmoid_softmax.png",
    )


# A small one-feature data set with overlapping classes (so the best weight is finite).
FEATURE = [-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0]
LABEL = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0]


def convexity_curves() -> dict[str, torch.Tensor]:
    """Loss, and its second derivative, of p = sigmoid(w x) over the weight w."""
    w = torch.linspace(-8.0, 8.0, 321, dtype=torch.float64, requires_grad=True)
    curves = {"weight": w.detach()}
    for name in ("mse", "bce"):
        logits = w[:, None] * _t(FEATURE)[None, :]  # (weights, samples)
        y = _t(LABEL).expand_as(logits)
        if name == "mse":
            per_sample = losslab.mean_squared_error(torch.sigmoid(logits), y, reduction="none")
        else:
            per_sample = losslab.binary_cross_entropy(logits, y, reduction="none")
        loss = per_sample.mean(dim=1)
        # Each weight's loss depends on that weight alone, so the gradient of the sum gives
        # every first derivative at once, and differentiating again every second one.
        (first,) = torch.autograd.grad(loss.sum(), w, create_graph=True)
        (second,) = torch.autograd.grad(first.sum(), w)
        curves[name], curves[name + "_curvature"] = loss.detach(), second
    return curves


def convexity() -> Step:
    c = convexity_curves()
    return Step(
        "convexity",
        "Why not MSE on a sigmoid",
        (
            "Take a logistic model with one weight, p = sigmoid(w x), on eight points.",
            "Cross-entropy over w is a bowl: its curvature is never negative.",
            "MSE of the probability flattens out on both sides, so it bends the wrong way.",
            "Flat regions give tiny gradients, and gradient descent stalls there.",
        ),
        (
            Value("cross-entropy convex in w", bool(c["bce_curvature"].min() >= 0), True),
            Value("MSE on sigmoid convex in w", bool(c["mse_curvature"].min() >= 0), False),
            Value("least curvature, cross-entropy", c["bce_curvature"].min().item()),
            Value("least curvature, MSE on sigmoid", c["mse_curvature"].min().item()),
        ),
        plot="convexity.png",
    )


def categorical() -> Step:
    p = _t([[0.7, 0.1, 0.2]])
    # The log of a distribution is a valid logit vector: its softmax is the distribution.
    ce = losslab.softmax_cross_entropy(torch.log(p), torch.tensor([0])).item()
    bce = losslab.binary_cross_entropy(
        p, _t([[1.0, 0.0, 0.0]]), from_logits=False, reduction="sum"
    ).item()
    return Step(
        "categorical",
        "One softmax or one sigmoid per class",
        (
            "The label is class 1 of 3; the model predicts 0.7, 0.1 and 0.2.",
            "Categorical cross-entropy looks only at the true class: -ln 0.7.",
            "A sigmoid per class scores every class, so the wrong ones add their share.",
        ),
        (
            Value("categorical CE = -ln 0.7", ce, "0.357", "nats"),
            Value("sum of per-class BCE", bce, "0.685", "nats"),
        ),
    )


def masking() -> Step:
    pred = _t([0.9, 0.8, 0.1, 0.4, 0.9])
    labels = _t([1.0, 1.0, 0.0, -1.0, 1.0])
    loss = losslab.binary_cross_entropy(pred, labels, from_logits=False).item()
    per = losslab.binary_cross_entropy(pred, labels, from_logits=False, reduction="none")
    return Step(
        "masking",
        "Unknown labels",
        (
            "Five predictions, but the fourth label is unknown, marked -1.",
            "An unknown label must not count as a 0 or a 1.",
            "losslab leaves it out of the loss and of the mean's divisor.",
        ),
        (
            Value("mean BCE over the known labels", loss, "0.1348", "nats"),
            Value("loss at the unknown label", per[3].item(), "0", "nats"),
        ),
    )


def multilabel_softmax() -> Step:
    target = _t([[1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    x = torch.zeros_like(target, requires_grad=True)
    loss = losslab.multilabel_softmax_loss(x, target, mode="normalized")
    (grad,) = torch.autograd.grad(loss, x)
    # The gradient of cross-entropy is softmax(x) - q, so the target the loss pulls
    # towards is q = softmax(x) - gradient (1/8 each at x = 0).
    q = torch.softmax(x.detach(), dim=1) - grad
    return Step(
        "multilabel-softmax",
        "Several labels under one softmax",
        (
            "A sample has three labels out of eight: 1, 0, 0, 0, 1, 1, 0, 0.",
            "A softmax gives one unit of probability to share.",
            "So the target is normalised: each label gets a third.",
            "We read that target off the gradient: softmax minus gradient.",
        ),
        (
            *(Value(f"target of label {i + 1}", q[0, i].item(), "0.333") for i in (0, 4, 5)),
            Value("target of the five others, summed", q[0, [1, 2, 3, 6, 7]].sum().item(), "0"),
        ),
    )


FOCAL_GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)


def focal_curves() -> dict[str, torch.Tensor]:
    """Loss of the true class against its probability p_t, for each gamma."""
    p_t = torch.linspace(0.001, 1.0, 400, dtype=torch.float64)
    ones = torch.ones_like(p_t)
    curves = {"p_t": p_t}
    for g in FOCAL_GAMMAS:
        curves[f"gamma={g:g}"] = losslab.focal_loss(
            p_t, ones, alpha=None, gamma=g, from_logits=False, reduction="none"
        )
    return curves


def focal() -> Step:
    def factor(p: float, gamma: float) -> float:
        # The focal loss of a negative divided by its BCE is exactly the factor p^gamma.
        x, t = _t([p]), _t([0.0])
        fl = losslab.focal_loss(x, t, alpha=None, gamma=gamma, from_logits=False)
        return (fl / losslab.binary_cross_entropy(x, t, from_logits=False)).item()

    quoted = {
        (0.01, 0.5): "0.1",
        (0.01, 1.0): "0.01",
        (0.01, 2.0): "1e-4",
        (0.01, 5.0): "1e-10",
        (0.99, 0.5): "0.995",
        (0.99, 1.0): "0.99",
        (0.99, 2.0): "0.980",
        (0.99, 5.0): "0.951",
    }
    factors = tuple(
        Value(f"factor p^{g:g} of a negative at p = {p}", factor(p, g), q)
        for (p, g), q in quoted.items()
    )
    x, t = _t([0.9]), _t([1.0])
    ce = losslab.binary_cross_entropy(x, t, from_logits=False)
    fl = losslab.focal_loss(x, t, alpha=None, gamma=2.0, from_logits=False)
    return Step(
        "focal",
        "Focal loss",
        (
            "Most examples in detection are easy negatives, and together they drown the rest.",
            "Focal loss multiplies each term by p^gamma, p being the wrong class's probability.",
            "An easy negative at p = 0.01 is almost silenced; a hard one at 0.99 keeps its loss.",
            "At gamma = 2 a positive predicted at 0.9 costs a hundredth of its cross-entropy.",
        ),
        (
            *factors,
            Value("CE / focal at p_t = 0.9, gamma = 2", (ce / fl).item(), "100"),
        ),
        plot="focal.png",
    )


def prior_initialisation() -> Step:
    bias = losslab.prior_bias(0.01)
    anchors, positives = 100_000, 10
    target = torch.zeros(anchors, dtype=torch.float64)
    target[:positives] = 1.0
    values = [Value("bias for prior 0.01", bias, "-4.595")]
    for name, b, quoted in (("bias 0", 0.0, "0.693"), ("prior bias", bias, None)):
        logits = torch.full_like(target, b)
        bce = losslab.binary_cross_entropy(logits, target).item()
        fl = losslab.focal_loss(logits, target, reduction="sum_over_positives").item()
        values.append(Value(f"mean BCE per anchor, {name}", bce, quoted, "nats"))
        values.append(Value(f"focal loss / positives, {name}", fl, None, "nats"))
    return Step(
        "prior",
        "Starting at the prior",
        (
            "A detector scores 100,000 anchors, of which 10 hold an object.",
            "With a bias of 0 every anchor starts at p = 0.5, and each costs ln 2.",
            "The background then dominates the first updates.",
            "A bias of log(0.01 / 0.99) starts every anchor at the prior of 1%.",
            "RetinaNet's focal loss per positive then starts near 1 instead of near 1300.",
        ),
        tuple(values),
    )


VISITORS_PER_YEAR = 10_000


def distribution_curves() -> dict[str, torch.Tensor]:
    """Probability mass or density of the distributions of the last step."""
    k8 = torch.arange(9, dtype=torch.float64)
    rate = VISITORS_PER_YEAR / 365
    k = torch.arange(0, 56, dtype=torch.float64)
    log_rate = torch.full_like(k, math.log(rate))
    minutes = torch.linspace(0, 300, 301, dtype=torch.float64)
    z = torch.linspace(-4, 4, 401, dtype=torch.float64)
    return {
        "binomial_k": k8,
        "binomial": torch.tensor([math.comb(8, int(i)) / 256 for i in k8]),
        "poisson_k": k,
        "poisson": torch.exp(-losslab.poisson_nll_loss(log_rate, k, full=True, reduction="none")),
        "minutes": minutes,
        "exponential": (rate / 1440) * torch.exp(-minutes * rate / 1440),
        "z": z,
        "gaussian": torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi),
    }


def distributions() -> Step:
    # Bernoulli: one trial; its loss is binary cross-entropy.
    coin = losslab.binary_cross_entropy(_t([0.5]), _t([1.0]), from_logits=False).item()

    # Binomial: 8 hourly trials at p = 0.5; P(4) = C(8, 4) e^(-sum of the 8 BCEs).
    hours = _t([1.0] * 4 + [0.0] * 4)
    bce_sum = losslab.binary_cross_entropy(
        torch.full_like(hours, 0.5), hours, from_logits=False, reduction="sum"
    ).item()
    p_four = math.comb(8, 4) * math.exp(-bce_sum)

    # Poisson: only the rate is known; P(k) = e^-loss with the full Poisson loss.
    rate = VISITORS_PER_YEAR / 365
    p_thirty = math.exp(
        -losslab.poisson_nll_loss(_t([math.log(rate)]), _t([30.0]), full=True).item()
    )
    # The binomial over the 1440 minutes of a day, at most one visitor a minute, is close.
    minute_p = rate / 1440
    binom_thirty = math.comb(1440, 30) * minute_p**30 * (1 - minute_p) ** 1410

    # Exponential: the wait between visitors; no visitor in an hour is Poisson's k = 0.
    hourly = VISITORS_PER_YEAR / (365 * 24)
    quiet_hour = math.exp(
        -losslab.poisson_nll_loss(_t([math.log(hourly)]), _t([0.0]), full=True).item()
    )

    # Gaussian: the share within k standard deviations is erf(k / sqrt 2).
    within = [100 * math.erf(k / math.sqrt(2)) for k in (1, 2)]
    outside_six = 1e9 * math.erfc(6 / math.sqrt(2))
    # Its -log-likelihood is (y - mu)^2 / 2 sigma^2 + constant: MSE / 2 at sigma = 1.
    one_sigma = losslab.mean_squared_error(_t([1.0]), _t([0.0])).item() / 2
    return Step(
        "distributions",
        "Distributions and the losses they imply",
        (
            "Every loss here is minus the log-likelihood of some distribution.",
            "One yes-or-no trial is a Bernoulli: its loss is binary cross-entropy.",
            "Count successes over 8 hourly trials at p = 0.5: that is a binomial.",
            "Know only a rate, 10,000 visitors a year, and counts per day are Poisson.",
            "The wait between two visitors is exponential: no visitor in an hour is Poisson's "
            "zero.",
            "Its loss, rate times wait minus log rate, is the Poisson loss of one event, up to "
            "a constant.",
            "Sums of many small effects are Gaussian, and the Gaussian's loss is MSE.",
        ),
        (
            Value("Bernoulli: -ln P(heads), p = 0.5", coin, "0.693", "nats"),
            Value("binomial: P(4 customers of 8 hours)", p_four, "0.273"),
            Value("Poisson: visitors per day", rate, "27.4"),
            Value("Poisson: P(30 visitors in a day)", p_thirty, None),
            Value("binomial per minute: P(30 in a day)", binom_thirty, None),
            Value("exponential: mean wait", 1440 / rate, "52.6", "minutes"),
            Value("exponential: P(no visitor in an hour)", quiet_hour, None),
            Value("Gaussian: within 1 sigma", within[0], "68.3", "%"),
            Value("Gaussian: within 2 sigma", within[1], "95.4", "%"),
            Value("Gaussian: outside 6 sigma", outside_six, "2", "per billion"),
            Value("Gaussian: extra -log-lik. at 1 sigma = MSE / 2", one_sigma, "0.5", "nats"),
        ),
        plot="distributions.png",
    )


STEPS: tuple[Callable[[], Step], ...] = (
    message_lengths,
    someone_elses_code,
    minus_sign,
    certainty,
    block_codes,
    regression,
    sigmoid_softmax,
    convexity,
    categorical,
    masking,
    multilabel_softmax,
    focal,
    prior_initialisation,
    distributions,
)


def steps() -> list[Step]:
    """The whole walk, every number computed now."""
    return [make() for make in STEPS]


# ---------------------------------------------------------------- printing


def _format(value: float | bool | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    return f"{value:.7g}"


def render(walk: Sequence[Step], console) -> int:
    """Print the walk on a rich `console`; return the number of disagreements."""
    from rich.table import Table

    disagreements = []
    for number, step in enumerate(walk, 1):
        console.rule(f"[bold]{number}. {step.title}")
        console.print(" ".join(step.story), highlight=False)
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("quantity")
        table.add_column("losslab", justify="right")
        table.add_column("quoted", justify="right")
        table.add_column("unit")
        table.add_column("")
        for v in step.values:
            mark = {True: "[green]agrees", False: "[bold red]DIFFERS", None: ""}[v.agree]
            table.add_row(v.label, _format(v.computed), _format(v.quoted), v.unit, mark)
            if v.agree is False:
                disagreements.append((number, v))
        console.print(table)
        if step.plot:
            console.print(f"[dim]plot: {step.plot}", highlight=False)

    console.rule()
    count = sum(len(s.values) for s in walk)
    console.print(f"{len(walk)} steps, {count} numbers, {len(disagreements)} disagreeing:")
    for number, v in disagreements:
        console.print(
            f"  step {number}, {v.label}: losslab {_format(v.computed)}, quoted {v.quoted}",
            highlight=False,
        )
    return len(disagreements)


# ---------------------------------------------------------------- plotting


def _figure(ncols: int, nrows: int = 1):
    # A bare Figure draws with the Agg canvas: no display, no pyplot state.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _plot_block_codes(path: Path) -> None:
    h = info.entropy(SKEWED)
    n = list(range(1, 7))
    bits = [info.bits_per_symbol(SKEWED, k) for k in n]
    fig, ax = _figure(1)
    ax = ax[0, 0]
    ax.plot(n, bits, "o-", label="Huffman over blocks of n")
    ax.plot(n, [h + 1 / k for k in n], ":", label="H + 1/n (upper bound)")
    ax.axhline(h, color="k", lw=1, label=f"entropy {h:.3f}")
    ax.set(xlabel="block length n (words)", ylabel="bits per word", title="[0.9, 1/30, 1/30, 1/30]")
    ax.legend()
    fig.savefig(path)


def _plot_regression(path: Path) -> None:
    c = regression_curves()
    fig, ax = _figure(2, 2)
    for row, name in enumerate(("mae", "mse")):
        ax[row, 0].plot(c["prediction"], c[name])
        ax[row, 0].set(ylabel=f"{name.upper()} loss", xlabel="prediction (target 100)")
        ax[row, 1].plot(c["prediction"], c[name + "_grad"], color="C1")
        ax[row, 1].set(ylabel=f"{name.upper()} gradient", xlabel="prediction (target 100)")
    fig.savefig(path)


def _plot_sigmoid_softmax(path: Path) -> None:
    x = torch.linspace(-8, 8, 321, dtype=torch.float64)
    fig, ax = _figure(2)
    ax[0, 0].plot(x, torch.sigmoid(x), label="sigmoid(x)")
    p = torch.linspace(0.001, 0.999, 321, dtype=torch.float64)
    ax[0, 0].plot(losslab.prior_bias(p), p, "--", label="logit, mirrored")
    ax[0, 0].set(xlabel="logit x", ylabel="probability", title="sigmoid, inverse of the logit")
    ax[0, 0].legend()
    scores = torch.stack([x, torch.ones_like(x), torch.full_like(x, 0.1)], dim=1)
    probs = torch.softmax(scores, dim=1)
    for i, label in enumerate(("x", "1", "0.1")):
        ax[0, 1].plot(x, probs[:, i], label=f"class with score {label}")
    ax[0, 1].set(xlabel="score x of class 1", ylabel="probability", title="softmax of [x, 1, 0.1]")
    ax[0, 1].legend()
    fig.savefig(path)


def _plot_convexity(path: Path) -> None:
    c = convexity_curves()
    fig, ax = _figure(2)
    for i, (name, title) in enumerate((("mse", "MSE on sigmoid"), ("bce", "cross-entropy"))):
        ax[0, i].plot(c["weight"], c[name])
        ax[0, i].set(xlabel="weight w", ylabel="mean loss", title=f"{title} over w")
    fig.savefig(path)


def _plot_focal(path: Path) -> None:
    c = focal_curves()
    fig, ax = _figure(1)
    for g in FOCAL_GAMMAS:
        ax[0, 0].plot(c["p_t"], c[f"gamma={g:g}"], label=f"gamma = {g:g}")
    ax[0, 0].set(xlabel="probability of the true class p_t", ylabel="loss (nats)", ylim=(0, 5))
    ax[0, 0].legend()
    fig.savefig(path)


def _plot_distributions(path: Path) -> None:
    c = distribution_curves()
    fig, ax = _figure(2, 2)
    ax[0, 0].bar(c["binomial_k"].numpy(), c["binomial"].numpy())
    ax[0, 0].set(
        title="binomial: 8 hours at p = 0.5", xlabel="customers a day", ylabel="probability"
    )
    ax[0, 1].bar(c["poisson_k"].numpy(), c["poisson"].numpy())
    ax[0, 1].set(
        title="Poisson: 27.4 visitors a day", xlabel="visitors a day", ylabel="probability"
    )
    ax[1, 0].plot(c["minutes"], c["exponential"])
    ax[1, 0].set(
        title="exponential: wait between visitors", xlabel="minutes", ylabel="density per minute"
    )
    ax[1, 1].plot(c["z"], c["gaussian"])
    for k, shade in ((2, 0.15), (1, 0.3)):
        ax[1, 1].axvspan(-k, k, alpha=shade)
    ax[1, 1].set(title="Gaussian: 68.3% within 1 sigma", xlabel="standard deviations")
    fig.savefig(path)


PLOTS: dict[str, Callable[[Path], None]] = {
    "block_codes.png": _plot_block_codes,
    "regression.png": _plot_regression,
    "sigmoid_softmax.png": _plot_sigmoid_softmax,
    "convexity.png": _plot_convexity,
    "focal.png": _plot_focal,
    "distributions.png": _plot_distributions,
}


def save_plots(out_dir: str | Path) -> list[Path]:
    """Draw every plot of the tour as a PNG file in `out_dir` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in PLOTS.items():
        draw(out / name)
        paths.append(out / name)
    return paths
