"""`kipoi-genome plot`: predicted tracks and contributions over a region, as PNG."""

import sys

import numpy as np


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plot",
        help="PNG of predicted tracks (and contribution scores) over a region",
        description=(
            "Predict a region (centred in the model's input window) and draw the chosen "
            "tracks over the output bins, optionally with gradient x input contribution "
            "scores for the central bins and genes/TSSs from a BED file."
        ),
    )
    parser.add_argument("--model", required=True, help="preset name or .keras file (Enformer)")
    parser.add_argument("--fasta", required=True, help="reference FASTA")
    parser.add_argument("--region", required=True, help="chrom:start-end, 1-based inclusive")
    parser.add_argument("--head", default=None, help="output head (default: the first)")
    parser.add_argument("--tracks", default="0", help="comma-separated track indices (default 0)")
    parser.add_argument("--track-names", default=None, help="comma-separated labels for --tracks")
    parser.add_argument("--genes", default=None, help="BED of genes or TSSs (name and strand columns)")
    parser.add_argument(
        "--contributions", action="store_true", help="add gradient x input for the central bins"
    )
    parser.add_argument("--output", required=True, help="output .png")
    parser.set_defaults(func=run)


def run(args):
    from kipoi_genome.cli.interpret import parse_indices
    from kipoi_genome.data import parse_region, read_bed
    from kipoi_genome.inference import load_model
    from kipoi_genome.interpret import gradient_times_input, select_output
    from kipoi_genome.interpret.plots import plot_region
    from kipoi_genome.interpret.windows import model_window

    if not args.output.endswith(".png"):
        raise ValueError(f"--output must end in .png. Received: {args.output!r}")
    tracks = parse_indices(args.tracks, "tracks")
    names = args.track_names.split(",") if args.track_names else [f"track {t}" for t in tracks]
    if len(names) != len(tracks):
        raise ValueError(f"--track-names needs {len(tracks)} labels. Received: {args.track_names!r}")
    model = load_model(args.model)
    head = args.head or next(iter(model.output))
    window = model_window(model, args.fasta, parse_region(args.region))
    outputs = model.predict_on_batch(window.one_hot[None])
    values = np.asarray(select_output(outputs, head, tracks))[0]
    contributions = None
    if args.contributions:
        total = window.output.width // window.bin_size
        centre = [total // 2 - 1, total // 2]
        scores = gradient_times_input(model, window.one_hot[None], head, tracks, centre)[0].sum(-1)
        offset = window.output.start - window.input.start
        contributions = scores[offset : offset + window.output.width]
    genes = []
    if args.genes:
        for interval in read_bed(args.genes):
            if interval.chrom == window.output.chrom:
                genes.append((interval.start, interval.end, interval.name or "", interval.strand))
    plot_region(
        args.output,
        window.output.chrom,
        window.output.start,
        window.output.end,
        {f"{head} {name}": values[:, i] for i, name in enumerate(names)},
        bin_size=window.bin_size,
        contributions=contributions,
        genes=genes,
        title=f"{args.model}: {args.region}",
    )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
