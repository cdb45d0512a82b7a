"""`kipoi-genome`: entry point dispatching to one module per subcommand.

Each subcommand module defines `add_parser(subparsers)`, which registers its
parser and sets `func` (a callable taking the parsed args and returning an
exit code).
"""

import importlib
import os
import sys

from kipoi_genome import __version__
from kipoi_genome.cli import errors

# Subcommand modules under kipoi_genome.cli, in --help order.
# Module names; a module may register a dashed command name (export_hub -> export-hub).
SUBCOMMANDS = (
    "predict",
    "predict_genes",
    "score_variants",
    "interpret",
    "plot",
    "convert",
    "export_hub",
    "export_kipoi",
    "pretrain",
    "promoters",
    "train",
    "finetune",
    "info",
)


def build_parser():
    parser = errors.ArgumentParser(
        prog="kipoi-genome",
        description="Enformer and LOGO in Keras 3: predict, convert, train, export.",
    )
    parser.add_argument("--version", action="version", version=f"kipoi-genome {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"kipoi_genome.cli.{name}").add_parser(subparsers)
    return parser


class CommandError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def main(argv=None):
    # `import kipoi_genome` already imported TensorFlow quietly
    # (utils/quiet_import.py); the default also reaches subprocesses.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    # The error contract (one line on stderr, exit 2; docs/errors.md) lives in cli/errors.py.
    with errors.signals_as_exceptions(), errors.held_warnings() as held:
        try:
            return args.func(args) or 0
        except BrokenPipeError:  # output piped into e.g. `head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (CommandError, *errors.expected_errors()) as error:
            held.discard()
            errors.report(args.command, error)
            return errors.EXIT_BAD_INPUT
        except (KeyboardInterrupt, errors.Terminated) as error:
            held.discard()
            return errors.report_interrupt(args.command, error)


if __name__ == "__main__":
    # `python -m kipoi_genome.cli.main`: run the imported module's main, so the
    # CommandError that subcommands import is the one caught.
    from kipoi_genome.cli.main import main as _main

    sys.exit(_main())
