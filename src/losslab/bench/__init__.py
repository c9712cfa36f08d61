"""`losslab bench`: train small models with each loss on real data and show which wins.

- `data`: the five suites' datasets, built from scikit-learn's handwritten digits.
- `models`: tiny MLP and fully convolutional ensembles, one member per candidate loss.
- `train`: the seeded training loop (`Candidate`, `fit`).
- `suites`: the candidate losses, metrics and budgets of each suite (`SUITES`).
- `run`: one suite over seeds (`run_suite`, `SuiteResult`).
- `report`: statistics, findings, report.md, results.json and plots.
- `userdata`: `--data FILE.npz`.
- `console`: the rich progress bars and tables of the CLI.

It uses losslab only through its public API, as a user would.
"""

from .run import SuiteResult, run_suite
from .suites import SUITES

__all__ = ["SUITES", "SuiteResult", "run_suite"]
