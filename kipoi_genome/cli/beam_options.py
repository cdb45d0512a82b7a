"""`--runner` for `score-variants` and `predict`: the same job as an Apache Beam pipeline.

The commands keep their own readers and writers; with `--runner` they get
their `(record, outputs)` stream from the merged shards of
`kipoi_genome.inference.beam_pipeline` instead of the in-process loop.
"""

import contextlib
import importlib.util
import os
import sys

# The keys of `beam_pipeline.RUNNERS`, spelled out so that building the parser
# does not import TensorFlow (tests check they agree).
RUNNER_NAMES = ("dataflow", "direct", "flink", "portable", "spark")


def add_beam_arguments(parser, unit, default_shard_size):
    """Adds the Beam options to a subcommand parser.

    Args:
        parser: the subcommand's `argparse` parser.
        unit: what a shard holds, for the help text (e.g. "variant alleles").
        default_shard_size: int. Default `--shard-size`.
    """
    group = parser.add_argument_group(
        "Apache Beam (optional extra 'beam'; docs/scale.md)",
        "With --runner the job runs as a Beam pipeline over shards of consecutive records "
        "(one contiguous genomic region each for sorted inputs; workers read the region of a "
        "bgzipped, tabix-indexed VCF themselves); inputs, model and --shard-dir must be paths "
        "every worker can open (no gs:// URLs: stage them on a shared mount); finished shards are kept in "
        "--shard-dir and a rerun computes only the missing ones. The merged output has the same "
        "format and row order as without --runner.",
    )
    group.add_argument(
        "--runner",
        choices=RUNNER_NAMES,
        default=None,
        help="run on Apache Beam: 'direct' in this process (nothing downloaded), or submit to "
        "Dataflow, Flink, Spark or a portable job service; default: no Beam",
    )
    group.add_argument(
        "--beam-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Beam pipeline option, passed as --KEY=VALUE (repeatable), e.g. project=P, region=R, "
        "temp_location=gs://B/tmp, sdk_container_image=IMAGE, direct_num_workers=2",
    )
    group.add_argument(
        "--shard-dir",
        default=None,
        help="folder of the shards, reused by reruns (default: OUTPUT.shards, removed after a successful merge)",
    )
    group.add_argument(
        "--shard-size",
        type=int,
        default=default_shard_size,
        help=f"{unit} per shard (default {default_shard_size})",
    )
    group.add_argument(
        "--large-model",
        action="store_true",
        help="load one model per worker machine, shared by its processes (for the full Enformer)",
    )


def check_beam_arguments(args):
    """Rejects Beam options without `--runner`, and `--runner` without Beam installed."""
    if args.runner is None:
        given = [flag for flag, value in (("--beam-option", args.beam_option), ("--shard-dir", args.shard_dir),
                                          ("--large-model", args.large_model)) if value]
        if given:
            raise ValueError(f"{given[0]} needs --runner. Received: {given[0]} without --runner")
        return
    if args.shard_size < 1:
        raise ValueError(f"--shard-size must be positive. Received: {args.shard_size}")
    from kipoi_genome.inference.beam_pipeline import check_local_paths

    check_local_paths(
        (flag, getattr(args, name, None))
        for flag, name in (("--model", "model"), ("--fasta", "fasta"), ("--vcf", "vcf"), ("--bed", "bed"),
                           ("--output", "output"), ("--shard-dir", "shard_dir"))
    )
    if importlib.util.find_spec("apache_beam") is None:
        raise ValueError(
            f"--runner {args.runner} needs Apache Beam: pip install 'kipoi-genome[beam]'. Received: --runner {args.runner}"
        )


def shard_dir(args):
    """(folder, whether it is the default one) for the run's shards."""
    if args.shard_dir:
        return args.shard_dir, False
    if args.output in (None, "-"):
        raise ValueError("--runner with output to stdout needs --shard-dir. Received: --output -")
    return args.output + ".shards", True


def remove_default_shards(folder):
    """Removes the default shard folder's own files after a successful merge."""
    from kipoi_genome.inference.beam_pipeline import RUN_FILE

    for name in os.listdir(folder):
        if name == RUN_FILE or (name.startswith("shard-") and name.endswith((".json", ".npz"))):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, name))
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def _pipeline_options(args):
    """The keyword arguments both Beam pipelines take from the shared flags."""
    return {
        "precision": args.precision,
        "jit_compile": args.xla,
        "shard_size": args.shard_size,
        "runner": args.runner,
        "beam_options": args.beam_option,
        "large_model": args.large_model,
        "progress": not args.no_progress,
    }


def variant_stream(args, scoring, summary):
    """Runs `score-variants` on Beam; yields the merged `(window, scores)` stream.

    Args:
        args: argparse.Namespace of score-variants.
        scoring: dict. `score_variants` keyword arguments
            (`kipoi_genome.cli.score_variants.scoring_options`).
        summary: ScoringSummary, filled while merging.
    """
    from kipoi_genome.inference import beam_pipeline

    folder, is_default = shard_dir(args)
    report = beam_pipeline.run_variant_pipeline(
        args.model, args.fasta, [args.vcf], folder, **{**scoring, **_pipeline_options(args)}
    )
    beam_pipeline.print_report(report, folder)
    yield from beam_pipeline.merge_variant_shards(report.shards, summary)
    if is_default:
        remove_default_shards(folder)


def region_stream(args, fasta, intervals, tiling=None):
    """Runs `predict` on Beam; yields the merged `(interval, outputs)` stream.

    Args:
        args: argparse.Namespace of predict.
        fasta: FastaExtractor.
        intervals: list of Interval (BED regions; unused with `tiling`).
        tiling: None, or `(contigs, span)` of `--tile-genome`
            (`kipoi_genome.inference.tiling`): shards of consecutive tiles.
    """
    from kipoi_genome.inference import beam_pipeline

    folder, is_default = shard_dir(args)
    if tiling is not None:
        contigs, span = tiling
        report = beam_pipeline.run_tile_pipeline(
            args.model, fasta, contigs, span, folder, batch_size=args.batch_size, **_pipeline_options(args)
        )
    else:
        report = beam_pipeline.run_region_pipeline(
            args.model,
            fasta,
            intervals,
            folder,
            batch_size=args.batch_size,
            use_strand=args.use_strand,
            inputs=[p for p in (args.bed, fasta.path) if p],
            **_pipeline_options(args),
        )
    beam_pipeline.print_report(report, folder, sys.stderr)
    yield from beam_pipeline.merge_region_shards(report.shards)
    if is_default:
        remove_default_shards(folder)
