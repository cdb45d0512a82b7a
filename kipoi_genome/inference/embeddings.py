"""Enformer embeddings (`chunked_inference.embed`) of BED regions, streamed to HDF5 or NumPy."""

import numpy as np
from tqdm.auto import tqdm

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.utils.batching import batched
from kipoi_genome.data import FastaExtractor
from kipoi_genome.models import Enformer
from kipoi_genome.models.enformer.chunked_inference import embed

EMBEDDING_SUFFIXES = (".h5", ".hdf5", ".npy")


def check_embedding_path(path):
    """Raises a ValueError unless `path` ends in .h5, .hdf5 or .npy."""
    if not str(path).lower().endswith(EMBEDDING_SUFFIXES):
        raise ValueError(f"--output-embeddings must end in .h5 or .npy. Received: {path!r}")


def embed_regions(model, fasta, intervals, batch_size=4, use_strand=False, progress=True):
    """Yields `(interval, float32 [target_length, 2C])` per interval, in order.

    Each region is resized around its centre to the model's input length (N
    past contig ends), as in `predict_regions`.

    Raises:
        ValueError: for a model that is not an `Enformer`.
    """
    if not isinstance(model, Enformer):
        raise ValueError(
            f"--output-embeddings needs an Enformer. Received: {type(model).__name__}"
        )
    fasta = fasta if isinstance(fasta, FastaExtractor) else FastaExtractor(fasta)
    length = model.sequence_length
    intervals = list(intervals)
    bar = tqdm(total=len(intervals), unit="region", disable=not progress, desc="embed")
    for batch in batched(intervals, batch_size):
        strands = ["-" if use_strand and interval.strand == "-" else "+" for interval in batch]
        regions = [interval.resize(length) for interval in batch]
        x = fasta.extract_one_hot_batch([r.chrom for r in regions], [r.start for r in regions], length, strands)
        embeddings = np.asarray(embed(model, x), dtype=np.float32)
        for interval, embedding in zip(batch, embeddings):
            yield interval, embedding
        bar.update(len(batch))
    bar.close()


def write_embeddings(stream, path, count):
    """Writes `count` embeddings from `stream` to `.h5` or `.npy`.

    HDF5: dataset `embeddings` `[count, bins, 2C]` float32 and the regions'
    `chrom`, `start`, `end`, `name` (BED coordinates of the input regions).
    NumPy: the `[count, bins, 2C]` array alone (rows in BED order).

    Returns:
        Number of regions written.
    """
    check_embedding_path(path)
    stream = iter(stream)
    rows = 0
    if str(path).lower().endswith(".npy"):
        with atomic_output(path, suffix=".npy") as tmp:
            array = None
            for interval, embedding in stream:
                if array is None:
                    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(count, *embedding.shape))
                array[rows] = embedding
                rows += 1
            if array is None:
                np.save(tmp, np.zeros((0,), np.float32))
            else:
                array.flush()
                del array
        return rows

    import h5py

    with atomic_output(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as h5:
        regions = []
        for interval, embedding in stream:
            if "embeddings" not in h5:
                h5.create_dataset(
                    "embeddings", shape=(count, *embedding.shape), dtype="float32", chunks=(1, *embedding.shape)
                )
            h5["embeddings"][rows] = embedding
            regions.append(interval)
            rows += 1
        h5.create_dataset("chrom", data=[r.chrom for r in regions], dtype=h5py.string_dtype())
        h5.create_dataset("start", data=np.array([r.start for r in regions], dtype="int64"))
        h5.create_dataset("end", data=np.array([r.end for r in regions], dtype="int64"))
        h5.create_dataset("name", data=[r.name or "." for r in regions], dtype=h5py.string_dtype())
    return rows
