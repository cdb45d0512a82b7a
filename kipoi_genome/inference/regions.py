"""Streams predictions for BED regions of a FASTA through any zoo model."""

import os

import keras
import numpy as np
from tqdm.auto import tqdm

from kipoi_genome.batching import batched
from kipoi_genome.data import FastaExtractor
from kipoi_genome.inference.precision import dtype_policy, with_precision
from kipoi_genome.models import presets


def load_model(name_or_path, precision="float32", jit_compile=False):
    """A preset name or a `.keras` file -> a Keras model.

    Args:
        name_or_path: preset name (see `kipoi-genome info`) or `.keras` file.
        precision: `"float32"` (default) or `"bfloat16"` (bfloat16 weights
            and math, float32 Enformer heads; see `inference.precision`).
        jit_compile: bool. Run `predict` / `predict_on_batch` XLA-compiled.
            On CPU this made the full float32 Enformer 4-10 % faster but
            raised its peak memory by 1.8 GB (XLA does not keep the chunked
            trunk's one-window-at-a-time order) and was slower in bfloat16,
            so it is off by default (docs/benchmarks.md).
    """
    if not isinstance(jit_compile, bool):
        raise ValueError(f"`jit_compile` must be True or False. Received: jit_compile={jit_compile!r}")
    if os.fspath(name_or_path).endswith(".keras"):
        if not os.path.isfile(name_or_path):
            raise FileNotFoundError(f"{name_or_path}: model file not found")
        model = with_precision(keras.saving.load_model(name_or_path), precision)
    else:
        preset = presets.get_preset(name_or_path)
        model_cls = keras.saving.get_registered_object(f"kipoi_genome>{preset.class_name}")
        with dtype_policy(precision):
            model = model_cls.from_preset(preset.name)
    if jit_compile:
        model.compile(jit_compile=True)
    return model


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
    bar = tqdm(total=len(intervals), unit="region", disable=not progress, desc="predict")
    for batch in batched(intervals, batch_size):
        strands = ["-" if use_strand and interval.strand == "-" else "+" for interval in batch]
        if by_sequence:
            seqs = [fasta.extract(i.chrom, i.start, i.end, s) for i, s in zip(batch, strands)]
            outputs = {"probability": np.asarray(model.predict_sequences(seqs))}
        else:
            regions = [interval.resize(length) for interval in batch]
            x = fasta.extract_one_hot_batch([r.chrom for r in regions], [r.start for r in regions], length, strands)
            out = model.predict_on_batch(x)
            outputs = out if isinstance(out, dict) else {"output": out}
        for i, interval in enumerate(batch):
            yield interval, {k: np.asarray(v[i]) for k, v in outputs.items()}
        bar.update(len(batch))
    bar.close()
