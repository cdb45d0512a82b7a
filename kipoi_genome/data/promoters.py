"""Promoter data set from a FASTA contig and a TSS BED.

- `read_tss_bed`: TSS BED -> DataFrame (chrom, tss, name, strand, gene_type).
- `build_promoter_dataset`: 600 bp windows (TSS -200 ... +400 on the gene's
  strand) as positives; negatives of the kinds in `NEGATIVE_KINDS`: GC-matched
  random windows far from any TSS (`gc`), windows far from any TSS matched on
  GC and CpG count (`gc_cpg`), and dinucleotide-shuffled positives
  (`shuffled`); train / valid / test split by position (contiguous regions,
  no window crossing a boundary, no overlapping genomic windows; a shuffled
  negative keeps its positive's coordinates and split); optionally shifted
  copies of the train windows (`train_shifts`, data augmentation).
- `check_promoter_dataset`: the table's invariants.
- `matching_report`: how well each kind of negative matches the positives'
  GC and CpG content, per split.

Command line: `kipoi-genome promoters build --help`. The table's columns
`sequence`, `label` and `split` are what `kipoi-genome finetune` reads.
"""

import numpy as np
import pandas as pd

import bisect

from kipoi_genome.data.intervals import iter_bed
from kipoi_genome.data.sequence_tables import SPLITS
from kipoi_genome.data.shuffle import dinucleotide_counts, dinucleotide_shuffle
from kipoi_genome.data.transforms import reverse_complement

__all__ = [
    "GENE_TYPES",
    "NEGATIVE_KINDS",
    "SHUFFLED_KIND",
    "build_promoter_dataset",
    "check_promoter_dataset",
    "cpg_count",
    "gc_fraction",
    "matched_positives",
    "matching_report",
    "parse_negative_kinds",
    "parse_shifts",
    "read_tss_bed",
    "split_regions",
]

GENE_TYPES = ("protein_coding", "lincRNA", "antisense")
# gc: GC-matched genomic windows (the original data set); gc_cpg: genomic
# windows matched on GC and CpG count; shuffled: each positive shuffled with
# its dinucleotide counts kept.
SHUFFLED_KIND = "shuffled"
NEGATIVE_KINDS = ("gc", "gc_cpg", SHUFFLED_KIND)
# A negative's name is its positive's with this prefix.
NAME_PREFIXES = {"gc": "neg_", "gc_cpg": "neg_gc_cpg_", "shuffled": "shuffled_"}
# shift: 0 for a window of the design, else the bp offset of a train copy.
COLUMNS = ["chrom", "start", "end", "strand", "name", "gene_type", "label", "negative_kind", "gc", "cpg", "split",
           "shift", "sequence"]


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


def cpg_count(sequence):
    """Number of CpG dinucleotides in a sequence (the same on both strands)."""
    return sequence.upper().count("CG")


def parse_negative_kinds(text):
    """`"gc,shuffled"` -> `("gc", "shuffled")`, checked against `NEGATIVE_KINDS`."""
    kinds = tuple(kind.strip() for kind in str(text).split(","))
    bad = [kind for kind in kinds if kind not in NEGATIVE_KINDS]
    if bad or len(set(kinds)) != len(kinds):
        raise ValueError(
            f"Negative kinds must be distinct names of {', '.join(NEGATIVE_KINDS)}. Received: {text!r}"
        )
    return kinds


