"""`kipoi-genome promoters`: the promoter data set of docs/logo.md, its k-mer baseline and per-negative-kind AUROC."""

import argparse
import json
import sys

from kipoi_genome.utils.atomic import atomic_output

BUILD_DESCRIPTION = """\
Build a promoter table from one FASTA contig and a TSS BED: a 600-bp window
per TSS (-200 ... +400 on the gene's strand; windows with N or overlapping an
earlier one dropped) as positives, split by position into train | valid |
test (the test split is the contig's last --test-length bp, valid the
--valid-length bp before it; no window crosses a boundary), and negatives of
the kinds named by --negatives (comma list, default gc):

  gc        one random window per positive at least --min-tss-distance from
            every TSS, GC within 0.02 of the positive's (widened when none is
            left; the original data set, unchanged by the other kinds)
  gc_cpg    one window per positive at least --min-tss-distance from every
            TSS with GC within 0.02 and CpG count within
            max(--cpg-tolerance, --cpg-relative-tolerance x the positive's);
            none for a positive when no such window is left (never widened)
  shuffled  each positive shuffled keeping its exact dinucleotide counts
            (Altschul-Erickson), with its positive's coordinates and split

--train-shifts adds, for fine-tuning, copies of every train window (positives,
gc, gc_cpg) moved by each offset along its strand (+20: 20 bp downstream), GC
and CpG recounted, and a fresh shuffle of each shifted positive; the shift
column holds the offset (0 for the design's windows, which stay as without
the option). Valid and test rows are never shifted.

Genomic windows of the design never overlap. The CSV (columns chrom, start,
end, strand, name, gene_type, label, negative_kind, gc, cpg, split, shift,
sequence) is what
`kipoi-genome finetune --data` and `kipoi-genome predict --sequences` read;
the summary printed compares the mean GC and CpG count of each kind of
negative with the positives', per split.
"""

