"""`kipoi-genome predict-genes`: gene-level expression at TSSs -> gene x track table."""

import sys

from kipoi_genome.cli import compute_options


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict-genes",
        help="gene-level expression: Enformer read out at each gene's TSSs",
        description=(
            "For each gene of a GTF/GFF3 (transcript TSSs) or TSS BED, centre the model "
            "input on each TSS (forward strand; minus-strand TSS = the transcript's last "
            "base), sum the --tss-bins output bins around the bin holding the TSS, and "
            "sum (or average) over the gene's TSSs. Writes one row per gene (gene_id, "
            "gene_name, chrom, strand, tss_count, then one column per track) as TSV, "
            "HDF5 (.h5) or Parquet (.parquet). The rule and its bin arithmetic are in "
            "docs/enformer.md."
        ),
    )
    parser.add_argument("--model", required=True, help="preset name or .keras file (Enformer)")
    parser.add_argument("--fasta", required=True, help="reference FASTA (plain or bgzip + .fai/.gzi)")
    parser.add_argument(
        "--genes", required=True, help="GTF / GFF3 (.gtf, .gff3, optionally .gz) or TSS BED (name, strand)"
    )
    parser.add_argument("--output", required=True, help="output .tsv, .h5 or .parquet ('-': TSV on stdout)")
    parser.add_argument("--head", default=None, help="output head (default human, or the only head)")
    parser.add_argument(
        "--tracks", default=None, help="tracks to write: indices 4828,5110, ranges 0-9 or 'CAGE:*K562*' (default all)"
    )
    parser.add_argument(
        "--track-table",
        default=None,
        help="local copy of the track table (targets_human.txt[.gz]); default: the official table for heads "
        "of 5313 (human) / 1643 (mouse) tracks",
    )
    parser.add_argument(
        "--tss-bins", type=int, default=3, help="output bins summed around each TSS (default 3: the TSS bin ±1)"
    )
    parser.add_argument(
        "--aggregate",
        choices=("sum", "mean"),
        default="sum",
        help="combine a gene's TSSs by sum (default) or mean",
    )
    parser.add_argument("--rc", action="store_true", help="also average over the reverse-complement pass")
    parser.add_argument("--batch-size", type=int, default=4, help="TSS windows per forward pass (default 4)")
    compute_options.add_compute_arguments(parser, xla=False)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args):
    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.data import FastaExtractor
    from kipoi_genome.data.genes import read_genes
    from kipoi_genome.models import load_model
    from kipoi_genome.inference.genes import bin_layout, check_genes, choose_head, predict_genes
    from kipoi_genome.inference.track_selection import select_tracks
    from kipoi_genome.tables import open_table, table_format

    table_format(args.output)
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be positive. Received: {args.batch_size}")
    fasta = FastaExtractor(args.fasta)
    genes = read_genes(args.genes)
    check_genes(genes, fasta)
    model = load_model(args.model, precision=args.precision)
    require_model(model, "predict-genes", args.model)
    bin_layout(model).readout_bins(args.tss_bins)
    head = choose_head(model, args.head)
    indices, names = select_tracks(model, head, args.tracks, args.track_table)
    stream = predict_genes(
        model,
        fasta,
        genes,
        head=head,
        tracks=indices,
        tss_bins=args.tss_bins,
        aggregate=args.aggregate,
        reverse_complement=args.rc,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    keys = ("gene_id", "gene_name", "chrom", "strand", "tss_count")
    with open_table(args.output, keys, names, key_types={"tss_count": int}) as table:
        for gene, values in stream:
            table.write([(gene.id, gene.name, gene.chrom, gene.strand, len(gene.tss))], values[None])
    if args.output != "-":
        print(f"wrote {len(genes)} genes x {len(names)} tracks to {args.output}", file=sys.stderr)
    return 0
