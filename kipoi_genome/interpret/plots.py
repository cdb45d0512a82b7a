"""Figures of predicted tracks and contribution scores over a region."""

import numpy as np


def plot_region(
    path,
    chrom,
    start,
    end,
    tracks,
    bin_size=128,
    contributions=None,
    genes=(),
    title=None,
):
    """Writes a PNG: one panel per track, contributions, and a gene/TSS row.

    Args:
        path: output `.png`.
        chrom: contig name (for the axis label).
        start, end: 0-based half-open coordinates of the first bin's start and
            the last bin's end (tracks), or of the contribution window.
        tracks: dict label -> float array `[bins]`, bin i covering
            `start + i * bin_size`.
        bin_size: bp per bin.
        contributions: float array `[end - start]` (one score per base), or None.
        genes: iterable of `(start, end, name, strand)` drawn as arrows at TSSs.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = len(tracks) + (contributions is not None) + 1
    fig, axes = plt.subplots(
        panels, 1, figsize=(12, 1.4 * panels + 0.6), sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": [2] * (panels - 1) + [1]},
    )
    axes = axes[:, 0]
    for ax, (label, values) in zip(axes, tracks.items()):
        values = np.asarray(values, dtype=float)
        edges = start + bin_size * np.arange(len(values) + 1)
        ax.stairs(values, edges, fill=True, color="tab:blue")
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    if contributions is not None:
        ax = axes[len(tracks)]
        values = np.asarray(contributions, dtype=float)
        x = start + np.arange(len(values))
        ax.bar(x, values, width=1.0, color=np.where(values >= 0, "tab:red", "tab:green"))
        ax.set_ylabel("contribution", rotation=0, ha="right", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    ax = axes[-1]
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    for gene_start, gene_end, name, strand in genes:
        tss = gene_start if strand != "-" else gene_end
        if not start <= tss <= end:
            continue
        direction = -1 if strand == "-" else 1
        ax.annotate(
            "", xy=(tss + direction * 0.02 * (end - start), 0.3), xytext=(tss, 0.3),
            arrowprops={"arrowstyle": "->", "color": "black"},
        )
        ax.plot([tss, tss], [-0.3, 0.3], color="black", linewidth=1)
        ax.text(tss, -0.7, name, ha="center", fontsize=7)
    ax.set_xlim(start, end)
    ax.set_xlabel(f"{chrom} position (bp)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
