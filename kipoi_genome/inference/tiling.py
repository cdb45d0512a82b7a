"""Whole-genome tiling: model windows whose output bins cover contigs end to end.

A track model with a `BinLayout` (Enformer: 196,608 bp in, 896 bins of
128 bp out over the central 114,688 bp) predicts the span ``S = T * b`` at
the centre of its ``L``-bp window. Tile ``k`` of a contig is the output span
``[k * S, (k + 1) * S)``; its window is that span resized to ``L`` around its
centre (``[k * S - offset, k * S - offset + L)``, as `predict_regions` reads
any region), so the output bins of consecutive tiles meet without gaps or
overlaps. A contig of length ``n`` gets ``ceil(n / S)`` tiles:

* the first window starts ``offset`` bp before the contig (N there), and the
  last tile runs past the contig end: its window is N-padded and its bins
  from the contig end on cover no sequence (the bigWig writer drops them);
* windows over N only (assembly gaps) are predicted like any other; their
  outputs are the model's response to no sequence.
"""

from kipoi_genome.data import Interval


def tile_span(layout):
    """Output bp per tile (``T * b``) of a `BinLayout`, checked to tile exactly.

    Raises:
        ValueError: if resizing a tile to the window does not put the first
            output bin at the tile start (an odd layout).
    """
    span = layout.target_length * layout.bin_size
    probe = Interval("probe", span, 2 * span).resize(layout.sequence_length)
    if layout.output_start(probe.start) != span:
        raise ValueError(
            f"The model's output bins do not sit at the centre of its window, so its windows cannot tile a "
            f"contig. Received: layout={layout}"
        )
    return span


def tile_contigs(chrom_lengths, contigs=None, source=None):
    """The contigs to tile, in FASTA-index order, checked against the FASTA.

    Args:
        chrom_lengths: dict contig -> length, in FASTA-index order.
        contigs: None or ``"all"`` (every contig), or a comma-separated
            string or list of contig names (tiled in the order given).
        source: FASTA path, for the error message.

    Returns:
        list of (contig, length).

    Raises:
        ValueError: for an empty selection, or a contig not in the FASTA.
    """
    if contigs is None or contigs == "all":
        return list(chrom_lengths.items())
    names = [c.strip() for c in contigs.split(",")] if isinstance(contigs, str) else list(contigs)
    if not names or not all(names):
        raise ValueError(f"Contigs to tile must be comma-separated names. Received: {contigs!r}")
    missing = [name for name in names if name not in chrom_lengths]
    if missing:
        raise ValueError(
            f"{source or 'FASTA'}: contig to tile not in the FASTA index (it has {', '.join(list(chrom_lengths)[:5])}"
            f"{', ...' if len(chrom_lengths) > 5 else ''}). Received: {missing[0]!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Each contig to tile must be named once. Received: {contigs!r}")
    return [(name, chrom_lengths[name]) for name in names]


def tile_count(length, span):
    """int: tiles of `span` bp covering a contig of `length` bp (``ceil(length / span)``)."""
    return -(-int(length) // int(span))


def contig_tiles(chrom, span, first, count):
    """Tiles `first` .. `first + count - 1` of `chrom`, as `Interval` (output spans, unstranded)."""
    return [Interval(chrom, k * span, (k + 1) * span) for k in range(first, first + count)]


def genome_tiles(contigs, span):
    """All tiles of `contigs` (list of (contig, length)), contig by contig."""
    tiles = []
    for chrom, length in contigs:
        tiles += contig_tiles(chrom, span, 0, tile_count(length, span))
    return tiles