def parse_shifts(text, length=600):
    """`"-40,-20,20,40"` -> `(-40, -20, 20, 40)`: distinct non-zero offsets below `length / 2` in size.

    Raises:
        ValueError: naming the received text.
    """
    if text is None or str(text).strip() == "":
        return ()
    try:
        shifts = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        shifts = None
    if not shifts or len(set(shifts)) != len(shifts) or any(s == 0 or 2 * abs(s) >= length for s in shifts):
        raise ValueError(
            f"Shifts must be distinct non-zero integers (bp) smaller than {length // 2} in size, comma-separated. "
            f"Received: {text!r}"
        )
    return shifts


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
    negatives=("gc",),
    cpg_tolerance=2,
    cpg_relative_tolerance=0.1,
    candidate_step=25,
    train_shifts=(),
):
    """Builds the promoter table for one contig.

    Positives: one window per TSS of the chosen gene types, `[tss - upstream,
    tss + downstream)` on the + strand and the mirror image, reverse
    complemented, on the - strand. Windows with N or overlapping an earlier
    kept positive are dropped (no near-duplicates).
    Negatives, by kind (`negative_kind` column; the kinds in `negatives`):
    - `gc`: random windows of the same split region, at least
      `min_tss_distance` from every TSS of the BED (all types), without N;
      each is GC-matched (within `gc_tolerance` when possible, else the
      tolerance doubles up to 8 times) to a positive of its split, with a
      random strand. `negatives_per_positive` per positive.
    - `gc_cpg`: windows on a `candidate_step` grid with the same distance
      and N rules, each matched to one positive of its split on GC (within
      `gc_tolerance`) and on CpG count (within `max(cpg_tolerance,
      cpg_relative_tolerance * the positive's count)`), random strand.
      Never widened: a positive with no such window left gets no `gc_cpg`
      negative (`matching_report` counts them). Rarest positives (most
      CpGs) are matched first, each to the unused window closest in CpG
      count.
    - `shuffled`: each positive shuffled by `dinucleotide_shuffle` (exact
      dinucleotide counts, hence the same GC and CpG count), with its
      positive's coordinates, strand and split.
    Genomic windows never overlap a positive or a window of their own kind;
    `gc` and `gc_cpg` windows may overlap each other (drawn independently:
    CpG-rich windows far from a TSS are rare, and the `gc` draws would take
    some of them). Each kind draws from its own random stream and does not
    depend on the other kinds asked for (`negatives=("gc",)` gives the
    original data set).
    Split: a window belongs to the split region that contains it entirely;
    windows crossing a region boundary are dropped.
    Shifted copies (`train_shifts`, data augmentation for fine-tuning): each
    train positive, `gc` and `gc_cpg` window is copied at each offset,
    moved by the offset along its own strand (+20: 20 bp downstream, so the
    TSS sits 20 bp nearer the window's start; `shift` column, name suffix
    `@+20`), with GC and CpG recounted; copies leaving the train
    region, with N, or (negatives) nearer than `min_tss_distance` to a TSS
    are dropped. With `shuffled` negatives each shifted positive gets its
    own shuffle. Valid and test rows are never shifted, and the rows of the
    design (`shift` 0) are those the same call without shifts returns.

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
        negatives_per_positive: int. `gc` negatives per positive.
        num_candidates: int. Random `gc` candidates drawn per contig.
        seed: int.
        negatives: tuple of `NEGATIVE_KINDS`.
        cpg_tolerance: int. Smallest CpG-count tolerance of `gc_cpg`.
        cpg_relative_tolerance: float. CpG-count tolerance of `gc_cpg` as a
            fraction of the positive's count.
        candidate_step: int. Grid step of the `gc_cpg` candidates, in bp.
        train_shifts: tuple of int offsets in bp (`parse_shifts`).

    Returns:
        DataFrame with chrom, start, end, strand, name, gene_type, label,
        negative_kind ("" for positives), gc, cpg (CpG count), split,
        shift, sequence; sorted by split then position (a shuffled negative right
        after its positive).

    Raises:
        ValueError: an unknown negative kind, or a split too short.
    """
    negatives = parse_negative_kinds(negatives if isinstance(negatives, str) else ",".join(negatives))
    rng = np.random.default_rng(seed)
    length = upstream + downstream
    train_shifts = parse_shifts(
        train_shifts if isinstance(train_shifts, str) else ",".join(str(s) for s in train_shifts), length
    )
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
                         gene_type=record.gene_type, label=1, negative_kind="", gc=gc_fraction(window),
                         cpg=cpg_count(window), split=split, shift=0, sequence=window))
    positives = pd.DataFrame(rows, columns=COLUMNS)

    # Negative candidates: far from every TSS, N-free, GC known.
    all_tss = np.sort(on_contig["tss"].to_numpy())
    codes = np.frombuffer(sequence.encode("ascii"), np.uint8)
    gc_sum = np.concatenate([[0], np.cumsum((codes == ord("G")) | (codes == ord("C")))])
    n_sum = np.concatenate([[0], np.cumsum(codes == ord("N"))])
    starts = rng.integers(0, len(sequence) - length, size=num_candidates)
    ends = starts + length
    ok = ((n_sum[ends] - n_sum[starts]) == 0) & _far_from_tss(starts, ends, all_tss, min_tss_distance)
    starts = starts[ok]
    gcs = (gc_sum[starts + length] - gc_sum[starts]) / length

    kinds = []
    if "gc" in negatives:
        kinds.append(_gc_negatives(sequence, contig, positives, regions, starts, gcs, length, gc_tolerance,
                                   negatives_per_positive, rng))
    if "gc_cpg" in negatives:
        codes_cg = (codes[:-1] == ord("C")) & (codes[1:] == ord("G"))
        cg_sum = np.concatenate([[0], np.cumsum(codes_cg)])
        grid = np.arange(0, len(sequence) - length + 1, candidate_step)
        grid = grid[((n_sum[grid + length] - n_sum[grid]) == 0)
                    & _far_from_tss(grid, grid + length, all_tss, min_tss_distance)]
        kinds.append(_gc_cpg_negatives(
            sequence, contig, positives, regions, grid, (gc_sum[grid + length] - gc_sum[grid]) / length,
            cg_sum[grid + length - 1] - cg_sum[grid], length, gc_tolerance, cpg_tolerance, cpg_relative_tolerance,
            np.random.default_rng([seed, 1]),
        ))
    if SHUFFLED_KIND in negatives:
        kinds.append(_shuffled(positives, np.random.default_rng([seed, 2])))
    if train_shifts:
        genomic = pd.concat([positives, *[kind for kind in kinds if len(kind)]], ignore_index=True)
        genomic = genomic[(genomic["split"] == "train") & (genomic["negative_kind"] != SHUFFLED_KIND)]
        shifted = _shifted_copies(sequence, genomic, regions["train"], n_sum, all_tss, min_tss_distance, train_shifts)
        kinds.append(shifted)
        if SHUFFLED_KIND in negatives:
            kinds.append(_shuffled(shifted[shifted["label"] == 1], np.random.default_rng([seed, 3])))
    table = pd.concat([positives, *[kind for kind in kinds if len(kind)]], ignore_index=True)[COLUMNS]
    table = table.astype({"start": int, "end": int, "label": int, "gc": float, "cpg": int, "shift": int})
    table["split"] = pd.Categorical(table["split"], SPLITS, ordered=True)
    return table.sort_values(["split", "start"], kind="stable").reset_index(drop=True)


