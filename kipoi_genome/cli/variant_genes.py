"""`score-variants --genes`: per-gene effects next to the window scores (one row per variant x gene)."""

import contextlib
import sys

import numpy as np


def add_gene_arguments(parser):
    """Adds --genes and its options to the score-variants parser."""
    parser.add_argument(
        "--genes",
        default=None,
        help="GTF / GFF3 / TSS BED: add per-gene effects (alt - ref summed over the --tss-bins bins at each "
        "TSS in reach), one row per variant allele x gene; output .tsv, .h5 or .parquet",
    )
    parser.add_argument("--head", default=None, help="head read for --genes (default human, or the only head)")
    parser.add_argument(
        "--tss-bins", type=int, default=3, help="bins summed around each TSS for --genes (default 3: TSS bin ±1)"
    )


def run_with_genes(args):
    """The score-variants run with --genes; returns the exit code."""
    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.data import FastaExtractor
    from kipoi_genome.data.genes import read_genes
    from kipoi_genome.models import load_model
    from kipoi_genome.inference.genes import check_genes, choose_head
    from kipoi_genome.inference.track_selection import select_tracks
    from kipoi_genome.interpret import ScoringSummary, score_variants
    from kipoi_genome.interpret.gene_effects import GeneEffectReader
    from kipoi_genome.interpret.score_writers import score_columns
    from kipoi_genome.cli.score_variants import scoring_options
    from kipoi_genome.models import output_track_labels
    from kipoi_genome.tables import open_table, table_format

    if args.output.endswith(".vcf.gz"):
        raise ValueError(f"--genes writes a table: use .tsv, .h5 or .parquet. Received: --output {args.output!r}")
    table_format(args.output)
    if getattr(args, "runner", None):
        raise ValueError(f"--genes runs locally; it does not take --runner. Received: --runner {args.runner!r}")
    options = scoring_options(args)
    fasta = FastaExtractor(args.fasta)
    genes = read_genes(args.genes)
    check_genes(genes, fasta)
    model = load_model(args.model, precision=args.precision, jit_compile=args.xla)
    require_model(model, "score-variants --genes", args.model)
    head = choose_head(model, args.head)
    track_table = getattr(args, "track_table", None)
    indices, names = select_tracks(model, head, getattr(args, "tracks", None), track_table)
    # Window-score columns named as plain score-variants names them.
    score_names = output_track_labels(dict(model.heads), path=track_table, head=args.head, progress=not args.no_progress)
    reader = GeneEffectReader(model, genes, head, indices, tss_bins=args.tss_bins)
    summary = ScoringSummary()
    stream = score_variants(model, fasta, args.vcf, summary=summary, on_predictions=reader.on_predictions, **options)
    keys = ("chrom", "pos", "id", "ref", "alt", "gene_id", "gene_name", "gene_strand", "tss_count", "tss_distance")
    key_types = {"pos": int, "tss_count": int, "tss_distance": int}
    rows = without_genes = 0
    table = None
    with contextlib.ExitStack() as stack:
        for window, scores in stream:
            columns, values = score_columns(scores, score_names)
            if table is None:
                columns += [f"gene:{name}" for name in names]
                table = stack.enter_context(open_table(args.output, keys, columns, key_types=key_types))
            effects = reader.pop(window)
            if not effects:
                without_genes += 1
            for effect in effects:
                gene = effect.gene
                key = (window.chrom, window.pos, window.id or ".", window.ref, window.alt,
                       gene.id, gene.name, gene.strand, effect.tss_count, effect.distance)
                table.write([key], np.concatenate([np.asarray(values, np.float32), effect.values])[None])
                rows += 1
        if table is None:  # nothing scored: a header-only table
            stack.enter_context(open_table(args.output, keys, [f"gene:{name}" for name in names], key_types=key_types))
    for message in summary.messages:
        print(f"warning: {message}", file=sys.stderr)
    print(
        f"{summary}; {rows} variant x gene rows ({without_genes} alleles with no TSS in reach); wrote {args.output}",
        file=sys.stderr,
    )
    return 0
