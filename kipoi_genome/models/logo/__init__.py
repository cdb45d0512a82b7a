"""LOGO (Yang et al. 2022): k-mer ALBERT language model and its tasks."""

from kipoi_genome.models.logo.logo_backbone import LogoBackbone
from kipoi_genome.models.logo.logo_masked_lm import LogoMaskedLM, masked_lm_loss, mask_tokens
