"""`kipoi-genome promoters`: the promoter data set of docs/logo.md and its k-mer baseline."""

import argparse
import json
import sys

from kipoi_genome.utils.atomic import atomic_output

BUILD_DESCRIPTION = """\
Build a promoter table from one FASTA contig and a TSS BED: a 600-bp window
per TSS (-200 ... +400 on the gene's strand; windows with N or overlapping an
earlier one dropped) as positives, one GC-matched random window at least
--min-tss-distance from every TSS per positive as negatives, split by position
into train | valid | test (the test split is the contig's last --test-length
bp, valid the --valid-length bp before it; no window crosses a boundary).
The CSV (columns chrom, start, end, strand, name, gene_type, label, gc, split,
sequence) is what `kipoi-genome finetune --data` reads.
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "promoters",
        help="build the promoter data set from a FASTA and a TSS BED; k-mer baseline on a labelled table",
        description="Promoter data set (docs/logo.md) and the k-mer logistic-regression baseline.",
    )
    commands = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = commands.add_parser(
        "build", help="promoter CSV from a FASTA and a TSS BED", description=BUILD_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--fasta", required=True, help="FASTA (plain or bgzip)")
    build.add_argument("--tss", required=True, help="TSS BED (chrom, start, end, name, score, strand[, gene_type])")
    build.add_argument("--output", required=True, help="CSV (.csv or .csv.gz)")
    build.add_argument("--contig", default=None, help="contig (default: the FASTA's first)")
    build.add_argument("--gene-types", default="protein_coding,lincRNA,antisense",
                       help="comma-separated gene types of the positives (BED column 7), or 'all'")
    build.add_argument("--test-length", type=int, default=10_000_000)
    build.add_argument("--valid-length", type=int, default=5_000_000)
    build.add_argument("--min-tss-distance", type=int, default=5_000)
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(func=run_build)

    baseline = commands.add_parser(
        "kmer-baseline",
        help="k-mer logistic regression on a labelled table (sequence, label, split)",
        description=(
            "L2 logistic regression on the frequencies of all k-mers (both strands pooled, "
            "standardised), C chosen on the valid split's AUROC; test-split AUROC, AUPRC and F1."
        ),
    )
    baseline.add_argument("--data", required=True, help="CSV/TSV with sequence, label and split (train/valid/test)")
    baseline.add_argument("--ks", default="1,2,3,4,5", help="k-mer lengths (default 1,2,3,4,5)")
    baseline.add_argument("--output", default=None, help="JSON file for the results")
    baseline.set_defaults(func=run_kmer_baseline)
    return parser


def run_build(args):
    from kipoi_genome.data.genome_windows import read_contig
    from kipoi_genome.data.promoters import build_promoter_dataset, check_promoter_dataset, read_tss_bed

    sequence, contig = read_contig(args.fasta, args.contig)
    table = build_promoter_dataset(
        sequence, contig, read_tss_bed(args.tss),
        gene_types=None if args.gene_types == "all" else tuple(args.gene_types.split(",")),
        test_length=args.test_length, valid_length=args.valid_length,
        min_tss_distance=args.min_tss_distance, seed=args.seed,
    )
    if not len(table):
        raise ValueError(f"{args.tss}: no TSS of the chosen gene types gives a window on {contig}")
    check_promoter_dataset(table)
    suffix = ".csv.gz" if args.output.endswith(".gz") else ".csv"
    with atomic_output(args.output, suffix=suffix) as path:
        table.to_csv(path, index=False)
    summary = table.groupby(["split", "label"], observed=True).agg(n=("gc", "size"), gc=("gc", "mean"))
    print(summary.to_string())
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def run_kmer_baseline(args):
    from kipoi_genome.data.sequence_tables import read_sequence_table
    from kipoi_genome.training.baselines import KmerLogisticRegression
    from kipoi_genome.training.metrics import binary_metrics

    try:
        ks = tuple(int(k) for k in args.ks.split(","))
    except ValueError:
        raise ValueError(f"--ks must be comma-separated integers. Received: {args.ks!r}") from None
    table = read_sequence_table(args.data, labels=True)
    if "split" not in table.columns:
        raise ValueError(f"{args.data}: the k-mer baseline needs a split column (train/valid/test)")
    parts = {s: table[table["split"] == s] for s in ("train", "valid", "test")}
    for name, part in parts.items():
        if set(part["label"]) != {0, 1}:
            raise ValueError(f"{args.data}: the {name} split needs both labels 0 and 1 ({len(part)} rows)")
    model = KmerLogisticRegression(ks=ks)
    model.fit(list(parts["train"]["sequence"]), parts["train"]["label"], list(parts["valid"]["sequence"]),
              parts["valid"]["label"])
    result = {
        "ks": model.ks, "c": model.c, "validation_auroc_by_c": model.validation,
        "test": binary_metrics(parts["test"]["label"], model.predict_proba(list(parts["test"]["sequence"]))),
    }
    text = json.dumps(result, indent=2, default=str)
    if args.output:
        with atomic_output(args.output, "w", suffix=".json") as handle:
            handle.write(text + "\n")
    print(text)
    return 0
