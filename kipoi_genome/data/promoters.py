"""Promoter data set from a FASTA contig and a TSS BED.

- `read_tss_bed`: TSS BED -> DataFrame (chrom, tss, name, strand, gene_type).
- `build_promoter_dataset`: 600 bp windows (TSS -200 ... +400 on the gene's
  strand) as positives; GC-matched random windows far from any TSS as
  negatives; train / valid / test split by position (contiguous regions, no
  window crossing a boundary, no overlapping windows).
- `check_promoter_dataset`: the table's invariants.

Command line: `kipoi-genome promoters build --help`. The table's columns
`sequence`, `label` and `split` are what `kipoi-genome finetune` reads.
"""

import numpy as np
import pandas as pd

from kipoi_genome.data.intervals import iter_bed
from kipoi_genome.data.sequence_tables import SPLITS
from kipoi_genome.data.transforms import reverse_complement

__all__ = [
    "GENE_TYPES",
    "build_promoter_dataset",
    "check_promoter_dataset",
    "gc_fraction",
    "read_tss_bed",
    "split_regions",
]

GENE_TYPES = ("protein_coding", "lincRNA", "antisense")


def read_tss_bed(path):
    """TSS BED -> DataFrame (chrom, tss, name, strand, gene_type).

    Columns: chrom, start (0-based TSS), end, name, score, strand, and an
    optional 7th column with the gene type ("unknown" when absent). Read by
    `data.intervals.iter_bed` (plain or gzip; malformed lines name the file,
    line and value).
    """
    rows = [
        (interval.chrom, interval.start, interval.name, interval.strand,
         interval.extra[0] if interval.extra else "unknown")
        for interval in iter_bed(path)
    ]
    return pd.DataFrame(rows, columns=["chrom", "tss", "name", "strand", "gene_type"])


def gc_fraction(sequence):
    """Fraction of G and C among the A, C, G, T letters of a sequence (N and others ignored)."""
    sequence = sequence.upper()
    acgt = sum(sequence.count(b) for b in "ACGT")
    return (sequence.count("G") + sequence.count("C")) / max(acgt, 1)


def split_regions(contig_length, test_length=10_000_000, valid_length=5_000_000):
    """Contiguous split regions: train | valid | test (test = the contig's end)."""
    test_start = contig_length - test_length
    valid_start = test_start - valid_length
    if valid_start <= 0:
        raise ValueError(
            "The contig is too short for the requested split. Received: "
            f"contig_length={contig_length}, test_length={test_length}, valid_length={valid_length}"
        )
    return {"train": (0, valid_start), "valid": (valid_start, test_start), "test": (test_start, contig_length)}


