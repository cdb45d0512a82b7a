"""LOGO (Yang et al. 2022): k-mer ALBERT language model and its tasks."""

from kipoi_genome.models.logo.logo_backbone import LogoBackbone
from kipoi_genome.models.logo.logo_enhancer_promoter import LogoEnhancerPromoter
from kipoi_genome.models.logo.logo_masked_lm import LogoMaskedLM, mask_tokens, masked_lm_loss
from kipoi_genome.models.logo.logo_sequence_classifier import (
    LogoChromatin,
    LogoPromoterClassifier,
    LogoSequenceClassifier,
)
from kipoi_genome.models.logo.logo_variant_prioritizer import LogoVariantPrioritizer
from kipoi_genome.models.logo.logo_variant_scoring import (
    zero_shot_variant_scores,
)
from kipoi_genome.models.logo.logo_presets import PRESETS
from kipoi_genome.models.presets import register_preset

for _preset in PRESETS:
    register_preset(_preset)
