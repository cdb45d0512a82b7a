"""Converters from official checkpoints to kipoi-genome Keras models."""

from kipoi_genome.convert.enformer_checkpoint import convert_enformer_checkpoint
