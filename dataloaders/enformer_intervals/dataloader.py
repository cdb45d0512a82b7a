"""Kipoi shim: the dataloader lives in kipoi_genome (see dataloader.yaml)."""
from kipoi_genome.export.kipoi.dataloaders import IntervalOneHot  # noqa: F401
