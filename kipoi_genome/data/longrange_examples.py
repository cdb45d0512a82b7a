"""A synthetic long-range task on real DNA: a distal motif sets the centre's signal.

Each example is a background window — real chromosome sequence
(`background: genome`, with genomic composition and repeats) or uniform
random DNA (`background: random`) — into which `k` motif elements are written,
`k` uniform in `0..max_copies`; an element is the motif repeated
`motif_repeats` times in tandem (a motif array, 256 bp by default), and each
element's centre lies `min_distance..max_distance` bp (default 30-60 kb)
upstream or downstream of the window centre, side and distance drawn
independently (elements never overlap). The target is one track over the
central `target_length` bins, constant over them: `baseline + k * per_copy`.
Nothing near the centre carries information, so a model whose receptive
field around the centre is smaller than `min_distance` cannot beat predicting
the mean (Pearson R ~ 0), while a model that attends over the whole window
can.

`kipoi_genome.training.longrange_data` turns these examples into the
trainer's seeded streams (`source: longrange`).
"""

import numpy as np

from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.transforms import one_hot_encode

__all__ = ["LongRangeExamples"]


class LongRangeExamples:
    """Generates long-range examples from a chromosome (see module docstring).

    Args:
        fasta: str. FASTA holding `chrom`.
        chrom: str. Contig.
        heldout: (start, end). 0-based region reserved for evaluation backgrounds.
        sequence_length, target_length, bin_size: ints. Window and target geometry.
        motif: str. ACGT motif written into the background.
        motif_repeats: int. Tandem copies of the motif in one element.
        max_copies: int. The number of elements k is uniform in 0..max_copies.
        min_distance, max_distance: ints. Distance of each element's centre
            from the window centre, in bp.
        baseline, per_copy: floats. Target = baseline + k * per_copy.
        max_n_fraction: float. Backgrounds with more N are skipped.
        background: str. `"genome"` (windows of `chrom`) or `"random"`
            (uniform i.i.d. bases drawn from the example's generator).
    """

    def __init__(
        self,
        fasta,
        chrom,
        heldout,
        sequence_length=131072,
        target_length=8,
        bin_size=128,
        motif="TTGACGTCATGCGTAC",
        motif_repeats=16,
        max_copies=3,
        min_distance=30000,
        max_distance=60000,
        baseline=0.5,
        per_copy=2.0,
        max_n_fraction=0.01,
        background="genome",
    ):
        if background not in ("genome", "random"):
            raise ValueError(f"`background` must be 'genome' or 'random'. Received: background={background!r}")
        self.background = background
        if not set(motif) <= set("ACGT") or not motif:
            raise ValueError(f"`motif` must be a non-empty ACGT string. Received: motif={motif!r}")
        half = sequence_length // 2
        element = len(motif) * int(motif_repeats)
        if int(motif_repeats) < 1:
            raise ValueError(f"`motif_repeats` must be >= 1. Received: motif_repeats={motif_repeats}")
        if not element // 2 < min_distance <= max_distance or max_distance + element > half:
            raise ValueError(
                "Need element/2 < min_distance <= max_distance and elements inside the window "
                f"(half-length {half}). Received: min_distance={min_distance}, "
                f"max_distance={max_distance}, element length={element}"
            )
        if (max_distance - min_distance) < 2 * max_copies * element:
            raise ValueError(
                "The 30-60 kb style band is too narrow for non-overlapping elements. "
                f"Received: min_distance={min_distance}, max_distance={max_distance}, max_copies={max_copies}"
            )
        self.fasta = FastaExtractor(fasta, uppercase=True, in_memory=True)
        self.chrom = chrom
        self.sequence_length = int(sequence_length)
        self.target_length = int(target_length)
        self.bin_size = int(bin_size)
        self.motif = one_hot_encode(motif).astype(np.float32)  # (m, 4)
        self.element = np.tile(self.motif, (int(motif_repeats), 1))  # (m * repeats, 4)
        self.max_copies = int(max_copies)
        self.min_distance, self.max_distance = int(min_distance), int(max_distance)
        self.baseline, self.per_copy = float(baseline), float(per_copy)
        length = self.fasta.chromosome_length(chrom)
        codes = np.frombuffer(self.fasta.extract_bytes(chrom, 0, length), np.uint8)
        step = 1024
        n_blocks = (codes[: length // step * step].reshape(-1, step) == ord("N")).sum(1)
        blocks = self.sequence_length // step
        n_cumsum = np.concatenate([[0], np.cumsum(n_blocks)])
        first = np.arange(len(n_blocks) - blocks + 1)
        ok = (n_cumsum[first + blocks] - n_cumsum[first]) <= max_n_fraction * self.sequence_length
        starts = first[ok] * step
        inside = (starts >= heldout[0]) & (starts + self.sequence_length <= heldout[1])
        outside = (starts + self.sequence_length <= heldout[0]) | (starts >= heldout[1])
        self.train_starts = starts[outside].astype(np.int64)
        self.eval_starts = starts[inside].astype(np.int64)
        if not len(self.train_starts) or not len(self.eval_starts):
            raise ValueError(f"No usable backgrounds outside/inside heldout={heldout} for {chrom}.")

    def examples(self, rng, starts, count):
        """`count` examples with backgrounds drawn from `starts` by `rng`.

        Returns:
            `(one_hot (count, L, 4), targets (count, T, 1), copies (count,))`.
        """
        if self.background == "random":
            bases = rng.integers(0, 4, size=(count, self.sequence_length))
            one_hot = np.eye(4, dtype=np.float32)[bases]
        else:
            chosen = starts[rng.integers(0, len(starts), size=count)] + rng.integers(0, 1024, size=count)
            one_hot = self.fasta.extract_one_hot_batch(self.chrom, chosen.tolist(), self.sequence_length)
        copies = rng.integers(0, self.max_copies + 1, size=count)
        centre = self.sequence_length // 2
        width = len(self.element)
        for row, k in enumerate(copies):
            placed = []
            while len(placed) < k:
                side = rng.choice([-1, 1])
                middle = centre + side * int(rng.integers(self.min_distance, self.max_distance + 1))
                start = middle - width // 2
                if all(abs(start - other) >= width for other in placed):
                    placed.append(start)
            for start in placed:
                one_hot[row, start : start + width] = self.element
        targets = self.baseline + self.per_copy * copies.astype(np.float32)
        targets = np.broadcast_to(targets[:, None, None], (count, self.target_length, 1))
        return one_hot.astype(np.float32), np.ascontiguousarray(targets, np.float32), copies
