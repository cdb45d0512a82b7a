"""`kipoi-genome predict`: a model over BED regions of a FASTA -> TSV or HDF5."""

import contextlib
import functools
import importlib.resources
import sys

import numpy as np

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.cli import beam_options, compute_options

DEFAULT_MODEL = "logo_promoter_chr20"


def _example(name):
    return str(importlib.resources.files("kipoi_genome").joinpath("example_data", name))


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="predict for BED regions of a FASTA (the main job)",
        description=(
            "Run a model over BED regions of a FASTA and write one TSV row per region "
            "(per-track means over output bins for track models), or the full arrays "
            "to HDF5 when --output ends in .h5. With no arguments, runs the default "
            "model on example DNA shipped in the package and prints the TSV."
        ),
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"preset name or .keras file (default {DEFAULT_MODEL})")
    parser.add_argument("--fasta", default=None, help="FASTA file (plain or bgzip + .fai/.gzi); default: shipped example")
    parser.add_argument("--bed", default=None, help="BED file of regions; default: shipped example")
    parser.add_argument(
        "--tile-genome",
        nargs="?",
        const="all",
        default=None,
        metavar="CONTIGS",
        help="instead of --bed: tile whole contigs (all in the FASTA, or comma-separated CONTIGS) with the "
        "model's windows, stepping by its output span (Enformer: 896 bins x 128 bp), so the output bins "
        "cover each contig without gaps or overlaps; one row per window (docs/scale.md)",
    )
    parser.add_argument(
        "--sequences",
        default=None,
        metavar="TABLE",
        help="instead of --fasta/--bed: CSV/TSV (plain or .gz) with a `sequence` column; writes one TSV row per "
        "input row, in order, with the other input columns and `probability` (classifiers) or per-track means",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="output .tsv, .h5 or .parquet file, or a folder with --format bigwig; '-' for stdout (default, "
        "unless only --output-embeddings is given)",
    )
    parser.add_argument(
        "--format",
        choices=("tsv", "h5", "parquet", "bigwig"),
        default=None,
        help="output format (default: from the --output suffix); bigwig: one .bw per track in the --output "
        "folder, 128-bp bins over the predicted regions",
    )
    parser.add_argument("--head", default=None, help="output head for --format bigwig (default human, or the only one)")
    parser.add_argument("--tracks", default=None, help="tracks for --format bigwig, e.g. 4828,5110 or 0-9 (default all)")
    parser.add_argument(
        "--track-table",
        default=None,
        help="local copy of a track table (targets_human.txt[.gz]) naming the tracks of --head or of the head "
        "of its size; default: the official Enformer table for heads of 5313 (human) / 1643 (mouse) tracks",
    )
    parser.add_argument(
        "--output-embeddings",
        default=None,
        help="also write Enformer embeddings (the [bins, 2C] trunk output the heads read) to .h5 or .npy",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="regions per forward pass (default 4)")
    compute_options.add_compute_arguments(parser)
    parser.add_argument("--use-strand", action="store_true", help="reverse-complement minus-strand regions")
    parser.add_argument(
        "--length-policy",
        choices=("warn", "error", "center_crop_pad"),
        default=None,
        help="LOGO classifiers, for regions or sequences of another length than the model was trained on "
        "(600 bp for logo_promoter_chr20): score as they are with one warning, stop, or use the central "
        "window (N-padded when shorter); default: the model's own setting (warn)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    beam_options.add_beam_arguments(parser, "regions", 100)
    parser.set_defaults(func=run)


def _columns(outputs, labels=None):
    names, values = [], []
    for key, value in outputs.items():
        value = np.asarray(value)
        if value.ndim == 0:
            names.append(key)
            values.append(float(value))
        else:
            tracks = value.reshape(-1, value.shape[-1]).mean(axis=0)
            names += labels[key] if labels and key in labels else [f"{key}_{i}" for i in range(len(tracks))]
            values += [float(v) for v in tracks]
    return names, values


def _track_names(outputs, args):
    """Column labels per head: `head:identifier:description` where the head has a track table."""
    from kipoi_genome.models import output_track_labels

    heads = {key: np.shape(value)[-1] for key, value in outputs.items() if np.ndim(value) > 0}
    return output_track_labels(heads, path=args.track_table, head=args.head, progress=not args.no_progress)


def run(args):
    from kipoi_genome.data import FastaExtractor, check_intervals, read_bed
    from kipoi_genome.cli.model_checks import inspect_model, require_model, require_region_widths
    from kipoi_genome.inference import predict_regions
    from kipoi_genome.models import load_model

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be positive. Received: {args.batch_size}")
    if args.sequences:
        return _run_sequences(args)
    beam_options.check_beam_arguments(args)
    if args.tile_genome and args.bed:
        raise ValueError(
            f"--tile-genome predicts whole contigs instead of --bed regions. Received also: --bed {args.bed}"
        )
    fasta = FastaExtractor(args.fasta or _example("chr20_44080000_44220000.fa"))
    intervals = [] if args.tile_genome else read_bed(args.bed or _example("example_regions.bed"))
    check_intervals(intervals, fasta)
    output_format = _output_format(args)
    if args.runner and args.output_embeddings:
        raise ValueError("--runner writes TSV, HDF5, Parquet or bigWig predictions. Received: --output-embeddings")
    # With --runner the workers load the model: its class and inputs are checked from the file.
    # Tiling and bigWig tracks need the model's bin layout here too.
    needs_model = not args.runner or args.tile_genome or output_format == "bigwig"
    model = load_model(
        args.model, precision=args.precision, jit_compile=args.xla, progress=not args.no_progress
    ) if needs_model else None
    command = ("predict --output-embeddings" if args.output_embeddings
               else "predict --format bigwig" if output_format == "bigwig"
               else "predict --tile-genome" if args.tile_genome else "predict")
    info = require_model(inspect_model(args.model) if model is None else model, command, args.model)
    tiling = None
    if args.tile_genome:
        tiling, intervals = _genome_tiles(args, model, fasta)
    require_region_widths(info, intervals)
    _set_length_policy(model, args)
    if args.output_embeddings:
        _write_embeddings(args, model, fasta, intervals)
        if args.output is None:
            return 0
    args.output = args.output or "-"
    if args.runner:  # the same outputs, from an Apache Beam pipeline (docs/scale.md)
        stream = beam_options.region_stream(args, fasta, intervals, tiling)
    else:
        stream = predict_regions(
            model, fasta, intervals, args.batch_size, args.use_strand, progress=not args.no_progress
        )
    namer = functools.partial(_track_names, args=args)
    if output_format == "bigwig":
        _write_bigwig(args, model, fasta, stream)
    elif output_format == "parquet":
        _write_parquet(stream, args.output, namer)
    elif output_format == "h5":
        _write_hdf5(stream, args.output, len(intervals), namer)
    else:
        _write_tsv(stream, args.output, namer)
    if args.output != "-":
        print(f"wrote {len(intervals)} regions to {args.output}", file=sys.stderr)
    return 0


def _set_length_policy(model, args):
    """Applies --length-policy to a LOGO sequence classifier; any other use is an error."""
    if args.length_policy is None:
        return
    if args.runner:
        raise ValueError(f"--length-policy is not passed to --runner workers. Received: --length-policy {args.length_policy}")
    if not hasattr(model, "length_policy"):
        raise ValueError(
            f"--length-policy applies to LOGO sequence classifiers. Received: --model {args.model} "
            f"({type(model).__name__})"
        )
    model.length_policy = args.length_policy


def _genome_tiles(args, model, fasta):
    """`((contigs, span), tiles)` of --tile-genome (kipoi_genome.inference.tiling)."""
    from kipoi_genome.inference.genes import bin_layout
    from kipoi_genome.inference.tiling import genome_tiles, tile_contigs, tile_span

    span = tile_span(bin_layout(model))
    contigs = tile_contigs(fasta.chromosome_lengths, args.tile_genome, fasta.path)
    return (contigs, span), genome_tiles(contigs, span)


def _run_sequences(args):
    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.data.sequence_tables import read_sequence_table
    from kipoi_genome.models import load_model
    from kipoi_genome.inference.sequences import predict_sequence_table, write_prediction_table

    others = [flag for flag, value in (("--fasta", args.fasta), ("--bed", args.bed), ("--runner", args.runner),
                                       ("--tile-genome", args.tile_genome),
                                       ("--output-embeddings", args.output_embeddings), ("--format", args.format))
              if value]
    if others:
        raise ValueError(f"--sequences writes a TSV from a table alone. Received also: {', '.join(others)}")
    table = read_sequence_table(args.sequences)
    model = load_model(args.model, precision=args.precision, jit_compile=args.xla, progress=not args.no_progress)
    require_model(model, "predict --sequences", args.model)
    _set_length_policy(model, args)
    predictions = predict_sequence_table(
        model, table, batch_size=args.batch_size, source=args.sequences, progress=not args.no_progress
    )
    write_prediction_table(predictions, args.output or "-")
    if (args.output or "-") != "-":
        print(f"wrote {len(predictions)} rows to {args.output}", file=sys.stderr)
    return 0


def _write_tsv(stream, path, namer=None):
    if path == "-":
        _write_rows(stream, sys.stdout, namer)
        return
    with atomic_output(path, "w", suffix=".tsv") as out:
        _write_rows(stream, out, namer)


def _write_rows(stream, out, namer=None):
    labels = None
    for i, (interval, outputs) in enumerate(stream):
        if i == 0 and namer is not None:
            labels = namer(outputs)
        names, values = _columns(outputs, labels)
        if i == 0:
            out.write("\t".join(["chrom", "start", "end", "name", "strand", *names]) + "\n")
        fields = [interval.chrom, interval.start, interval.end, interval.name or ".", interval.strand]
        out.write("\t".join(map(str, fields)) + "\t" + "\t".join(f"{v:.6g}" for v in values) + "\n")


def _write_hdf5(stream, path, count, namer=None):
    import h5py

    # libver v108+: attributes over 64 kB (5,313 track names) use dense storage (HDF5 >= 1.8 reads it).
    with atomic_output(path, suffix=".h5") as tmp, h5py.File(tmp, "w", libver=("v108", "latest")) as h5:
        regions = []
        for i, (interval, outputs) in enumerate(stream):
            labels = namer(outputs) if i == 0 and namer is not None else None
            for key, value in outputs.items():
                if key not in h5:
                    h5.create_dataset(key, shape=(count, *np.shape(value)), dtype="float32")
                    if labels and key in labels:  # names along the last axis
                        h5[key].attrs["track_names"] = np.array(labels[key], dtype=h5py.string_dtype())
                h5[key][i] = value
            regions.append((interval.chrom, interval.start, interval.end, interval.name or "."))
        h5.create_dataset("chrom", data=[r[0] for r in regions], dtype=h5py.string_dtype())
        h5.create_dataset("start", data=np.array([r[1] for r in regions], dtype="int64"))
        h5.create_dataset("end", data=np.array([r[2] for r in regions], dtype="int64"))
        h5.create_dataset("name", data=[r[3] for r in regions], dtype=h5py.string_dtype())


def _output_format(args):
    """--format, else from the --output suffix; checks --output-embeddings' suffix early."""
    from kipoi_genome.inference.embeddings import check_embedding_path

    if args.output_embeddings:
        check_embedding_path(args.output_embeddings)
    if args.format == "bigwig":
        if not args.output or args.output == "-":
            raise ValueError(f"--format bigwig needs an --output folder. Received: {args.output!r}")
        return "bigwig"
    if args.format is not None:
        return args.format
    output = (args.output or "-").lower()
    # Any other suffix is TSV, as before Parquet existed.
    return "h5" if output.endswith((".h5", ".hdf5")) else "parquet" if output.endswith(".parquet") else "tsv"


def _write_embeddings(args, model, fasta, intervals):
    from kipoi_genome.inference.embeddings import embed_regions, write_embeddings

    stream = embed_regions(model, fasta, intervals, args.batch_size, args.use_strand, progress=not args.no_progress)
    rows = write_embeddings(stream, args.output_embeddings, len(intervals))
    print(f"wrote embeddings of {rows} regions to {args.output_embeddings}", file=sys.stderr)


def _write_bigwig(args, model, fasta, stream):
    from kipoi_genome.inference.browser_tracks import write_bigwigs
    from kipoi_genome.inference.genes import bin_layout, choose_head
    from kipoi_genome.inference.track_selection import select_tracks

    layout = bin_layout(model)
    head = choose_head(model, args.head)
    indices, names = select_tracks(model, head, args.tracks, args.track_table)
    summary = write_bigwigs(
        stream, args.output, fasta.chromosome_lengths, layout, head, indices, names,
        use_strand=args.use_strand, progress=not args.no_progress,
    )
    if summary["dropped_overlap"]:
        print(f"warning: {summary['dropped_overlap']} bins overlapping an earlier region were left out",
              file=sys.stderr)
    print(f"wrote {len(summary['files'])} bigWig files ({summary['bins']} bins each) to {args.output}",
          file=sys.stderr)


def _write_parquet(stream, path, namer=None):
    from kipoi_genome.tables import open_table

    keys = ("chrom", "start", "end", "name", "strand")
    table = labels = None
    with contextlib.ExitStack() as stack:
        for interval, outputs in stream:
            if table is None and namer is not None:
                labels = namer(outputs)
            names, values = _columns(outputs, labels)
            if table is None:
                table = stack.enter_context(open_table(path, keys, names, key_types={"start": int, "end": int}))
            key = (interval.chrom, interval.start, interval.end, interval.name or ".", interval.strand)
            table.write([key], np.asarray(values)[None])