def build_promoter_dataset(
    sequence,
    contig,
    tss,
    gene_types=GENE_TYPES,
    upstream=200,
    downstream=400,
    test_length=10_000_000,
    valid_length=5_000_000,
    min_tss_distance=5_000,
    gc_tolerance=0.02,
    negatives_per_positive=1,
    num_candidates=400_000,
    seed=0,
):
    """Builds the promoter table for one contig.

    Positives: one window per TSS of the chosen gene types, `[tss - upstream,
    tss + downstream)` on the + strand and the mirror image, reverse
    complemented, on the - strand. Windows with N or overlapping an earlier
    kept positive are dropped (no near-duplicates).
    Negatives: random windows of the same split region, at least
    `min_tss_distance` from every TSS of the BED (all types), without N,
    not overlapping each other; each is GC-matched (within `gc_tolerance`
    when possible, else the closest) to a positive of its split, with a
    random strand.
    Split: a window belongs to the split region that contains it entirely;
    windows crossing a region boundary are dropped.

    Args:
        sequence: str. The contig's sequence.
        contig: str. Its name (rows of `tss` on other contigs are ignored).
        tss: DataFrame from `read_tss_bed`.
        gene_types: tuple of gene types used as positives (None: all).
        upstream, downstream: int. Window around the TSS (600 bp total).
        test_length, valid_length: int. Lengths of the test region (the
            contig's end) and of the validation region just before it.
        min_tss_distance: int. Minimum distance of negatives from any TSS.
        gc_tolerance: float. GC matching tolerance.
        negatives_per_positive: int.
        num_candidates: int. Random negative candidates drawn per contig.
        seed: int.

    Returns:
        DataFrame with chrom, start, end, strand, name, gene_type, label,
        gc, split, sequence; sorted by split then position.
    """
    rng = np.random.default_rng(seed)
    length = upstream + downstream
    regions = split_regions(len(sequence), test_length, valid_length)

    def split_of(start, end):
        for name, (a, b) in regions.items():
            if a <= start and end <= b:
                return name
        return None

    on_contig = tss[tss["chrom"] == contig].sort_values("tss")
    chosen = on_contig if gene_types is None else on_contig[on_contig["gene_type"].isin(gene_types)]
    rows, last_end = [], -1
    for record in chosen.itertuples():
        if record.strand == "-":
            start, end = record.tss + 1 - downstream, record.tss + 1 + upstream
        else:
            start, end = record.tss - upstream, record.tss + downstream
        split = split_of(start, end)
        if split is None or start < last_end:
            continue
        window = sequence[start:end]
        if "N" in window:
            continue
        last_end = end
        if record.strand == "-":
            window = reverse_complement(window)
        rows.append(dict(chrom=contig, start=start, end=end, strand=record.strand, name=record.name,
                         gene_type=record.gene_type, label=1, gc=gc_fraction(window), split=split, sequence=window))
    positives = pd.DataFrame(rows)

    # Negative candidates: far from every TSS, N-free, GC known.
    all_tss = np.sort(on_contig["tss"].to_numpy())
    codes = np.frombuffer(sequence.encode("ascii"), np.uint8)
    gc_sum = np.concatenate([[0], np.cumsum((codes == ord("G")) | (codes == ord("C")))])
    n_sum = np.concatenate([[0], np.cumsum(codes == ord("N"))])
    starts = rng.integers(0, len(sequence) - length, size=num_candidates)
    ends = starts + length
    ok = (n_sum[ends] - n_sum[starts]) == 0
    nearest = np.searchsorted(all_tss, starts)
    left = np.abs(starts - all_tss[np.clip(nearest - 1, 0, len(all_tss) - 1)])
    right = np.abs(all_tss[np.clip(nearest, 0, len(all_tss) - 1)] - ends)
    ok &= np.minimum(left, right) >= min_tss_distance
    starts = starts[ok]
    gcs = (gc_sum[starts + length] - gc_sum[starts]) / length

    negatives = []
    for split in SPLITS:
        a, b = regions[split]
        in_split = (starts >= a) & (starts + length <= b)
        pool_starts, pool_gc = starts[in_split], gcs[in_split]
        order = np.argsort(pool_gc)
        pool_starts, pool_gc = pool_starts[order], pool_gc[order]
        used = np.zeros(len(pool_starts), bool)
        taken = []  # accepted negative starts, for the overlap check
        split_positives = positives[positives["split"] == split]
        for positive in split_positives.itertuples():
            for _ in range(negatives_per_positive):
                index = _closest_unused(pool_gc, used, positive.gc, gc_tolerance, rng, pool_starts, taken, length)
                if index is None:
                    continue
                used[index] = True
                start = int(pool_starts[index])
                taken.append(start)
                strand = "+" if rng.random() < 0.5 else "-"
                window = sequence[start : start + length]
                if strand == "-":
                    window = reverse_complement(window)
                negatives.append(dict(chrom=contig, start=start, end=start + length, strand=strand, name=f"neg_{positive.name}",
                                      gene_type="background", label=0, gc=gc_fraction(window), split=split, sequence=window))
    table = pd.concat([positives, pd.DataFrame(negatives)], ignore_index=True)
    table["split"] = pd.Categorical(table["split"], SPLITS, ordered=True)
    return table.sort_values(["split", "start"]).reset_index(drop=True)


def _closest_unused(pool_gc, used, target, tolerance, rng, pool_starts, taken, length):
    """Random unused, non-overlapping candidate within `tolerance` of `target` GC.

    The tolerance doubles (up to 8 times) when no candidate is left.
    """
    for attempt in range(4):
        width = tolerance * 2**attempt
        lo = np.searchsorted(pool_gc, target - width)
        hi = np.searchsorted(pool_gc, target + width)
        candidates = np.flatnonzero(~used[lo:hi]) + lo
        rng.shuffle(candidates)
        for index in candidates:
            start = pool_starts[index]
            if all(abs(start - t) >= length for t in taken):
                return int(index)
    return None


def check_promoter_dataset(table):
    """Asserts the invariants of a built table (no cross-split or any overlap)."""
    ordered = table.sort_values("start")
    starts, ends = ordered["start"].to_numpy(), ordered["end"].to_numpy()
    if (starts[1:] < ends[:-1]).any():
        raise ValueError("Windows overlap.")
    if (table["end"] - table["start"] != table["sequence"].str.len()).any():
        raise ValueError("Window lengths disagree with the sequences.")
    bounds = table.groupby("split", observed=True).agg(lo=("start", "min"), hi=("end", "max"))
    order = [s for s in SPLITS if s in bounds.index]
    for a, b in zip(order[:-1], order[1:]):
        if bounds.loc[a, "hi"] > bounds.loc[b, "lo"]:
            raise ValueError(f"Splits {a} and {b} are not separated by position.")
    return True
