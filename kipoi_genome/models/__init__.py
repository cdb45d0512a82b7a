"""Model zoo: Enformer and LOGO, with named presets, loaded by name or file in a chosen precision."""

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
from kipoi_genome.models.loading import load_keras_file, load_model
from kipoi_genome.models.precision import dtype_policy, model_precision, with_precision
