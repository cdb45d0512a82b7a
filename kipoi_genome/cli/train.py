"""`kipoi-genome train`: train a model from a YAML config under a tf.distribute strategy."""

import argparse
import json

from kipoi_genome.training.distribute import STRATEGIES as STRATEGY_CHOICES

DESCRIPTION = """\
Train a model described by a YAML config (format: docs/training.md; examples in
configs/). One training loop runs under every strategy:

  default      one device (CPU or one GPU)
  mirrored     all local GPUs (or distribute.devices / distribute.num_logical_cpus)
  multiworker  several processes; each reads the cluster from TF_CONFIG
  tpu          a TPU (distribute.tpu names it)

Checkpoints go to OUTPUT_DIR/checkpoints every train.checkpoint_every steps;
running the same command again after a crash resumes from the last one.
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train from a YAML config (tf.distribute; resumable)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, metavar="FILE.yaml", help="training config (YAML)")
    parser.add_argument(
        "--strategy",
        choices=STRATEGY_CHOICES,
        default=None,
        help="distribution strategy; overrides distribute.strategy in the config (default: the config's, else 'default')",
    )
    parser.add_argument("--output-dir", default=None, help="overrides output_dir in the config")
    parser.add_argument("--steps", type=int, default=None, help="overrides train.steps in the config")
    parser.add_argument("--seed", type=int, default=None, help="overrides seed in the config")
    parser.set_defaults(func=run)


def run(args):
    from kipoi_genome.training.config import load_config

    overrides = {}
    if args.strategy is not None:
        overrides["distribute.strategy"] = args.strategy
    if args.output_dir is not None:
        overrides["output_dir"] = args.output_dir
    if args.steps is not None:
        overrides["train.steps"] = args.steps
    if args.seed is not None:
        overrides["seed"] = args.seed
    config = load_config(args.config, overrides)

    from kipoi_genome.training.trainer import train

    result = train(config)
    summary = {
        "step": result.step,
        "resumed_from": result.resumed_from,
        "last_loss": result.last_loss,
        "output_dir": config.output_dir,
        "evaluation": {
            name: {key: value for key, value in values.items() if not isinstance(value, list)}
            for name, values in result.evaluation.items()
        },
    }
    print(json.dumps(summary))
    return 0
