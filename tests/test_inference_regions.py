"""predict_regions: the one-hot windows it feeds a model, strands and chromosome ends."""

import importlib.resources

import keras
import numpy as np

from kipoi_genome.data import FastaExtractor, Interval, one_hot_encode
from kipoi_genome.inference import predict_regions

FASTA = str(importlib.resources.files("kipoi_genome") / "example_data" / "chr20_44080000_44220000.fa")
CONTIG = "chr20_44080000_44220000"


def echo_model(length):
    """A model whose output is its one-hot input."""
    inputs = keras.Input((length, 4))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def test_windows_are_resized_strand_aware_and_n_padded():
    fasta = FastaExtractor(FASTA)
    end = fasta.chromosome_length(CONTIG)
    intervals = [
        Interval(CONTIG, 1000, 1010, name="plus", strand="+"),
        Interval(CONTIG, 5000, 5020, name="minus", strand="-"),
        Interval(CONTIG, end - 5, end, name="edge", strand="-"),
        Interval(CONTIG, 0, 4, name="start", strand="."),
    ]
    for use_strand in (False, True):
        got = list(predict_regions(echo_model(64), fasta, intervals, batch_size=3, use_strand=use_strand, progress=False))
        assert [i.name for i, _ in got] == ["plus", "minus", "edge", "start"]
        for interval, outputs in got:
            window = interval.resize(64)
            strand = "-" if use_strand and interval.strand == "-" else "+"
            expected = one_hot_encode(fasta.extract(CONTIG, window.start, window.end, strand))
            np.testing.assert_array_equal(outputs["output"], expected)
    # Past the chromosome end the window is N (all zeros); the minus strand puts them first.
    edge = dict((i.name, o["output"]) for i, o in got)["edge"]
    assert not edge[:29].any() and edge[29:].sum(axis=1).min() == 1
