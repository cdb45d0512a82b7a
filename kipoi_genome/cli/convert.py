"""`kipoi-genome convert`: official checkpoints -> `.keras` files."""

from kipoi_genome.utils.atomic import atomic_output


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "convert",
        help="convert an official checkpoint to a .keras model",
        description=(
            "Convert an official checkpoint to a Keras 3 `.keras` file that "
            "`keras.saving.load_model` opens after `import kipoi_genome`."
        ),
    )
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    enformer = models.add_parser(
        "enformer",
        help="Enformer from a Sonnet checkpoint or TF-Hub SavedModel",
        description=(
            "Convert an Enformer checkpoint: a tf.train checkpoint prefix (e.g. "
            "sonnet_weights/enformer-fine-tuned-human-1), a directory holding one, or a "
            "TF-Hub SavedModel directory. The architecture is inferred from the "
            "variable shapes; any missing, unused or mis-shaped variable is an error."
        ),
    )
    enformer.add_argument("--checkpoint", required=True, help="checkpoint prefix or directory")
    enformer.add_argument("--output", required=True, help="output file, must end in .keras")
    enformer.add_argument(
        "--sequence-length",
        type=int,
        default=None,
        help="input length in bp of the Keras model (default 196608, the official module's)",
    )
    enformer.add_argument(
        "--target-length", type=int, default=None, help="output bins after the crop (default 896)"
    )
    enformer.add_argument(
        "--positional-basis-length",
        type=int,
        default=None,
        help="token count that parameterises the attention basis; set 1536 when "
        "--sequence-length differs from 196608 to keep the trained basis",
    )
    enformer.set_defaults(func=run_enformer)


def run_enformer(args):
    if not args.output.endswith(".keras"):
        raise ValueError(f"--output must end in .keras. Received: {args.output!r}")
    from kipoi_genome.convert import convert_enformer_checkpoint

    model = convert_enformer_checkpoint(
        args.checkpoint,
        sequence_length=args.sequence_length,
        target_length=args.target_length,
        positional_basis_length=args.positional_basis_length,
    )
    with atomic_output(args.output, suffix=".keras") as tmp:
        model.save(tmp)
    heads = ", ".join(f"{k} {v}" for k, v in model.heads.items())
    print(
        f"wrote {args.output}: Enformer, {model.count_params():,} parameters, "
        f"input ({model.sequence_length}, 4), heads: {heads}"
    )
    return 0
