"""Figures of predicted tracks, contribution scores and genes over a region.

The layout follows genome browsers (pyGenomeTracks) and attribution plots
(tangermeme / gReLU): one panel per track, names on the left, the x axis in
bp / kb / Mb of the named chromosome, exactly the requested region shown;
contribution scores as a sequence logo (letters scaled by score, WebLogo's
classic colours) when the region is short enough to read bases, otherwise as
signed bars; gene models with exons, introns, coding span and strand
chevrons, stacked in rows so that no two genes or labels overlap.
"""

import textwrap

import numpy as np

from kipoi_genome.utils.atomic import atomic_output

BASES = "ACGT"
BASE_COLOURS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}  # WebLogo classic
SIGN_COLOURS = {"positive": "#C0392B", "negative": "#2E86C1"}
HIGHLIGHT = "#FCE38A"  # pale yellow, as genome browsers highlight
TRACK_COLOURS = ("#1F4E79", "#7B2D26", "#2E6B3A", "#6A3D9A", "#B35806", "#01665E")
LOGO_MAX_BP = 200
FIGURE_WIDTH = 10.0  # inches
LEFT, RIGHT = 0.22, 0.96  # axes span of the figure width; track names go left of LEFT
GENE_FONT_SIZE = 7


def track_title(name, head):
    """Panel title of a track from its output name (`track_labels`).

    `human:CNhs11250:CAGE:K562 ENCODE, biol_` -> `CAGE:K562 ENCODE, biol_ (CNhs11250)`:
    the description first, as a reader looks for the assay and cell type.
    Names without a table (`human_4`) are kept.
    """
    parts = name.split(":", 2)
    if len(parts) == 3 and parts[0] == head:
        return f"{parts[2]} ({parts[1]})"
    return name


def position_unit(span):
    """(divisor, unit) for axis labels of a region `span` bp wide."""
    if span >= 2_000_000:
        return 1e6, "Mb"
    if span >= 2_000:
        return 1e3, "kb"
    return 1, "bp"


def _axis_formatter(divisor):
    from matplotlib.ticker import FuncFormatter

    def label(x, _):
        value = x / divisor
        return f"{value:,.0f}" if divisor == 1 else f"{value:,.{3 if divisor == 1e3 else 4}f}".rstrip("0").rstrip(".")

    return FuncFormatter(label)