def _shuffled(positives, rng):
    shuffled = positives.copy()
    shuffled["sequence"] = [dinucleotide_shuffle(window, rng) for window in positives["sequence"]]
    shuffled["name"] = NAME_PREFIXES["shuffled"] + positives["name"].astype(str)
    shuffled["gene_type"], shuffled["label"], shuffled["negative_kind"] = SHUFFLED_KIND, 0, SHUFFLED_KIND
    return shuffled


def _far_from_tss(starts, ends, all_tss, min_distance):
    """True where the window [start, end) is at least `min_distance` from its nearest TSS (`all_tss` sorted)."""
    nearest = np.searchsorted(all_tss, starts)
    left = np.abs(starts - all_tss[np.clip(nearest - 1, 0, len(all_tss) - 1)])
    right = np.abs(all_tss[np.clip(nearest, 0, len(all_tss) - 1)] - ends)
    return np.minimum(left, right) >= min_distance


def _shifted_copies(sequence, windows, region, n_sum, all_tss, min_tss_distance, shifts):
    rows = []
    direction = np.where(windows["strand"].to_numpy() == "+", 1, -1)
    negative = windows["label"].to_numpy() == 0
    for shift in shifts:
        starts = windows["start"].to_numpy() + shift * direction
        ends = windows["end"].to_numpy() + shift * direction
        keep = (starts >= region[0]) & (ends <= region[1])
        inside = np.clip(starts, 0, len(sequence)), np.clip(ends, 0, len(sequence))
        keep &= (n_sum[inside[1]] - n_sum[inside[0]]) == 0
        keep &= ~negative | _far_from_tss(starts, ends, all_tss, min_tss_distance)
        for row, start, end in zip(windows[keep].itertuples(index=False), starts[keep], ends[keep]):
            window = sequence[start:end]
            if row.strand == "-":
                window = reverse_complement(window)
            rows.append(dict(row._asdict(), start=start, end=end, name=f"{row.name}@{shift:+d}", gc=gc_fraction(window),
                             cpg=cpg_count(window), shift=shift, sequence=window))
    return pd.DataFrame(rows, columns=COLUMNS)


