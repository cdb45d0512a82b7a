"""`kipoi-genome`: entry point dispatching to one module per subcommand.

Each subcommand module defines `add_parser(subparsers)`, which registers its
parser and sets `func` (a callable taking the parsed args and returning an
exit code).
"""

import argparse
import importlib
import os
import sys

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
    "train",
    "info",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kipoi-genome",
        description="Enformer and LOGO in Keras 3: predict, convert, train, export.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"kipoi_genome.cli.{name}").add_parser(subparsers)
    return parser


class CommandError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (CommandError, ValueError, FileNotFoundError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"kipoi-genome {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
