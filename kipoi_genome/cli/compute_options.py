"""Command-line flags for how a forward pass runs, shared by the commands that predict."""


def add_compute_arguments(parser, xla=True):
    """Adds `--precision` (and `--xla`) to a command's parser.

    Args:
        parser: the subcommand's `argparse.ArgumentParser`.
        xla: also add `--xla` (the commands whose forward pass can be XLA-compiled).
    """
    parser.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default="float32",
        help="bfloat16: mixed precision, faster on CPUs with AVX-512 BF16/AMX and on GPUs (default float32)",
    )
    if xla:
        parser.add_argument(
            "--xla",
            action="store_true",
            help="XLA-compile the forward pass: on CPU ~4-10%% faster for float32 Enformer but ~1.8 GB more peak memory",
        )