def _gc_negatives(sequence, contig, positives, regions, starts, gcs, length, gc_tolerance, negatives_per_positive,
                  rng):
    """The `gc` negatives (the original data set's draws, in the original order)."""
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
                                      gene_type="background", label=0, negative_kind="gc", gc=gc_fraction(window),
                                      cpg=cpg_count(window), split=split, shift=0, sequence=window))
    return pd.DataFrame(negatives, columns=COLUMNS)


def _gc_cpg_negatives(sequence, contig, positives, regions, grid, grid_gc, grid_cpg, length, gc_tolerance,
                      cpg_tolerance, cpg_relative_tolerance, rng):
    """The `gc_cpg` negatives: one window per positive within both tolerances, or none."""
    negatives, taken = [], []  # taken: sorted starts, for the overlap check
    for split in SPLITS:
        a, b = regions[split]
        in_split = (grid >= a) & (grid + length <= b)
        order = np.argsort(grid_cpg[in_split], kind="stable")
        pool_starts, pool_gc, pool_cpg = grid[in_split][order], grid_gc[in_split][order], grid_cpg[in_split][order]
        used = np.zeros(len(pool_starts), bool)
        split_positives = positives[positives["split"] == split]
        # Most CpGs first (the rarest windows), ties in random order.
        ranking = np.lexsort((rng.permutation(len(split_positives)), -split_positives["cpg"].to_numpy()))
        for positive in split_positives.iloc[ranking].itertuples():
            width = max(cpg_tolerance, cpg_relative_tolerance * positive.cpg)
            lo = np.searchsorted(pool_cpg, positive.cpg - width, "left")
            hi = np.searchsorted(pool_cpg, positive.cpg + width, "right")
            candidates = lo + np.flatnonzero(~used[lo:hi] & (np.abs(pool_gc[lo:hi] - positive.gc) <= gc_tolerance))
            # Closest CpG count first (random among equals): a random pick within the tolerance would lean
            # towards fewer CpGs, which are more common.
            closest = np.lexsort((rng.random(len(candidates)), np.abs(pool_cpg[candidates] - positive.cpg)))
            for index in candidates[closest]:
                start = int(pool_starts[index])
                nearest = bisect.bisect_left(taken, start - length + 1)
                if nearest < len(taken) and taken[nearest] < start + length:
                    continue  # overlaps a negative already taken
                used[index] = True
                bisect.insort(taken, start)
                strand = "+" if rng.random() < 0.5 else "-"
                window = sequence[start : start + length]
                if strand == "-":
                    window = reverse_complement(window)
                negatives.append(dict(
                    chrom=contig, start=start, end=start + length, strand=strand,
                    name=NAME_PREFIXES["gc_cpg"] + str(positive.name), gene_type="background", label=0, negative_kind="gc_cpg", gc=gc_fraction(window),
                    cpg=cpg_count(window), split=split, shift=0, sequence=window,
                ))
                break
    return pd.DataFrame(negatives, columns=COLUMNS)


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
    """Asserts the invariants of a built table (no cross-split or any overlap).

    Genomic windows of the design (positives and the `gc`, `gc_cpg`
    negatives, `shift` 0) do not overlap a positive or a window of the same
    kind, and the splits are separated by position. Each `shuffled` negative
    has a positive with the same coordinates and split, and the same
    dinucleotide counts (so no shuffle crosses a split). Shifted copies are
    train rows named after a train row of the design.

    Raises:
        ValueError: naming the first invariant that fails.
    """
    kinds = table["negative_kind"] if "negative_kind" in table.columns else pd.Series("", index=table.index)
    shifts = table["shift"] if "shift" in table.columns else pd.Series(0, index=table.index)
    if (shifts != 0).any():
        copies = table[shifts != 0]
        if (copies["split"] != "train").any():
            raise ValueError(f"Shifted row {copies[copies['split'] != 'train']['name'].iloc[0]} is not in the train split.")
        design = set(table.loc[(shifts == 0) & (table["split"] == "train"), "name"].astype(str))
        sources = copies["name"].astype(str).str.rsplit("@", n=1).str[0]
        if not sources.isin(design).all():
            raise ValueError(f"Shifted row {copies['name'][~sources.isin(design)].iloc[0]} has no train row of the design.")
    shuffled = table[kinds == "shuffled"]
    if len(shuffled):
        positives = table[table["label"] == 1].set_index(["start", "end"])
        for row in shuffled.itertuples():
            if (row.start, row.end) not in positives.index:
                raise ValueError(f"Shuffled negative {row.name} has no positive at {row.start}-{row.end}.")
            source = positives.loc[(row.start, row.end)]
            if source["split"] != row.split:
                raise ValueError(f"Shuffled negative {row.name} is in split {row.split}, its positive in {source['split']}.")
            if dinucleotide_counts(source["sequence"]) != dinucleotide_counts(row.sequence):
                raise ValueError(f"Shuffled negative {row.name} does not keep its positive's dinucleotide counts.")
        table, kinds, shifts = table[kinds != "shuffled"], kinds[kinds != "shuffled"], shifts[kinds != "shuffled"]
    for kind in sorted(set(kinds) - {""}) or [""]:
        ordered = table[kinds.isin(["", kind]) & (shifts == 0)].sort_values("start")
        starts, ends = ordered["start"].to_numpy(), ordered["end"].to_numpy()
        if (starts[1:] < ends[:-1]).any():
            raise ValueError(f"Windows overlap (positives and {kind or 'no'} negatives).")
    if (table["end"] - table["start"] != table["sequence"].str.len()).any():
        raise ValueError("Window lengths disagree with the sequences.")
    bounds = table.groupby("split", observed=True).agg(lo=("start", "min"), hi=("end", "max"))
    order = [s for s in SPLITS if s in bounds.index]
    for a, b in zip(order[:-1], order[1:]):
        if bounds.loc[a, "hi"] > bounds.loc[b, "lo"]:
            raise ValueError(f"Splits {a} and {b} are not separated by position.")
    return True


