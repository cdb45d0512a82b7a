"""`kipoi-genome train`: train a model from a YAML config under a tf.distribute strategy."""

import argparse
import json
import os

from kipoi_genome.training.distribute import STRATEGIES as STRATEGY_CHOICES

DESCRIPTION = """\
Train a model described by a YAML config (format: docs/training.md; examples in
configs/). One training loop runs under every strategy:

  default      one device (CPU or one GPU)
  mirrored     all local GPUs (or distribute.devices / distribute.num_logical_cpus)
  multiworker  several processes; each reads the cluster from TF_CONFIG
  tpu          a TPU (distribute.tpu names it)

Checkpoints go to OUTPUT_DIR/checkpoints every train.checkpoint_every steps;
running the same command again after a crash resumes from the last one. At the
end OUTPUT_DIR/final.keras holds the trained model, which predict, info,
finetune and the other commands accept (and final.weights.h5 its weights).
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

    from kipoi_genome.training import distribute
    from kipoi_genome.training.finetune import uncompiled_copy
    from kipoi_genome.training.trainer import train
    from kipoi_genome.utils.atomic import atomic_output

    dist = config.distribute
    strategy = distribute.make_strategy(
        dist.strategy, devices=dist.devices, num_logical_cpus=dist.num_logical_cpus, tpu=dist.tpu
    )
    result = train(config, strategy=strategy)
    model_path = None
    if distribute.is_chief(strategy):  # other workers hold the same weights
        model_path = os.path.join(config.output_dir, "final.keras")
        with atomic_output(model_path, suffix=".keras") as tmp:
            uncompiled_copy(result.model).save(tmp)
    summary = {
        "step": result.step,
        "resumed_from": result.resumed_from,
        "last_loss": result.last_loss,
        "output_dir": config.output_dir,
        "model": model_path,
        "evaluation": {
            name: {key: value for key, value in values.items() if not isinstance(value, list)}
            for name, values in result.evaluation.items()
        },
    }
    print(json.dumps(summary))
    return 0
