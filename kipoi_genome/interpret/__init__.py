"""Variant effects and interpretation: scoring, ISM, gradient x input, attention."""

from kipoi_genome.interpret.attention import attention_maps
from kipoi_genome.interpret.augmentation import predict_averaged
from kipoi_genome.interpret.gradients import gradient_times_input
from kipoi_genome.interpret.mutagenesis import in_silico_mutagenesis
from kipoi_genome.interpret.targets import output_scalar, select_output
from kipoi_genome.interpret.variant_scoring import SCORES, ScoringSummary, reduce_scores, score_variants
