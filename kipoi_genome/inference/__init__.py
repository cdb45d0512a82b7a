"""Prediction over genomic regions, streaming with bounded memory."""

from kipoi_genome.inference.regions import predict_regions
from kipoi_genome.inference.genes import predict_genes
