"""Annotation-derived tracks of one chromosome, binned: the `genome` training data.

`GenomeTracks` reads a chromosome from a FASTA and CpG-island / TSS BEDs once
and holds, per bin of `bin_size` bp:

- `cpg_island`: fraction of the bin covered by CpG islands (merged, see
  `binned_coverage`);
- `tss_density`: number of TSS (both strands) within +-`tss_window` bp of the
  bin centre;
- `gc`: G+C fraction of the bin's sequence.

All three are strand-symmetric, so reverse-complement augmentation (which
reverses the bins) keeps them valid. `valid_starts` lists bin-aligned windows
with few N, `batch` cuts one-hot windows and their central target bins. The
training side (`kipoi_genome.training.genome_data`) turns these into
seeded tf.data streams.
"""

import numpy as np

from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import binned_coverage, iter_bed

__all__ = ["GENOME_TRACKS", "GenomeTracks"]

GENOME_TRACKS = ("cpg_island", "tss_density", "gc")


class GenomeTracks:
    """Sequence and binned annotation tracks of one chromosome, in memory.

    Args:
        fasta: str. FASTA file (bgzip allowed) holding `chrom`.
        chrom: str. Contig name.
        tracks: sequence of str from `GENOME_TRACKS`.
        cpg_islands: str or None. CpG-island BED (needed for `cpg_island`).
        tss: str or None. TSS BED (needed for `tss_density`).
        bin_size: int. Bin width in bp. Defaults to 128.
        tss_window: int. Half-width in bp of the TSS count window.
    """

    def __init__(self, fasta, chrom, tracks, cpg_islands=None, tss=None, bin_size=128, tss_window=1000):
        unknown = [t for t in tracks if t not in GENOME_TRACKS]
        if unknown or not tracks:
            raise ValueError(
                f"`tracks` must be a non-empty list from {GENOME_TRACKS}. Received: tracks={list(tracks)}"
            )
        for track, path, name in (("cpg_island", cpg_islands, "cpg_islands"), ("tss_density", tss, "tss")):
            if track in tracks and path is None:
                raise ValueError(f"Track {track!r} needs the `{name}` BED. Received: {name}=None")
        self.fasta = FastaExtractor(fasta, uppercase=True, in_memory=True)
        self.chrom = chrom
        self.tracks = list(tracks)
        self.bin_size = int(bin_size)
        self.length = self.fasta.chromosome_length(chrom)
        num_bins = self.length // self.bin_size
        codes = np.frombuffer(self.fasta.extract_bytes(chrom, 0, num_bins * self.bin_size), np.uint8)
        codes = codes.reshape(num_bins, self.bin_size)
        self.n_per_bin = (codes == ord("N")).sum(1).astype(np.int32)
        columns = []
        for track in self.tracks:
            if track == "gc":
                gc = ((codes == ord("G")) | (codes == ord("C"))).sum(1)
                columns.append(gc / float(self.bin_size))
            elif track == "cpg_island":
                columns.append(self._coverage(cpg_islands, num_bins))
            else:
                columns.append(self._tss_density(tss, num_bins, tss_window))
        self.values = np.stack(columns, axis=-1).astype(np.float32)  # (num_bins, C)

    def _coverage(self, path, num_bins):
        pairs = np.array([(i.start, i.end) for i in iter_bed(path) if i.chrom == self.chrom], np.int64).reshape(-1, 2)
        covered = binned_coverage(pairs[:, 0], pairs[:, 1], 0, num_bins * self.bin_size, self.bin_size)
        return covered / float(self.bin_size)

    def _tss_density(self, path, num_bins, window):
        positions = np.array(
            sorted(i.start for i in iter_bed(path) if i.chrom == self.chrom), dtype=np.int64
        )
        centres = np.arange(num_bins) * self.bin_size + self.bin_size // 2
        hi = np.searchsorted(positions, centres + window, side="right")
        lo = np.searchsorted(positions, centres - window, side="left")
        return (hi - lo).astype(np.float64)

    def valid_starts(self, sequence_length, max_n_fraction, exclude=None):
        """Bin-aligned window starts with few N, optionally avoiding a region.

        Args:
            sequence_length: int. Window length (a multiple of `bin_size`).
            max_n_fraction: float. Largest allowed fraction of N.
            exclude: optional `(start, end)`; windows overlapping it are dropped.

        Returns:
            int64 array of starts in bp.
        """
        bins = sequence_length // self.bin_size
        n_cumsum = np.concatenate([[0], np.cumsum(self.n_per_bin)])
        first_bins = np.arange(0, len(self.n_per_bin) - bins + 1)
        n_count = n_cumsum[first_bins + bins] - n_cumsum[first_bins]
        keep = n_count <= max_n_fraction * sequence_length
        starts = first_bins * self.bin_size
        if exclude is not None:
            keep &= (starts + sequence_length <= exclude[0]) | (starts >= exclude[1])
        return starts[keep].astype(np.int64)

    def batch(self, starts, sequence_length, target_length):
        """One-hot windows and their central target bins.

        Args:
            starts: int array `(B,)`, bin-aligned window starts.
            sequence_length: int. L.
            target_length: int. T central bins.

        Returns:
            `(one_hot (B, L, 4) float32, targets (B, T, C) float32)`.
        """
        one_hot = self.fasta.extract_one_hot_batch(self.chrom, starts.tolist(), sequence_length)
        crop = (sequence_length // self.bin_size - target_length) // 2
        first = starts // self.bin_size + crop
        index = first[:, None] + np.arange(target_length)[None, :]
        return one_hot.astype(np.float32), self.values[index]
