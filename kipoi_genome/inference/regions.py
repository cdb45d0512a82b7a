"""Streams predictions for BED regions of a FASTA through any zoo model."""

import numpy as np
from tqdm.auto import tqdm

from kipoi_genome.utils.batching import batched
from kipoi_genome.data import FastaExtractor, InputFileError, check_sequence
from kipoi_genome.models.enformer.chunked_inference import predict_on_batch


def predict_regions(model, fasta, intervals, batch_size=4, use_strand=False, progress=True):
    """Yields `(interval, outputs)` for each interval, in order.

    Models with a `predict_sequences(list_of_str)` method (LOGO tasks) get the
    region's DNA as is; one-hot models (Enformer) get the region resized
    around its centre to their input length, padded with N past chromosome
    ends. Memory stays bounded by one batch.

    Args:
        model: a zoo model.
        fasta: path or `FastaExtractor`.
        intervals: iterable of `kipoi_genome.data.Interval`.
        batch_size: regions per forward pass.
        use_strand: read minus-strand regions reverse-complemented.
        progress: show a progress bar.

    Yields:
        `(interval, dict name -> np.ndarray)` with one region's outputs.
    """
    fasta = fasta if isinstance(fasta, FastaExtractor) else FastaExtractor(fasta)
    by_sequence = hasattr(model, "predict_sequences")
    length = None if by_sequence else model.input_shape[1]
    intervals = list(intervals)
    if by_sequence:
        _check_lengths(model, intervals)
    bar = tqdm(total=len(intervals), unit="region", disable=not progress, desc="predict")
    for batch in batched(intervals, batch_size):
        strands = ["-" if use_strand and interval.strand == "-" else "+" for interval in batch]
        if by_sequence:
            seqs = [fasta.extract(i.chrom, i.start, i.end, s) for i, s in zip(batch, strands)]
            _check_sequences(fasta, batch, seqs)
            outputs = {"probability": np.asarray(model.predict_sequences(seqs))}
        else:
            regions = [interval.resize(length) for interval in batch]
            x = fasta.extract_one_hot_batch([r.chrom for r in regions], [r.start for r in regions], length, strands)
            out = predict_on_batch(model, x)
            outputs = out if isinstance(out, dict) else {"output": out}
        for i, interval in enumerate(batch):
            yield interval, {k: np.asarray(v[i]) for k, v in outputs.items()}
        bar.update(len(batch))
    bar.close()


def _check_lengths(model, intervals):
    """Region-named error for a region too short for one k-mer token per frame (LOGO), or not
    the trained length of a classifier with `length_policy="error"`."""
    k = getattr(getattr(model, "tokenizer", None), "k", 1)
    trained = getattr(model, "sequence_length", None) if getattr(model, "length_policy", None) == "error" else None
    for interval in intervals:
        if trained is not None and interval.width != trained:
            raise InputFileError(
                interval.source, interval.line,
                f"region of {interval.width} bp; {model.name} was trained on {trained}-bp sequences "
                "(length policy 'error'; 'center_crop_pad' uses the central window)",
                f"{interval.chrom}:{interval.start}-{interval.end}",
            )
        if interval.width < 2 * k - 1:
            raise InputFileError(
                interval.source, interval.line,
                f"region of {interval.width} bp is too short for {model.name}: "
                f"its {k}-mer tokens need at least {2 * k - 1} bp",
                f"{interval.chrom}:{interval.start}-{interval.end}",
            )


def _check_sequences(fasta, intervals, sequences):
    """Region-named error for characters other than ACGTN / IUPAC (see `check_logo_sequence`)."""
    for interval, sequence in zip(intervals, sequences):
        try:
            check_sequence(sequence)
        except ValueError as error:
            region = f"{interval.chrom}:{interval.start}-{interval.end}"
            raise InputFileError(fasta.path, None, f"bad sequence in {region}: {error}") from None
