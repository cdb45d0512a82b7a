"""`kipoi-genome score-variants`: variant effects for a VCF -> TSV or VCF.gz."""

import itertools
import sys

import numpy as np

from kipoi_genome.cli import beam_options, compute_options, variant_genes


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "score-variants",
        help="score the variants of a VCF (alt vs ref) with a model",
        description=(
            "Score every (variant, alternative allele) of a VCF. Track models "
            "(Enformer) compare predictions on reference and alternative windows "
            "centred on the variant (indels: length-preserving windows, see "
            "docs/data_pipelines.md); LOGO masked-LM presets give the zero-shot "
            "log-likelihood ratio, LOGO variant prioritizers a probability. Writes a "
            "TSV (chrom, pos, id, ref, alt, scores...) or, for .vcf.gz outputs, the input "
            "VCF (every record and column kept, bgzipped) with KG_<score> INFO fields added: "
            "Number=A, one entry per ALT allele, the tracks of an allele joined by '|'. "
            "Memory is bounded by one batch."
        ),
    )
    parser.add_argument("--model", required=True, help="preset name or .keras file")
    parser.add_argument("--fasta", required=True, help="reference FASTA (plain or bgzip + .fai/.gzi)")
    parser.add_argument("--vcf", required=True, help="VCF or VCF.gz")
    parser.add_argument("--output", required=True, help="output .tsv or .vcf.gz")
    parser.add_argument(
        "--score",
        choices=("sum", "lfc", "central"),
        default="sum",
        help="track models: sum over bins of alt - ref (default, the Enformer paper's SAD), "
        "log2 fold change of the bin sums, or the sum over --central-bins",
    )
    parser.add_argument("--central-bins", type=int, default=None, help="bins summed by --score central")
    parser.add_argument(
        "--max-shift",
        type=int,
        default=0,
        help="average over shifts of -N..N bp (Enformer used up to 3); default 0",
    )
    parser.add_argument("--rc", action="store_true", help="also average over the reverse strand")
    parser.add_argument("--batch-size", type=int, default=4, help="variants per forward pass (default 4)")
    compute_options.add_compute_arguments(parser)
    parser.add_argument(
        "--on-ref-mismatch",
        choices=("skip", "error"),
        default="skip",
        help="variants whose REF disagrees with the FASTA: skip and count (default) or stop",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--track-table",
        default=None,
        help="local copy of a track table (targets_human.txt[.gz]) naming the score columns of the head of its "
        "size; default: the official Enformer table for heads of 5313 (human) / 1643 (mouse) tracks",
    )
    variant_genes.add_gene_arguments(parser)
    beam_options.add_beam_arguments(parser, "variant alleles", 1000)
    parser.set_defaults(func=run)


def run(args):
    from kipoi_genome.cli.model_checks import inspect_model, require_model
    from kipoi_genome.data import FastaExtractor
    from kipoi_genome.models import load_model
    from kipoi_genome.interpret import ScoringSummary, score_variants
    from kipoi_genome.interpret.logo_scorers import as_variant_scorer
    from kipoi_genome.interpret.score_writers import write_scores_tsv, write_scores_vcf

    if args.genes:  # one row per variant allele x gene in reach
        return variant_genes.run_with_genes(args)
    if not args.output.endswith((".tsv", ".vcf.gz")):
        raise ValueError(f"--output must end in .tsv or .vcf.gz. Received: {args.output!r}")
    options = scoring_options(args)
    beam_options.check_beam_arguments(args)
    summary = ScoringSummary()
    if args.runner:  # the same scores, from an Apache Beam pipeline (docs/scale.md)
        require_model(inspect_model(args.model), "score-variants")  # the workers load the model
        fasta = FastaExtractor(args.fasta)
        stream, track_names = _named_from_first_allele(beam_options.variant_stream(args, options, summary), args)
        stream = _count_undefined(stream, summary)  # the merge counts rows, not NaN rows
    else:
        # The model first: one that cannot score variants fails before any input is read.
        loaded = load_model(args.model, precision=args.precision, jit_compile=args.xla, progress=not args.no_progress)
        require_model(loaded, "score-variants", args.model)
        model = as_variant_scorer(loaded)
        track_names = _track_names(loaded, args)
        fasta = FastaExtractor(args.fasta)
        stream = score_variants(model, fasta, args.vcf, summary=summary, **options)
    if args.output.endswith(".vcf.gz"):
        write_scores_vcf(
            stream, args.output, fasta.chromosome_lengths, vcf=args.vcf, summary=summary, track_names=track_names
        )
    else:
        write_scores_tsv(stream, args.output, track_names=track_names)
    for message in summary.messages:
        print(f"warning: {message}", file=sys.stderr)
    print(f"{summary}; wrote {args.output}", file=sys.stderr)
    return 0


def scoring_options(args):
    """The scoring keyword arguments of `score_variants` from the parsed flags.

    Shared by the local run, `--genes` and the Beam pipeline so that they score alike.

    Raises:
        ValueError: for a negative --max-shift.
    """
    if args.max_shift < 0:
        raise ValueError(f"--max-shift must be >= 0. Received: {args.max_shift}")
    return {
        "score": args.score,
        "shifts": tuple(range(-args.max_shift, args.max_shift + 1)),
        "reverse_complement": args.rc,
        "central_bins": args.central_bins,
        "batch_size": args.batch_size,
        "on_ref_mismatch": args.on_ref_mismatch,
        "progress": not args.no_progress,
    }


def _count_undefined(stream, summary):
    from kipoi_genome.interpret.variant_scoring import is_undefined

    for window, scores in stream:
        summary.undefined += is_undefined(scores)
        yield window, scores


def _named_from_first_allele(stream, args):
    """The Beam path's `(stream, track_names)`: the workers load the model, so the
    heads' track counts come from the first scored allele (labels depend only on
    a head's name and size). Scalar scores (LOGO) keep their names."""
    first = next(stream, None)
    if first is None:
        return iter(()), None
    heads = {name: int(np.size(value)) for name, value in first[1].items() if np.size(value) > 1}
    track_names = None
    if heads:
        from kipoi_genome.models import output_track_labels

        track_names = output_track_labels(heads, path=args.track_table, head=args.head, progress=not args.no_progress)
    return itertools.chain([first], stream), track_names


def _track_names(model, args):
    """Score name (= head) -> track labels for Enformer-like models, else None."""
    heads = getattr(model, "heads", None)
    if not heads:
        return None
    from kipoi_genome.models import output_track_labels

    return output_track_labels(dict(heads), path=args.track_table, head=args.head, progress=not args.no_progress)
