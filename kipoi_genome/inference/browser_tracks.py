"""Genome-browser tracks: region predictions as one bigWig per track.

Each region is predicted on the model's input window centred on it (as in
`predict_regions`); its output bins cover the central `T * b` bp of that
window (`kipoi_genome.models.enformer.bin_layout.BinLayout`), so bin ``i`` of a region
whose window starts at ``s`` is written over ``[s + offset + i * b,
s + offset + (i + 1) * b)`` (128-bp bins for Enformer). Chromosome sizes come
from the FASTA index, in its order.

bigWig needs sorted, non-overlapping intervals: regions are written in
genomic order; where the bins of two regions overlap, the region that starts
first keeps its bins and the overlapping bins of the next are dropped
(counted in the returned summary). Bins before a contig's start or from its
end onwards are dropped and the last bin is clipped at the contig end.
"""

import os
import re
import shutil
import tempfile

import numpy as np
from tqdm.auto import tqdm


def track_file_name(name):
    """A file name for track `name`: runs of characters outside `[A-Za-z0-9._-]` become `_`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("_") + ".bw"


def write_bigwigs(stream, directory, chrom_sizes, layout, head, indices, names, use_strand=False, progress=True):
    """Writes one bigWig per selected track of `head` from a region stream.

    Args:
        stream: iterable of `(Interval, dict head -> [bins, tracks])`, as
            `predict_regions` yields.
        directory: output folder (created if needed); existing files of the
            same names are replaced.
        chrom_sizes: dict contig -> length, in FASTA-index order.
        layout: `BinLayout` of the model.
        head: output head to read (None: the only output).
        indices: int array of track indices.
        names: track names (file names follow `track_file_name`).
        use_strand: minus-strand regions were predicted reverse-complemented;
            their bins are flipped back to genomic order.
        progress: show a progress bar while writing the files.

    Returns:
        dict with `files` (paths written), `bins` (bins written per track)
        and `dropped_overlap` / `dropped_outside` (bins left out).
    """
    import pyBigWig

    files = [track_file_name(name) for name in names]
    if len(set(files)) != len(files):
        raise ValueError(f"Track names give clashing file names: {sorted(files)}")
    by_chrom = {}
    for interval, outputs in stream:
        values = outputs[head] if head is not None else next(iter(outputs.values()))
        values = np.asarray(values, dtype=np.float32)[:, indices]
        if use_strand and interval.strand == "-":
            values = values[::-1]
        start = layout.output_start(interval.resize(layout.sequence_length).start)
        if interval.chrom not in chrom_sizes:
            raise ValueError(f"Contig {interval.chrom!r} of region {interval} is not in the FASTA index")
        by_chrom.setdefault(interval.chrom, []).append((start, values))

    chroms, starts, ends, rows = [], [], [], []
    dropped_overlap = dropped_outside = 0
    for chrom, size in chrom_sizes.items():
        last_end = 0
        for start, values in sorted(by_chrom.get(chrom, []), key=lambda item: item[0]):
            for i in range(len(values)):
                lo = start + i * layout.bin_size
                hi = min(lo + layout.bin_size, size)
                if lo < 0 or lo >= size:
                    dropped_outside += 1
                    continue
                if lo < last_end:
                    dropped_overlap += 1
                    continue
                chroms.append(chrom)
                starts.append(lo)
                ends.append(hi)
                rows.append(values[i])
                last_end = hi
    matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(names))

    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".bigwig.", dir=directory)
    written = []
    try:
        for column, file_name in enumerate(tqdm(files, unit="track", disable=not progress, desc="bigwig")):
            path = os.path.join(staging, file_name)
            bw = pyBigWig.open(path, "w")
            try:
                bw.addHeader([(chrom, int(size)) for chrom, size in chrom_sizes.items()])
                if chroms:
                    bw.addEntries(chroms, starts, ends=ends, values=matrix[:, column].tolist())
            finally:
                bw.close()
        # Move only once every file is complete: nothing half-written is left.
        for file_name in files:
            os.replace(os.path.join(staging, file_name), os.path.join(directory, file_name))
            written.append(os.path.join(directory, file_name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"files": written, "bins": len(rows), "dropped_overlap": dropped_overlap, "dropped_outside": dropped_outside}
