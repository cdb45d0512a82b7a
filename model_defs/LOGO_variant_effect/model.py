"""Kipoi shim: the model class lives in kipoi_genome (see model.yaml)."""
from kipoi_genome.export.kipoi.adapter import LogoVariantScorer  # noqa: F401
