"""Model zoo: Enformer and LOGO, with named presets."""

from kipoi_genome.models.enformer import Enformer
from kipoi_genome.models.logo import (
    LogoBackbone,
    LogoChromatin,
    LogoEnhancerPromoter,
    LogoMaskedLM,
    LogoPromoterClassifier,
    LogoSequenceClassifier,
    LogoVariantPrioritizer,
)
from kipoi_genome.models.presets import list_presets
