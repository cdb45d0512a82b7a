"""`kipoi-genome finetune`: a trained model on the user's data -> a `.keras` model."""

import argparse
import json
import os
import sys

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.cli.train import STRATEGY_CHOICES

DESCRIPTION = """\
Fine-tune a preset or .keras model on your data and save a .keras model that
every command (predict, score-variants, export-*) accepts.

LOGO (e.g. --model logo_5mer_chr20_mlm, the pre-trained masked LM): DATA is a
CSV/TSV (plain or .gz) with columns `sequence` (DNA, any length up to 512
tokens per reading frame) and `label` (0/1), optionally `split`
(train/valid/test; without it a seeded stratified 10 % validation split is
made). A sigmoid classifier is trained on the backbone with a random reading
frame and strand per sequence and epoch; the epoch with the best validation
AUROC is kept. At predict time the k frames and both strands are averaged.
With --natural-head the classifier gets a second sigmoid head, trained to
tell the positives from the rows whose `negative_kind` is `shuffled`
(composition-preserving shuffles of the positives, as `promoters build
--negatives gc,gc_cpg,shuffled` writes them); the class head is trained on
every other row. It predicts the product of the two sigmoids, so a sequence
scores high only with the class's composition AND the order of real ones.

Enformer (a preset or .keras): DATA is a YAML file holding a `tracks` data
section as `kipoi-genome train` configs have it (docs/training.md), either a
whole train config (its train/optimizer/evaluation sections are used) or the
data mapping alone, or a Basenji/Enformer TFRecord folder (statistics.json,
tfrecords/train-*.tfr and optionally valid-*.tfr; the head is named after the
folder). Heads for the data's tracks are added (a head of the same
name with another track count is replaced) and trained under the trainer's
strategy, with checkpoints in --checkpoint-dir; running the same command
again resumes. Every BatchNorm layer stays in inference mode (frozen moving
statistics, scale and offset), with --train all too.

--train heads trains the output layer(s) only; --train all (default) the
whole model but BatchNorm.
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a LOGO classifier or Enformer heads on your data (-> .keras)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, metavar="PRESET_OR_KERAS",
                        help="start: a preset name (e.g. logo_5mer_chr20_mlm, enformer) or a .keras file")
    parser.add_argument("--data", required=True,
                        help="LOGO: labelled CSV/TSV of sequences; Enformer: YAML data section / train config, "
                        "or a TFRecord folder")
    parser.add_argument("--output", required=True, metavar="OUT.keras", help="fine-tuned model, must end in .keras")
    parser.add_argument("--train", choices=("heads", "all"), default="all",
                        help="heads: output layer(s) only; all: everything but BatchNorm (default all)")
    parser.add_argument("--epochs", type=int, default=6, help="LOGO: passes over the training rows (default 6)")
    parser.add_argument("--steps", type=int, default=None,
                        help="Enformer: optimizer steps (default: train.steps of the YAML, else 200)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation, split, shuffling (default 0)")
    parser.add_argument("--from-scratch", action="store_true",
                        help="same architecture with random initial weights (the baseline for pre-training)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="LOGO: sequences per step (default 32); Enformer: per-replica batch size")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="peak learning rate (default: LOGO 5e-4; Enformer the YAML's, else 1e-3)")
    parser.add_argument("--strategy", choices=STRATEGY_CHOICES, default=None,
                        help="Enformer: tf.distribute strategy (default: the YAML's, else 'default')")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="Enformer: checkpoints and logs (default: OUT without .keras + '.finetune')")
    parser.add_argument("--natural-head", action="store_true",
                        help="LOGO: add a head telling the positives from the rows whose negative_kind is "
                        "'shuffled'; predictions are the product of both heads")
    parser.add_argument("--metrics", default=None, metavar="FILE.json",
                        help="also write the training history and validation/test metrics as JSON")
    parser.add_argument("--no-progress", action="store_true", help="hide per-epoch / per-step progress lines")
    parser.set_defaults(func=run)


def run(args):
    if not args.output.endswith(".keras"):
        raise ValueError(f"--output must end in .keras. Received: {args.output!r}")
    for name in ("epochs", "steps", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive. Received: {value}")
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ValueError(f"--learning-rate must be positive. Received: {args.learning_rate}")
    if not os.path.exists(args.data):
        raise FileNotFoundError(f"{args.data}: data file not found")

    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.models import load_model
    from kipoi_genome.models import Enformer

    base = load_model(args.model, progress=not args.no_progress)
    require_model(base, "finetune", args.model)
    if isinstance(base, Enformer):
        model, summary = _finetune_enformer(args, base)
    else:
        model, summary = _finetune_logo(args, base)
    from kipoi_genome.training.finetune import uncompiled_copy

    with atomic_output(args.output, suffix=".keras") as tmp:
        uncompiled_copy(model).save(tmp)
    if args.metrics:
        with atomic_output(args.metrics, "w", suffix=".json") as handle:
            json.dump(summary, handle, indent=2, default=float)
    print(json.dumps({key: value for key, value in summary.items() if key != "history"}, default=float))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _finetune_logo(args, base):
    from kipoi_genome.data.sequence_tables import read_sequence_table
    from kipoi_genome.training.finetune import finetune_logo, logo_classifier_from

    if args.steps is not None or args.strategy is not None or args.checkpoint_dir is not None:
        raise ValueError("--steps, --strategy and --checkpoint-dir apply to Enformer; LOGO uses --epochs")
    table = read_sequence_table(args.data, labels=True)
    model = logo_classifier_from(base, from_scratch=args.from_scratch, natural_head=args.natural_head)
    log = None if args.no_progress else (lambda line: print(line, file=sys.stderr, flush=True))
    result = finetune_logo(
        model, table, epochs=args.epochs, train=args.train, seed=args.seed,
        batch_size=args.batch_size or 32, learning_rate=args.learning_rate or 5e-4,
        source=args.data, log=log,
    )
    summary = {"model": args.model, "from_scratch": args.from_scratch, "natural_head": args.natural_head,
               "data": args.data, **result}
    return model, summary


def _finetune_enformer(args, base):
    from kipoi_genome.training.config import TrainConfig, read_yaml_mapping
    from kipoi_genome.training.finetune import finetune_enformer

    if args.natural_head:
        raise ValueError("--natural-head applies to LOGO classifiers, not Enformer")
    if os.path.isdir(args.data):  # a Basenji/Enformer TFRecord folder
        values = {"source": "tfrecords", "data_dir": args.data}
    else:
        values = read_yaml_mapping(args.data)
    full = values if "data" in values else {"data": values}
    config = {
        "task": "tracks",
        "seed": args.seed,
        "output_dir": args.checkpoint_dir or args.output[: -len(".keras")] + ".finetune",
        "distribute": dict(full.get("distribute") or {}),
        "train": {"steps": 200, "checkpoint_every": 50, **(full.get("train") or {})},
        "optimizer": dict(full.get("optimizer") or {"name": "adam", "learning_rate": 1e-3}),
        "data": full["data"],
        "evaluation": full.get("evaluation") or {},
    }
    if args.steps is not None:
        config["train"]["steps"] = args.steps
    if args.batch_size is not None:
        config["train"]["per_replica_batch_size"] = args.batch_size
    if args.learning_rate is not None:
        config["optimizer"]["learning_rate"] = args.learning_rate
    if args.strategy is not None:
        config["distribute"]["strategy"] = args.strategy
    if args.no_progress:
        config["train"]["log_every"] = max(config["train"]["steps"], 1)
    result = finetune_enformer(base, TrainConfig.from_dict(config), train=args.train)
    evaluation = {
        name: {key: value for key, value in values.items() if not isinstance(value, list)}
        for name, values in result.evaluation.items()
    }
    summary = {
        "model": args.model, "train": args.train, "step": result.step, "resumed_from": result.resumed_from,
        "last_loss": result.last_loss, "checkpoint_dir": config["output_dir"], "evaluation": evaluation,
    }
    return result.model, summary
