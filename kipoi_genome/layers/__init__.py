"""Reusable Keras 3 layers for sequence-to-function models."""

from kipoi_genome.layers.activations import gelu_erf, gelu_sigmoid
from kipoi_genome.layers.attention_pool import AttentionPool1D
from kipoi_genome.layers.conv_block import ConvBlock
from kipoi_genome.layers.factorized_embedding import FactorizedEmbedding
from kipoi_genome.layers.positional_basis import (
    central_mask,
    exponential,
    gamma,
    positional_features,
    relative_positional_table,
)
from kipoi_genome.layers.relative_attention import RelativeMultiHeadAttention, relative_shift
from kipoi_genome.layers.residual import Residual
from kipoi_genome.layers.target_length_crop import TargetLengthCrop1D
