"""Model zoo: Enformer and LOGO, with named presets."""

from kipoi_genome.models.enformer import (
    Enformer,
    enformer_tracks,
    head_track_table,
    output_track_labels,
    read_track_table,
    select_tracks,
    track_labels,
)
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