def text_width_inches(text, size=GENE_FONT_SIZE, style="italic"):
    """Width of `text` drawn at `size` points (matplotlib's default font), in inches."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(size=size, style=style), ismath=False)
    return width / 72.0


def stack_genes(genes, start, end, axis_inches, pad_inches=0.08):
    """Rows for genes so that no two genes (with their labels) overlap.

    A gene's footprint is its visible extent and its name, centred under the
    visible part (kept inside the view), plus `pad_inches` either side.
    Greedy first-fit by start, as pyGenomeTracks does.

    Args:
        genes: list of GeneModel.
        start, end: the view, 0-based half-open.
        axis_inches: width of the axes in inches (for label widths in bp).

    Returns:
        list of (gene, row, label_x), one per gene.
    """
    bp_per_inch = (end - start) / axis_inches
    placed, row_ends = [], []
    for gene in sorted(genes, key=lambda g: (max(g.start, start), g.end)):
        left, right = max(gene.start, start), min(gene.end, end)
        half = text_width_inches(gene.name) * bp_per_inch / 2
        label_x = min(max((left + right) / 2, start + half), end - half)
        footprint = (min(left, label_x - half) - pad_inches * bp_per_inch,
                     max(right, label_x + half) + pad_inches * bp_per_inch)
        row = next((r for r, last in enumerate(row_ends) if last <= footprint[0]), len(row_ends))
        if row == len(row_ends):
            row_ends.append(footprint[1])
        else:
            row_ends[row] = footprint[1]
        placed.append((gene, row, label_x))
    return placed


def _chevron(direction):
    from matplotlib.path import Path

    return Path([(-direction, 1), (0, 0), (-direction, -1)], [Path.MOVETO, Path.LINETO, Path.LINETO])


def draw_genes(ax, genes, start, end, axis_inches):
    """Draws gene models in stacked rows on `ax`; returns the number of rows.

    Artists carry gids for inspection: ``exon:NAME`` (rectangles),
    ``intron:NAME`` (the line), ``strand:NAME`` (chevrons), ``label:NAME``.
    """
    from matplotlib.patches import Rectangle

    placed = stack_genes(genes, start, end, axis_inches)
    rows = 1 + max((row for _, row, _ in placed), default=0)
    bp_per_inch = (end - start) / axis_inches
    for gene, row, label_x in placed:
        y = -row
        left, right = max(gene.start, start), min(gene.end, end)
        ax.plot([left, right], [y, y], color="black", linewidth=0.8, solid_capstyle="butt", gid=f"intron:{gene.name}")
        for exon_start, exon_end in gene.exons:
            for a, b, height in _coding_split(exon_start, exon_end, gene.thick_start, gene.thick_end):
                ax.add_patch(Rectangle((a, y - height / 2), b - a, height, facecolor="#1F3A5F",
                                       edgecolor="none", gid=f"exon:{gene.name}"))
        if gene.strand in ("+", "-"):
            direction = 1 if gene.strand == "+" else -1
            step = 0.18 * bp_per_inch
            xs = np.arange(left + step / 2, right, step)
            if not xs.size:  # a gene shorter than the spacing still shows its strand
                xs = np.array([(left + right) / 2])
            # On exons the chevrons are white so that they stay visible.
            on_exon = np.array([any(a <= x < b for a, b in gene.exons) for x in xs], bool)
            for mask, colour in ((~on_exon, "black"), (on_exon, "white")):
                if mask.any():
                    ax.plot(xs[mask], np.full(mask.sum(), y), linestyle="none", marker=_chevron(direction),
                            markersize=3.5, markeredgewidth=0.8, markeredgecolor=colour, markerfacecolor="none",
                            gid=f"strand:{gene.name}")
        ax.text(label_x, y - 0.36, gene.name, ha="center", va="top", fontsize=GENE_FONT_SIZE, style="italic",
                gid=f"label:{gene.name}", clip_on=True)
    ax.set_ylim(-rows + 0.25, 0.6)
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    return rows


def _coding_split(start, end, thick_start, thick_end):
    """Pieces `(start, end, height)` of an exon: coding full height, UTR half."""
    pieces = []
    a, b = max(start, thick_start), min(end, thick_end)
    if b <= a:
        return [(start, end, 0.25)]
    if start < a:
        pieces.append((start, a, 0.25))
    pieces.append((a, b, 0.5))
    if b < end:
        pieces.append((b, end, 0.25))
    return pieces


_LETTERS = {}


def _letter(base):
    """Outline of a bold letter normalised to the unit square."""
    if base not in _LETTERS:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextPath
        from matplotlib.transforms import Affine2D

        path = TextPath((0, 0), base, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
        box = path.get_extents()
        unit = Affine2D().translate(-box.x0, -box.y0).scale(1 / box.width, 1 / box.height)
        _LETTERS[base] = unit.transform_path(path)
    return _LETTERS[base]


def draw_logo(ax, scores, start):
    """Sequence logo of per-base, per-nucleotide scores `[L, 4]` (ACGT).

    At each position the non-zero scores are stacked, positive ones above
    zero and negative ones below, each letter's height its score (gradient x
    input has one letter per position: the reference base). Patches carry
    the gid ``logo:BASE``.
    """
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import Affine2D

    scores = np.asarray(scores, dtype=float)
    for i, row in enumerate(scores):
        up = down = 0.0
        for j in np.argsort(np.abs(row)):
            value = row[j]
            if value == 0 or not np.isfinite(value):
                continue
            bottom = up if value > 0 else down + value
            place = Affine2D().scale(0.9, abs(value)).translate(start + i + 0.05, bottom)
            path = place.transform_path(_letter(BASES[j]))
            ax.add_patch(PathPatch(path, facecolor=BASE_COLOURS[BASES[j]], edgecolor="none", gid=f"logo:{BASES[j]}"))
            if value > 0:
                up += value
            else:
                down += value
    low, high = min(0.0, np.nanmin(np.minimum(scores, 0).sum(-1))), max(0.0, np.nanmax(np.maximum(scores, 0).sum(-1)))
    margin = 0.05 * ((high - low) or 1.0)
    ax.set_ylim(low - margin, high + margin)
    ax.axhline(0, color="0.6", linewidth=0.5)


def draw_bars(ax, per_base, start, max_steps=4000):
    """Per-base scores as signed bars: positive above zero, negative below.

    Two step artists (gids ``contribution:positive`` / ``contribution:negative``)
    rather than one patch per base, so that PDF/SVG stay small. Regions longer
    than `max_steps` bp are drawn as the envelope of equal blocks (the largest
    positive and the most negative score in each), as browsers summarise
    bigWigs, so that no peak is lost to the pixel grid.
    """
    values = np.nan_to_num(np.asarray(per_base, dtype=float))
    block = -(-len(values) // max_steps)
    padded = np.pad(values, (0, (-len(values)) % block)).reshape(-1, block)
    edges = np.minimum(start + block * np.arange(len(padded) + 1), start + len(values))
    for name, envelope in (("positive", np.maximum(padded.max(1), 0)), ("negative", np.minimum(padded.min(1), 0))):
        ax.stairs(envelope, edges, baseline=0, fill=True, color=SIGN_COLOURS[name], linewidth=0,
                  gid=f"contribution:{name}")
    ax.axhline(0, color="0.6", linewidth=0.5)


def _name_panel(ax, label):
    # Left of the y tick labels (about 0.5 inch), as genome browsers put track titles.
    x = -0.55 / (FIGURE_WIDTH * (RIGHT - LEFT))
    ax.text(x, 0.5, "\n".join(textwrap.wrap(label, 28)) or label, transform=ax.transAxes, ha="right",
            va="center", fontsize=8, gid=f"track-name:{label}")


def region_figure(
    chrom,
    start,
    end,
    tracks=None,
    tracks_start=None,
    bin_size=128,
    contributions=None,
    contributions_start=None,
    genes=(),
    title=None,
    logo_max_bp=LOGO_MAX_BP,
    highlights=(),
):
    """Builds the figure of a region (see `plot_region`); returns the Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.ticker import FormatStrFormatter

    if not 0 <= start < end:
        raise ValueError(f"Region needs 0 <= start < end. Received: start={start}, end={end}")
    tracks = dict(tracks or {})
    span = end - start
    logo = contributions is not None and span <= logo_max_bp
    heights = [1.1] * len(tracks)
    if contributions is not None:
        heights.append(1.4 if logo else 1.1)
    axis_inches = FIGURE_WIDTH * (RIGHT - LEFT)
    gene_rows = 0
    if genes:
        gene_rows = 1 + max(row for _, row, _ in stack_genes(list(genes), start, end, axis_inches))
        heights.append(0.42 * gene_rows + 0.15)
    if not heights:
        raise ValueError("Nothing to plot: give tracks, contributions or genes")
    top_inches = 0.45 if title else 0.15
    fig_height = sum(heights) + 0.55 + top_inches
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(FIGURE_WIDTH, fig_height), sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": heights, "hspace": 0.18},
    )
    fig.subplots_adjust(left=LEFT, right=RIGHT, bottom=0.55 / fig_height, top=1 - top_inches / fig_height)
    axes = list(axes[:, 0])
    for k, (label, values) in enumerate(tracks.items()):
        ax = axes[k]
        values = np.asarray(values, dtype=float)
        edges = tracks_start + bin_size * np.arange(len(values) + 1)
        shown = values[(edges[1:] > start) & (edges[:-1] < end)]
        colour = TRACK_COLOURS[k % len(TRACK_COLOURS)]
        ax.stairs(values, edges, fill=True, color=colour, linewidth=0, gid=f"track:{label}")
        top = float(np.nanmax(shown)) if shown.size else 1.0
        bottom = min(0.0, float(np.nanmin(shown)) if shown.size else 0.0)
        ax.set_ylim(bottom, top * 1.08 if top > 0 else 1.0)
        ax.set_yticks([bottom, top] if top > bottom else [bottom])
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        ax.tick_params(axis="y", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        _name_panel(ax, label)
    if contributions is not None:
        ax = axes[len(tracks)]
        scores = np.asarray(contributions, dtype=float)
        first = start - contributions_start
        if first < 0 or first + span > len(scores):
            raise ValueError(
                f"Contributions cover {contributions_start}-{contributions_start + len(scores)}, "
                f"not the region {start}-{end}"
            )
        scores = scores[first : first + span]
        if logo:
            matrix = scores if scores.ndim == 2 else None
            if matrix is None:
                raise ValueError(f"A logo needs scores [L, 4]. Received: shape {scores.shape}")
            draw_logo(ax, matrix, start)
            handles = [Patch(color=BASE_COLOURS[b], label=b) for b in BASES]
        else:
            draw_bars(ax, scores.sum(-1) if scores.ndim == 2 else scores, start)
            handles = [Patch(color=c, label=f"{name} contribution") for name, c in SIGN_COLOURS.items()]
        ax.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=7, frameon=False,
                  handlelength=1.0, columnspacing=1.0, bbox_to_anchor=(1.0, 1.18))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
        ax.tick_params(axis="y", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        _name_panel(ax, "gradient × input")
    if genes:
        draw_genes(axes[-1], list(genes), start, end, axis_inches)
        _name_panel(axes[-1], "genes")
    for ax in axes:
        for a, b in highlights:  # over the data (filled tracks would hide it), translucent, outlined for 1 bp
            ax.add_patch(Rectangle((a, 0), b - a, 1, transform=ax.get_xaxis_transform(), facecolor=HIGHLIGHT,
                                   edgecolor="#D4A017", linewidth=0.6, alpha=0.45, zorder=5, gid="highlight"))
    divisor, unit = position_unit(span)
    bottom_ax = axes[-1]
    bottom_ax.set_xlim(start, end)
    bottom_ax.xaxis.set_major_formatter(_axis_formatter(divisor))
    bottom_ax.tick_params(axis="x", labelsize=8)
    bottom_ax.set_xlabel(f"{chrom} position ({unit})", fontsize=9)
    if genes:  # the gene panel hides its spine: keep ticks on a visible baseline
        bottom_ax.spines["bottom"].set_visible(True)
    if title:
        fig.suptitle(title, fontsize=10, x=(LEFT + RIGHT) / 2)
    return fig


def plot_region(path, chrom, start, end, tracks=None, tracks_start=None, bin_size=128, contributions=None,
                contributions_start=None, genes=(), title=None, logo_max_bp=LOGO_MAX_BP, dpi=200, highlights=()):
    """Writes a figure of a region: tracks, contribution scores and genes.

    Exactly `[start, end)` is shown: tracks and contributions that extend
    beyond it are cut at the axes.

    Args:
        path: output `.png`, `.pdf` or `.svg` (written atomically).
        chrom: contig name (for the axis label).
        start, end: int. The region, 0-based half-open.
        tracks: dict label -> float array `[bins]`; bin i covers
            `tracks_start + i * bin_size` onwards.
        tracks_start: int. Genomic start of bin 0.
        bin_size: int. bp per bin.
        contributions: float array `[L, 4]` (per base and nucleotide, e.g.
            gradient x input) or `[L]`, position i at `contributions_start + i`;
            must cover the region. Drawn as a logo when the region has at
            most `logo_max_bp` bp (needs `[L, 4]`), else as signed bars of
            the per-base sum.
        contributions_start: int.
        genes: iterable of `GeneModel`.
        title: str or None.
        logo_max_bp: int. Longest region drawn as a logo.
        dpi: int. Resolution of a PNG.
        highlights: iterable of `(start, end)` (0-based half-open) shaded
            in every panel, e.g. a variant or an enhancer.

    Returns:
        None.
    """
    import matplotlib.pyplot as plt

    fig = region_figure(chrom, start, end, tracks, tracks_start, bin_size, contributions, contributions_start,
                        genes, title, logo_max_bp, highlights)
    suffix = "." + str(path).rsplit(".", 1)[-1]
    try:
        with atomic_output(path, suffix=suffix) as tmp:
            fig.savefig(tmp, dpi=dpi, format=suffix[1:])
    finally:
        plt.close(fig)
