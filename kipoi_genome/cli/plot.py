"""`kipoi-genome plot`: predicted tracks, contributions and genes over a region."""

import sys

import numpy as np

FORMATS = (".png", ".pdf", ".svg")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plot",
        help="figure (PNG/PDF/SVG) of predicted tracks, contribution scores and genes over a region",
        description=(
            "Predict a region (centred in the model's input window) and draw exactly that region: "
            "the chosen tracks, optionally gradient x input contribution scores of the region's "
            "bins (a sequence logo when the region has at most --logo-max-bp bp, else signed "
            "bars), and gene models (exons, introns, coding span, strand) from a GTF/GFF3, BED12 "
            "or BED6 file. The x axis is in bp, kb or Mb of the chromosome."
        ),
    )
    parser.add_argument("--model", required=True, help="preset name or .keras file (Enformer)")
    parser.add_argument("--fasta", required=True, help="reference FASTA")
    parser.add_argument(
        "--region", required=True,
        help="chrom:start-end, 1-based inclusive; at most the model's output span (114,688 bp for Enformer)",
    )
    parser.add_argument("--head", default=None, help="output head (default: the first)")
    parser.add_argument(
        "--tracks", default="0",
        help="tracks: indices like 0,5,10-12 or, with a track table, ASSAY:pattern (default 0)",
    )
    parser.add_argument("--track-table", default=None, help="local copy of the model's track table")
    parser.add_argument("--track-names", default=None, help="comma-separated labels for the selected tracks")
    parser.add_argument("--genes", default=None, help="genes: GTF, GFF3, BED12 (exons) or BED6 (boxes)")
    parser.add_argument(
        "--contributions", action="store_true",
        help="add gradient x input of the selected tracks summed over the region's bins",
    )
    parser.add_argument(
        "--logo-max-bp", type=int, default=200,
        help="draw contributions as a sequence logo for regions up to this length (default 200)",
    )
    parser.add_argument(
        "--highlight", action="append", default=[],
        help="chrom:start-end (1-based) shaded in every panel, e.g. a variant or enhancer; repeatable",
    )
    parser.add_argument("--dpi", type=int, default=200, help="PNG resolution (default 200)")
    parser.add_argument("--output", required=True, help="output .png, .pdf or .svg")
    parser.set_defaults(func=run)


def run(args):
    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.data import parse_region
    from kipoi_genome.data.gene_models import read_gene_models
    from kipoi_genome.models import load_model
    from kipoi_genome.models.enformer.chunked_inference import predict_on_batch
    from kipoi_genome.inference.track_selection import select_tracks
    from kipoi_genome.interpret import gradient_times_input, select_output
    from kipoi_genome.interpret.plots import plot_region, track_title
    from kipoi_genome.interpret.windows import model_window

    if not args.output.lower().endswith(FORMATS):
        raise ValueError(f"--output must end in .png, .pdf or .svg. Received: {args.output!r}")
    if args.logo_max_bp < 0 or args.dpi < 1:
        raise ValueError(f"--logo-max-bp must be >= 0 and --dpi >= 1. Received: {args.logo_max_bp}, {args.dpi}")
    region = parse_region(args.region)
    highlights = []
    for text in args.highlight:
        spot = parse_region(text)
        if spot.chrom != region.chrom or spot.end <= region.start or spot.start >= region.end:
            raise ValueError(f"--highlight must overlap --region {args.region}. Received: {text!r}")
        highlights.append((spot.start, spot.end))
    genes = read_gene_models(args.genes, region.chrom, region.start, region.end) if args.genes else ()
    model = load_model(args.model)
    require_model(model, "plot", args.model)
    head = args.head or next(iter(model.output))
    tracks, names = select_tracks(model, head, args.tracks, args.track_table)
    names = [track_title(name, head) for name in names]
    if args.track_names:
        names = args.track_names.split(",")
        if len(names) != len(tracks):
            raise ValueError(f"--track-names needs {len(tracks)} labels. Received: {args.track_names!r}")
    window = model_window(model, args.fasta, region)
    if region.width > window.output.width:
        raise ValueError(
            f"--region is {region.width:,} bp; the model predicts {window.output.width:,} bp around its centre. "
            f"Received: {args.region!r}"
        )
    outputs = predict_on_batch(model, window.one_hot[None])
    values = np.asarray(select_output(outputs, head, [int(t) for t in tracks]))[0]
    contributions = None
    if args.contributions:
        first = (region.start - window.output.start) // window.bin_size
        last = -(-(region.end - window.output.start) // window.bin_size)
        contributions = gradient_times_input(
            model, window.one_hot[None], head, [int(t) for t in tracks], list(range(first, last))
        )[0]
    plot_region(
        args.output,
        region.chrom,
        region.start,
        region.end,
        {name: values[:, i] for i, name in enumerate(names)},
        tracks_start=window.output.start,
        bin_size=window.bin_size,
        contributions=contributions,
        contributions_start=window.input.start,
        genes=genes,
        title=f"{args.model}: {region.chrom}:{region.start + 1:,}-{region.end:,}",
        logo_max_bp=args.logo_max_bp,
        dpi=args.dpi,
        highlights=highlights,
    )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