def matching_report(table):
    """GC and CpG content of the positives and of each kind of negative, per split.

    Args:
        table: DataFrame from `build_promoter_dataset`; shifted copies
            (`shift` != 0) are left out.

    Returns:
        DataFrame indexed by (split, negative_kind) with `n_positive`,
        `n_negative`, the mean `gc_positive`, `gc_negative`, `cpg_positive`,
        `cpg_negative` (CpG count per window) and the differences
        `gc_difference`, `cpg_difference` (negative minus positive).
    """
    if "shift" in table.columns:
        table = table[table["shift"] == 0]
    rows = []
    for split in [s for s in SPLITS if (table["split"] == s).any()]:
        part = table[table["split"] == split]
        positives = part[part["label"] == 1]
        for kind in [k for k in NEGATIVE_KINDS if (part["negative_kind"] == k).any()]:
            negatives = part[(part["label"] == 0) & (part["negative_kind"] == kind)]
            rows.append(dict(
                split=split, negative_kind=kind, n_positive=len(positives), n_negative=len(negatives),
                gc_positive=positives["gc"].mean(), gc_negative=negatives["gc"].mean(),
                cpg_positive=positives["cpg"].mean(), cpg_negative=negatives["cpg"].mean(),
            ))
    report = pd.DataFrame(rows).set_index(["split", "negative_kind"])
    report["gc_difference"] = report["gc_negative"] - report["gc_positive"]
    report["cpg_difference"] = report["cpg_negative"] - report["cpg_positive"]
    return report


def matched_positives(table, kind):
    """The positives that a negative of `kind` was drawn for (matched to, or shuffled from).

    Args:
        table: DataFrame with `name`, `label` and `negative_kind` columns.
        kind: one of `NEGATIVE_KINDS`.

    Returns:
        bool Series over `table`'s rows: True for a positive named by a
        negative of that kind (`NAME_PREFIXES[kind]` + the positive's name).
    """
    prefix = NAME_PREFIXES[kind]
    names = table.loc[(table["label"] == 0) & (table["negative_kind"] == kind), "name"].astype(str)
    named = set(names.str[len(prefix):])
    return (table["label"] == 1) & table["name"].astype(str).isin(named)
