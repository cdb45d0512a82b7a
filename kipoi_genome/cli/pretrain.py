"""`kipoi-genome pretrain logo`: masked-LM pre-training of LOGO on a FASTA."""

import json


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "pretrain",
        help="pre-train a language model on a FASTA (LOGO masked LM)",
        description="Pre-train a language model on a reference FASTA.",
    )
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    logo = models.add_parser(
        "logo",
        help="LOGO masked LM (k-mer ALBERT)",
        description=(
            "Masked-LM pre-training of LOGO on random windows of one FASTA contig (both strands, "
            "windows with too many N skipped, dynamic 15% masking, loss on masked tokens only). "
            "Checkpoints under OUTPUT/checkpoints; rerunning with the same OUTPUT resumes. "
            "Writes OUTPUT/masked_lm.weights.h5, log.csv and result.json (held-out masked-token "
            "accuracy). Runs under the default tf.distribute strategy, or --strategy."
        ),
    )
    logo.add_argument("--fasta", required=True, help="FASTA (plain, gzip or bgzip)")
    logo.add_argument("--output", required=True, help="output folder (created; resumed if present)")
    logo.add_argument("--contig", default=None, help="contig to use (default: the first)")
    logo.add_argument("--train-region", default=None, help="e.g. chr20:0-53025520 (0-based)")
    logo.add_argument("--eval-region", default=None, help="held-out region, e.g. chr20:53025520-63025520")
    logo.add_argument(
        "--holdout", type=int, default=10_000_000,
        help="without --train-region/--eval-region: hold out the last N bp (default 10,000,000)",
    )
    logo.add_argument("--k", type=int, default=5, choices=(3, 4, 5, 6))
    logo.add_argument("--window-length", type=int, default=1004, help="bp per window (default 1004: 200 tokens at k=5)")
    logo.add_argument("--max-n-fraction", type=float, default=0.05)
    logo.add_argument("--steps", type=int, default=1000)
    logo.add_argument("--batch-size", type=int, default=64, help="global batch size")
    logo.add_argument("--learning-rate", type=float, default=1e-3)
    logo.add_argument("--warmup-steps", type=int, default=100)
    logo.add_argument("--checkpoint-every", type=int, default=200)
    logo.add_argument("--eval-every", type=int, default=0, help="held-out evaluation period (0: at the end)")
    logo.add_argument("--eval-windows", type=int, default=256)
    logo.add_argument("--max-minutes", type=float, default=0.0, help="stop and checkpoint after this time (0: none)")
    logo.add_argument("--seed", type=int, default=0)
    logo.add_argument(
        "--backbone", default="{}",
        help='JSON of LogoBackbone overrides, e.g. \'{"hidden_dim": 128}\'',
    )
    logo.add_argument(
        "--strategy", default="default",
        help="tf.distribute strategy: default | mirrored | multiworker | tpu",
    )
    logo.add_argument(
        "--mixed-precision", action="store_true",
        help="bfloat16 compute with float32 weights (AVX-512 BF16 CPUs, GPUs, TPUs)",
    )
    logo.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step")
    logo.add_argument("--no-progress", action="store_true", help="no progress bar")
    logo.set_defaults(func=run)
    return parser


def _strategy(name):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy. Received: --strategy={name!r}")


def run(args):
    from kipoi_genome.training.logo_pretraining import PretrainConfig, pretrain

    config = PretrainConfig(
        fasta=args.fasta,
        output=args.output,
        contig=args.contig,
        train_region=args.train_region,
        eval_region=args.eval_region,
        holdout=args.holdout,
        k=args.k,
        window_length=args.window_length,
        max_n_fraction=args.max_n_fraction,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        eval_windows=args.eval_windows,
        seed=args.seed,
        max_minutes=args.max_minutes,
        backbone=json.loads(args.backbone),
        mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile,
        progress=not args.no_progress,
    )
    result = pretrain(config, strategy=_strategy(args.strategy))
    print(json.dumps(result["heldout"], indent=2))
    return 0
