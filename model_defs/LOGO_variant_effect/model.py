"""Kipoi shim: the model class lives in kipoi_genome (see model.yaml)."""
from kipoi_genome.export.kipoi_adapter import LogoVariantScorer  # noqa: F401
