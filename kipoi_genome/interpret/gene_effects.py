"""Variant effects on genes: alt - ref at the TSS bins of the genes in reach.

For each scored variant allele (`score_variants`), the reference and
alternative predictions on the variant-centred window (averaged over shifts
and strands as asked) are read at the TSSs that fall in the window's output
bins, with the same rule as `predict-genes`
(`kipoi_genome.inference.genes`): the bin holding the TSS and its
neighbours (`tss_bins`, default 3), summed; a gene's effect per track is the
sum (or mean) over its TSSs in reach of ``sum(alt - ref)`` over those bins.

A TSS is **in reach** when all of its readout bins lie in the window's output
(for Enformer: within about 57 kb of the variant). Bin coordinates are the
reference window's: the first REF base sits at window index ``L // 2``, bin
``i`` covers ``[start + offset + i * b, start + offset + (i + 1) * b)`` with
``start = POS - 1 - L // 2``. For indels the alternative window's right flank
is shifted by the length change (`kipoi_genome.data.variants`), so its bins
right of the variant are read at the reference coordinates, as in the
paper's eQTL analyses of SNVs.
"""

import dataclasses

import numpy as np

from kipoi_genome.models.enformer.bin_layout import bin_layout


@dataclasses.dataclass(frozen=True)
class GeneEffect:
    """One gene's effect for one variant allele.

    Attributes:
        gene: `kipoi_genome.data.genes.Gene`.
        tss_count: int. The gene's TSSs in reach.
        distance: int. bp from the variant's first REF base to the nearest
            of those TSSs (TSS minus variant: positive downstream in genome
            coordinates).
        values: float32 `[tracks]`: aggregated alt - ref.
    """

    gene: object
    tss_count: int
    distance: int
    values: np.ndarray


class GeneIndex:
    """TSSs of genes by contig, for finding those in a window's reach.

    Args:
        genes: list of `Gene`.
    """

    def __init__(self, genes):
        self.genes = list(genes)
        by_chrom = {}
        for g, gene in enumerate(self.genes):
            for position in gene.tss:
                by_chrom.setdefault(gene.chrom, []).append((position, g))
        self._positions, self._owners = {}, {}
        for chrom, items in by_chrom.items():
            items.sort()
            self._positions[chrom] = np.array([p for p, _ in items], dtype=np.int64)
            self._owners[chrom] = np.array([g for _, g in items], dtype=np.int64)

    def in_span(self, chrom, start, end):
        """`(positions, gene indices)` of the TSSs in `[start, end)`, by position."""
        positions = self._positions.get(chrom)
        if positions is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lo, hi = np.searchsorted(positions, [start, end])
        return positions[lo:hi], self._owners[chrom][lo:hi]


class GeneEffectReader:
    """Collects per-gene effects from `score_variants`' predictions.

    Pass `reader.on_predictions` as `score_variants(on_predictions=...)`; then
    `reader.pop(window)` gives the list of `GeneEffect` of each yielded window.

    Args:
        model: the track model (an Enformer; see `bin_layout`).
        genes: list of `Gene`.
        head: output head to read.
        tracks: int array of track indices, or None for all.
        tss_bins: bins summed around each TSS.
        aggregate: `"sum"` or `"mean"` over a gene's TSSs in reach.
    """

    def __init__(self, model, genes, head, tracks=None, tss_bins=3, aggregate="sum"):
        if aggregate not in ("sum", "mean"):
            raise ValueError(f"`aggregate` must be 'sum' or 'mean'. Received: aggregate={aggregate!r}")
        self.layout = bin_layout(model)
        self.bins = self.layout.readout_bins(tss_bins)
        self.index = GeneIndex(genes)
        self.head, self.tracks, self.aggregate = head, tracks, aggregate
        self._pending = {}

    def reach(self, window):
        """`(positions, gene indices, first readout bin)` of the TSSs in reach of a variant window."""
        layout = self.layout
        start = window.pos - 1 - layout.sequence_length // 2
        first_bp = layout.output_start(start)
        positions, owners = self.index.in_span(window.chrom, first_bp, first_bp + layout.target_length * layout.bin_size)
        tss_bin = (positions - first_bp) // layout.bin_size
        first = tss_bin + (self.bins[0] - layout.centre_bin)
        keep = (first >= 0) & (first + len(self.bins) <= layout.target_length)
        return positions[keep], owners[keep], first[keep]

    def effects(self, window, reference, alternative):
        """`GeneEffect`s of one window from its predictions `[bins, tracks]`, in gene order."""
        positions, owners, first = self.reach(window)
        delta = np.asarray(alternative, np.float64) - np.asarray(reference, np.float64)
        if self.tracks is not None:
            delta = delta[:, self.tracks]
        totals = {}
        for position, owner, bin0 in zip(positions, owners, first):
            value = delta[bin0 : bin0 + len(self.bins)].sum(axis=0)
            total, count, distance = totals.get(owner, (0.0, 0, None))
            offset = int(position) - (window.pos - 1)
            if distance is None or abs(offset) < abs(distance):
                distance = offset
            totals[owner] = (total + value, count + 1, distance)
        result = []
        for owner in sorted(totals):
            total, count, distance = totals[owner]
            values = total / count if self.aggregate == "mean" else total
            result.append(GeneEffect(self.index.genes[owner], count, distance, np.asarray(values, np.float32)))
        return result

    def on_predictions(self, batch, reference, alternative):
        """Callback for `score_variants`: stores the effects of each window of `batch`."""
        ref = reference[self.head] if self.head is not None else next(iter(reference.values()))
        alt = alternative[self.head] if self.head is not None else next(iter(alternative.values()))
        for i, window in enumerate(batch):
            self._pending[id(window)] = self.effects(window, ref[i], alt[i])

    def pop(self, window):
        """The `GeneEffect`s stored for `window` (once)."""
        return self._pending.pop(id(window), [])