EVALUATE_DESCRIPTION = """\
Score the --split rows of a promoter table (promoters build) with a model
(a preset such as logo_promoter_chr20, or a .keras from finetune) and report,
for each kind of negative (negative_kind column; a table without it is one
kind, 'all'), the AUROC and AUPRC of the split's positives against those
negatives alone, then against all of them together, and the Spearman
correlation of the scores with the CpG count (cpg column, else counted in the
sequence) among those negatives. With a name column, each kind is also
scored against only the positives its negatives were drawn for
(matched_positives: for gc_cpg, the positives that found a GC- and
CpG-matched window). LOGO classifiers average the k reading frames and both
strands, as predict --sequences does.
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "promoters",
        help="build the promoter data set from a FASTA and a TSS BED; k-mer baseline; AUROC per negative kind",
        description="Promoter data set (docs/logo.md), the k-mer logistic-regression baseline and a "
        "classifier's AUROC against each kind of negative.",
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
    build.add_argument("--negatives", default="gc", metavar="KINDS",
                       help="comma list of negative kinds: gc, gc_cpg, shuffled (default gc)")
    build.add_argument("--cpg-tolerance", type=int, default=2,
                       help="gc_cpg: smallest CpG-count tolerance (default 2)")
    build.add_argument("--cpg-relative-tolerance", type=float, default=0.1,
                       help="gc_cpg: CpG-count tolerance as a fraction of the positive's count (default 0.1)")
    build.add_argument("--train-shifts", default="", metavar="BP,...",
                       help="data augmentation: also add every train window (positives, gc, gc_cpg; shuffles of the "
                       "shifted positives) moved by each of these offsets along its strand, e.g. "
                       "--train-shifts=-40,-20,20,40 (with '=' when the list starts with a minus; shift column; "
                       "valid and test unchanged; default none)")
    build.set_defaults(func=run_build)

    evaluate = commands.add_parser(
        "evaluate", help="AUROC per kind of negative of scored promoter rows (predict --sequences output)",
        description=EVALUATE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("--model", required=True, metavar="PRESET_OR_KERAS",
                          help="a LOGO classifier: preset name or .keras file")
    evaluate.add_argument("--data", required=True, help="promoter CSV/TSV (sequence, label, split[, negative_kind])")
    evaluate.add_argument("--split", default="test", choices=("train", "valid", "test"),
                          help="rows evaluated (default test)")
    evaluate.add_argument("--output", default=None, help="JSON file for the results")
    evaluate.add_argument("--scores", default=None, metavar="FILE.tsv",
                          help="also write the scored rows (the table's columns but sequence, and probability)")
    evaluate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    evaluate.set_defaults(func=run_evaluate)

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
    from kipoi_genome.data.promoters import (
        build_promoter_dataset, check_promoter_dataset, matching_report, parse_negative_kinds, parse_shifts,
        read_tss_bed,
    )

    negatives = parse_negative_kinds(args.negatives)
    train_shifts = parse_shifts(args.train_shifts)
    if args.cpg_tolerance < 0 or not args.cpg_relative_tolerance >= 0:
        raise ValueError(
            "--cpg-tolerance and --cpg-relative-tolerance must be >= 0. Received: "
            f"{args.cpg_tolerance}, {args.cpg_relative_tolerance}"
        )
    sequence, contig = read_contig(args.fasta, args.contig)
    table = build_promoter_dataset(
        sequence, contig, read_tss_bed(args.tss),
        gene_types=None if args.gene_types == "all" else tuple(args.gene_types.split(",")),
        test_length=args.test_length, valid_length=args.valid_length,
        min_tss_distance=args.min_tss_distance, seed=args.seed, negatives=negatives,
        cpg_tolerance=args.cpg_tolerance, cpg_relative_tolerance=args.cpg_relative_tolerance,
        train_shifts=train_shifts,
    )
    if not len(table):
        raise ValueError(f"{args.tss}: no TSS of the chosen gene types gives a window on {contig}")
    check_promoter_dataset(table)
    suffix = ".csv.gz" if args.output.endswith(".gz") else ".csv"
    with atomic_output(args.output, suffix=suffix) as path:
        table.to_csv(path, index=False)
    print(matching_report(table).to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def run_evaluate(args):
    import pandas as pd

    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.data.errors import InputFileError
    from kipoi_genome.data.promoters import NEGATIVE_KINDS, cpg_count, matched_positives
    from kipoi_genome.data.sequence_tables import read_sequence_table
    from kipoi_genome.inference.sequences import predict_sequence_table, write_prediction_table
    from kipoi_genome.models import load_model

    table = read_sequence_table(args.data, labels=True)
    if "split" not in table.columns:
        raise InputFileError(args.data, 1, "promoters evaluate needs a split column (train/valid/test)",
                             ",".join(map(str, table.columns)))
    part = table[table["split"] == args.split]
    if set(part["label"]) != {0, 1}:
        raise InputFileError(args.data, None, f"the {args.split} split needs both labels 0 and 1 ({len(part)} rows)")
    if "cpg" in part.columns:
        cpg = pd.to_numeric(part["cpg"], errors="coerce")
        for line, value, number in zip(part.index + 2, part["cpg"], cpg):
            if pd.isna(number):
                raise InputFileError(args.data, line, "cpg must be a number", value)
    else:
        cpg = part["sequence"].map(cpg_count)
    model = load_model(args.model, progress=not args.no_progress)
    require_model(model, "promoters evaluate", args.model)
    predictions = predict_sequence_table(model, part, source=args.data, progress=not args.no_progress)
    matched = None
    if "negative_kind" in part.columns:
        kinds = part["negative_kind"]
        if "name" in part.columns:
            matched = {kind: matched_positives(part, kind).to_numpy() for kind in NEGATIVE_KINDS}
    else:
        kinds = pd.Series("all", index=part.index)
    result = {
        "model": args.model, "data": args.data, "split": args.split,
        **promoter_metrics(part["label"].to_numpy(), predictions["probability"].to_numpy(), kinds.to_numpy(),
                           cpg.to_numpy(), matched),
    }
    if args.scores:
        write_prediction_table(predictions, args.scores)
    return _print_json(result, args.output)


def promoter_metrics(labels, scores, kinds, cpg=None, matched=None):
    """AUROC, AUPRC and CpG correlation of scores, per kind of negative.

    Args:
        labels: int array [N], 1 for a promoter, 0 for a negative.
        scores: float array [N].
        kinds: str array [N], each negative's kind (ignored for positives).
        cpg: CpG count per row [N], or None.
        matched: dict kind -> bool array [N] marking the positives that
            kind's negatives were drawn for (`matched_positives`), or None.

    Returns:
        dict: `by_negative_kind` (kind -> n_positive, n_negative, auroc,
        auprc, spearman_cpg: Spearman of the scores with the CpG count
        among those negatives, and with `matched` `matched_positives`: the
        same against those positives only), `all_negatives` (every
        negative), `spearman_cpg_positives`.
    """
    import numpy as np
    from scipy.stats import spearmanr

    from kipoi_genome.training.metrics import auroc, average_precision

    labels, scores = np.asarray(labels).astype(int), np.asarray(scores, np.float64)
    kinds = np.asarray(kinds).astype(str)
    positive = labels == 1

    def metrics(negative, positive=positive):
        keep = positive | negative
        entry = {"n_positive": int(positive.sum()), "n_negative": int(negative.sum()),
                 "auroc": auroc(labels[keep], scores[keep]), "auprc": average_precision(labels[keep], scores[keep])}
        if cpg is not None:
            entry["spearman_cpg"] = float(spearmanr(scores[negative], cpg[negative]).statistic)
        return entry

    result = {"by_negative_kind": {}}
    if not positive.any() or positive.all():
        return result
    for kind in sorted(set(kinds[~positive])):
        negative = ~positive & (kinds == kind)
        result["by_negative_kind"][kind] = entry = metrics(negative)
        if matched is not None and kind in matched:
            entry["matched_positives"] = metrics(negative, positive & np.asarray(matched[kind], bool))
            entry["matched_positives"].pop("spearman_cpg", None)
    result["all_negatives"] = metrics(~positive)
    if cpg is not None:
        result["spearman_cpg_positives"] = float(spearmanr(scores[positive], cpg[positive]).statistic)
    return result


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
    return _print_json(result, args.output)


def _print_json(result, output=None):
    """Prints `result` as JSON and writes it to `output` too (atomically); returns 0."""
    text = json.dumps(result, indent=2, default=lambda value: float(value) if hasattr(value, "__float__") else str(value))
    if output:
        with atomic_output(output, "w", suffix=".json") as handle:
            handle.write(text + "\n")
    print(text)
    return 0
