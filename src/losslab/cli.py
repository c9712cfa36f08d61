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
