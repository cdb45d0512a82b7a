"""`kipoi-genome pretrain`: LOGO masked-LM pre-training on FASTA contigs, and its held-out evaluation."""

import argparse
import json
import sys

from kipoi_genome.cli.train import STRATEGY_CHOICES
from kipoi_genome.utils.atomic import atomic_output

REGION_HELP = "chrom:start-end, 1-based inclusive as samtools"
HOLDOUT_HELP = (
    "without --train-region/--eval-region: hold out the last N bp of EACH contig (default 10,000,000); "
    "CONTIG=N sets one contig's (repeat: --holdout 10000000 --holdout chrX=7000000)"
)


def _add_genome_arguments(parser):
    parser.add_argument("--fasta", required=True, action="append",
                        help="FASTA (plain or bgzip; indexed on first use); repeat for several")
    parser.add_argument("--contig", action="append", default=None,
                        help="contig to use; repeat for several (default: the first contig of each FASTA)")
    parser.add_argument("--holdout", action="append", default=None, metavar="N|CONTIG=N", help=HOLDOUT_HELP)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "pretrain",
        help="pre-train a language model on a FASTA (LOGO masked LM), evaluate it against Markov chains",
        description="Pre-train a language model on a reference FASTA, or evaluate one on held-out DNA.",
    )
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    logo = models.add_parser(
        "logo",
        help="LOGO masked LM (k-mer ALBERT) on the generic trainer",
        description=(
            "Masked-LM pre-training of LOGO on random windows of FASTA contigs (several: repeat --fasta "
            "and/or --contig; windows drawn across contigs in proportion to their usable length; the last "
            "--holdout bp of each contig held out and evaluated separately; both strands, "
            "windows with too many N skipped, dynamic 15%% masking, loss on masked tokens only), run "
            "by the generic trainer (task logo_mlm, docs/training.md): AdamW, linear warm-up then "
            "cosine decay, checkpoints under OUTPUT/checkpoints; rerunning with the same OUTPUT resumes. "
            "Writes OUTPUT/masked_lm.keras (for finetune and every command), masked_lm.weights.h5, "
            "model_config.json, train_log.jsonl, log.csv and result.json (held-out masked-token "
            "accuracy among the ACGT k-mers and perplexity, per held-out region). --init-from starts "
            "from a trained masked LM's weights (e.g. the shipped logo_5mer_chr20_mlm). Runs under any "
            "tf.distribute strategy."
        ),
    )
    _add_genome_arguments(logo)
    logo.add_argument("--output", required=True, help="output folder (created; resumed if present)")
    logo.add_argument("--train-region", action="append", default=None,
                      help=f"training region, {REGION_HELP}, e.g. chr20:1-53025520; repeat for several")
    logo.add_argument("--eval-region", action="append", default=None,
                      help="held-out region, e.g. chr20:53025521-63025520; repeat for several")
    logo.add_argument(
        "--init-from", default=None, metavar="PRESET_OR_WEIGHTS",
        help="warm start before step 0: a LogoMaskedLM preset (logo_5mer_chr20_mlm), a .keras, a "
             ".weights.h5 with model_config.json beside it, or a pretrain output folder; the backbone "
             "is the source's (a contradicting --backbone or --k is refused)",
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
    logo.add_argument("--max-minutes", type=float, default=0.0,
                      help="stop, checkpoint, evaluate and save after this time (0: none); rerun to continue")
    logo.add_argument("--seed", type=int, default=0)
    logo.add_argument(
        "--backbone", default="{}",
        help='JSON of LogoBackbone overrides, e.g. \'{"hidden_dim": 128}\'',
    )
    logo.add_argument("--strategy", choices=STRATEGY_CHOICES, default="default", help="tf.distribute strategy")
    logo.add_argument(
        "--mixed-precision", action="store_true",
        help="bfloat16 compute with float32 weights (AVX-512 BF16 CPUs, GPUs, TPUs)",
    )
    logo.add_argument("--no-progress", action="store_true", help="log the loss every --steps/10 steps only")
    logo.set_defaults(func=run)

    evaluate = models.add_parser(
        "logo-evaluate",
        help="held-out masked-token accuracy of a LOGO masked LM vs Markov chains",
        description=(
            "Held-out masked-token accuracy (docs/logo.md, table 1): the masked LM, the same "
            "architecture with random weights, and Markov chains over bases (order k and the order "
            "chosen on a validation slice at the end of the training region) on the same masked "
            "windows of the contig's last --holdout bp. With several contigs (repeat --fasta or "
            "--contig) or --orders: the chains of those orders (default 5,10) are counted once on "
            "all training regions and every contig's held-out region is reported. Prints the results as JSON."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_genome_arguments(evaluate)
    evaluate.add_argument("--model", default=None, metavar="PRESET_OR_KERAS",
                          help="masked LM: preset (logo_5mer_chr20_mlm) or .keras (OUTPUT/masked_lm.keras)")
    evaluate.add_argument("--weights", default=None, help="masked_lm.weights.h5 (with --model-config; instead of --model)")
    evaluate.add_argument("--model-config", default=None, help="model_config.json (LogoBackbone config)")
    evaluate.add_argument("--windows", type=int, default=512, help="held-out windows per region (default 512)")
    evaluate.add_argument("--window-length", type=int, default=1004)
    evaluate.add_argument("--max-order", type=int, default=10, help="Markov orders 0..N tried (default 10)")
    evaluate.add_argument("--orders", default=None,
                          help="fixed Markov orders, e.g. 5,10 (no validation slice; the default with several contigs)")
    evaluate.add_argument("--validation-length", type=int, default=5_000_000,
                          help="bp at the end of the training region that choose the Markov order (default 5,000,000)")
    evaluate.add_argument("--output", default=None, help="JSON file for the results")
    evaluate.set_defaults(func=run_evaluate)
    return parser


def run(args):
    from kipoi_genome.training.distribute import make_strategy
    from kipoi_genome.training.logo_tasks import PretrainConfig, pretrain

    try:
        backbone = json.loads(args.backbone)
    except json.JSONDecodeError as error:
        raise ValueError(f"--backbone is not JSON ({error.msg}). Received: {args.backbone!r}") from None
    if not isinstance(backbone, dict):
        raise ValueError(f"--backbone must be a JSON object. Received: {args.backbone!r}")
    from kipoi_genome.data.genome_windows import parse_holdout

    config = PretrainConfig(
        fasta=_single(args.fasta),
        output=args.output,
        contig=_single(args.contig),
        train_region=_single(args.train_region),
        eval_region=_single(args.eval_region),
        holdout=parse_holdout(args.holdout),
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
        backbone=backbone,
        init_from=args.init_from,
        mixed_precision=args.mixed_precision,
        progress=not args.no_progress,
    )
    result = pretrain(config, strategy=make_strategy(args.strategy))
    print(json.dumps(result["heldout"], indent=2))
    return 0


def _single(values):
    """A repeated flag's list -> None, its one value, or the list."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _masked_lm(args):
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM

    if args.model and (args.weights or args.model_config):
        raise ValueError("Give --model, or --weights with --model-config, not both.")
    if args.model:
        from kipoi_genome.models import load_model

        from kipoi_genome.cli.model_checks import require_model

        model = load_model(args.model, progress=False)
        require_model(model, "pretrain logo-evaluate", args.model)
        return model
    if not (args.weights and args.model_config):
        raise ValueError("Give --model, or both --weights and --model-config.")
    with open(args.model_config) as handle:
        try:
            backbone_config = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{args.model_config}: line {error.lineno}: not JSON ({error.msg})") from None
    model = LogoMaskedLM(LogoBackbone.from_config(backbone_config))
    model.load_weights(args.weights)
    return model


def _orders(text):
    try:
        orders = tuple(int(part) for part in text.split(","))
    except ValueError:
        orders = ()
    if not orders or min(orders) < 0:
        raise ValueError(f"--orders takes Markov orders >= 0 separated by commas, e.g. 5,10. Received: {text!r}")
    return orders


def run_evaluate(args):
    from kipoi_genome.data.genome_windows import genome_regions, parse_holdout, read_contigs
    from kipoi_genome.training.baselines import compare_regions_with_markov, compare_with_markov

    model = _masked_lm(args)
    sequences = read_contigs(args.fasta, args.contig)
    holdout = parse_holdout(args.holdout)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if len(sequences) > 1 or args.orders or isinstance(holdout, dict):
        train, held = genome_regions({contig: len(sequence) for contig, sequence in sequences.items()}, holdout=holdout)
        results = compare_regions_with_markov(
            sequences, train, held, model, num_windows=args.windows, window_length=args.window_length,
            orders=_orders(args.orders or "5,10"), log=log,
        )
    else:
        (contig, sequence), = sequences.items()
        if not 0 < holdout < len(sequence):
            raise ValueError(f"--holdout must be inside contig {contig} of length {len(sequence)}. Received: {holdout}")
        results = compare_with_markov(
            sequence, contig, model, holdout=holdout, num_windows=args.windows, window_length=args.window_length,
            orders=tuple(range(0, args.max_order + 1)), validation_length=args.validation_length, log=log,
        )
    text = json.dumps(results, indent=2)
    if args.output:
        with atomic_output(args.output, "w", suffix=".json") as handle:
            handle.write(text + "\n")
    print(text)
    return 0
