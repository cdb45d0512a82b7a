"""`kipoi-genome interpret`: contribution scores and attention maps for a region."""

import sys

import numpy as np

from kipoi_genome.utils.atomic import atomic_output


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "interpret",
        help="contribution scores (ISM, gradient x input) or attention maps for a region",
        description=(
            "Explain a track model's prediction for a region, centred in the model's "
            "input window. gradxinput: gradient of the selected outputs times the one-hot "
            "input, one score per base (Enformer: activations recomputed in the backward "
            "pass, a few GB for the published model). ism: effect of every substitution within "
            "--ism-width bp of the centre; the per-base score is minus the mean effect "
            "of the three substitutions (how much the reference base matters); Enformer "
            "reruns its conv trunk only around each substitution. "
            "attention: Enformer attention weights averaged over heads and layers. "
            "Scores go to a bedGraph (.bedgraph) or, with all details, an .npz."
        ),
    )
    parser.add_argument("--model", required=True, help="preset name or .keras file (Enformer)")
    parser.add_argument("--fasta", required=True, help="reference FASTA")
    parser.add_argument("--region", required=True, help="chrom:start-end, 1-based inclusive")
    parser.add_argument("--method", choices=("gradxinput", "ism", "attention"), default="gradxinput")
    parser.add_argument("--head", default=None, help="output head (e.g. human); needed with several")
    parser.add_argument(
        "--tracks",
        default=None,
        help="tracks explained: indices and ranges (4828,10-12) or, with a track table, ASSAY:GLOB patterns "
        "on the description ('CAGE:*K562*'); default all",
    )
    parser.add_argument(
        "--track-table",
        default=None,
        help="local copy of the track table (targets_human.txt[.gz]) for --tracks patterns; default: the "
        "official Enformer table for heads of 5313 (human) / 1643 (mouse) tracks",
    )
    parser.add_argument(
        "--bins", default=None, help="output bins explained, START:END (default: the central bin)"
    )
    parser.add_argument("--ism-width", type=int, default=64, help="bp mutated around the centre (ism)")
    parser.add_argument("--no-progress", action="store_true", help="hide the ism progress bar")
    parser.add_argument("--output", required=True, help="output .bedgraph or .npz")
    parser.set_defaults(func=run)


def parse_bins(text, total):
    if text is None:
        return [total // 2]
    first, colon, last = text.partition(":")
    if not colon or not first.isdigit() or not last.isdigit() or not 0 <= int(first) < int(last) <= total:
        raise ValueError(f"--bins must be START:END within 0..{total}. Received: {text!r}")
    return list(range(int(first), int(last)))


def write_bedgraph(path, chrom, start, values, track_name):
    """One line per base: `chrom start start+1 value`."""
    with atomic_output(path, "w", suffix=".bedgraph") as out:
        out.write(f'track type=bedGraph name="{track_name}"\n')
        for i, value in enumerate(values):
            out.write(f"{chrom}\t{start + i}\t{start + i + 1}\t{value:.6g}\n")


def run(args):
    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.data import parse_region
    from kipoi_genome.models import load_model
    from kipoi_genome.interpret import attention_maps, gradient_times_input, in_silico_mutagenesis
    from kipoi_genome.interpret.windows import model_window

    if not args.output.endswith((".bedgraph", ".npz")):
        raise ValueError(f"--output must end in .bedgraph or .npz. Received: {args.output!r}")
    model = load_model(args.model)
    require_model(model, "interpret", args.model)
    window = model_window(model, args.fasta, parse_region(args.region))
    tracks = None
    if args.tracks is not None or args.track_table is not None:
        from kipoi_genome.inference.track_selection import select_tracks

        heads = getattr(model, "heads", None) or {}
        if args.head is None and len(heads) > 1:
            raise ValueError(
                f"--tracks needs --head: the model has heads {sorted(heads)}. Received: --tracks {args.tracks!r}"
            )
        tracks = [int(t) for t in select_tracks(model, args.head, args.tracks, args.track_table)[0]]
    bins = parse_bins(args.bins, window.output.width // window.bin_size)
    chrom, start = window.input.chrom, window.input.start
    if args.method == "attention":
        maps = attention_maps(model, window.one_hot[None])[0]
        with atomic_output(args.output, "wb", suffix=".npz") as out:
            np.savez_compressed(out, attention=maps, query_bins=np.asarray(bins), chrom=chrom, start=start)
        print(f"wrote attention maps {maps.shape} to {args.output}", file=sys.stderr)
        return 0
    if args.method == "gradxinput":
        scores = gradient_times_input(model, window.one_hot[None], args.head, tracks, bins)[0]
        per_base = scores.sum(axis=-1)
    else:
        if args.ism_width < 1:
            raise ValueError(f"--ism-width must be positive. Received: {args.ism_width}")
        centre = window.one_hot.shape[0] // 2
        positions = range(centre - args.ism_width // 2, centre + (args.ism_width + 1) // 2)
        scores = in_silico_mutagenesis(
            model, window.one_hot, args.head, tracks, bins, positions, progress=not args.no_progress
        )
        per_base = -scores.sum(axis=-1) / 3.0
        chrom, start = chrom, start + positions.start
        per_base, scores = per_base[positions.start : positions.stop], scores[positions.start : positions.stop]
    if args.output.endswith(".npz"):
        with atomic_output(args.output, "wb", suffix=".npz") as out:
            np.savez_compressed(out, scores=scores, per_base=per_base, chrom=chrom, start=start)
    else:
        write_bedgraph(args.output, chrom, start, per_base, f"{args.method} {args.region}")
    print(f"wrote {len(per_base)} per-base {args.method} scores to {args.output}", file=sys.stderr)
    return 0
