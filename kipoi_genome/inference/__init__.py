"""Prediction over genomic regions, streaming with bounded memory."""

from kipoi_genome.inference.regions import load_model, predict_regions
from kipoi_genome.inference.precision import dtype_policy, with_precision
from kipoi_genome.inference.genes import predict_genes
