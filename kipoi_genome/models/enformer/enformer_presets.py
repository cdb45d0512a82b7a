"""Enformer presets."""

from kipoi_genome.models.presets import Preset

PRESETS = (
    Preset(
        name="enformer",
        class_name="Enformer",
        config={},
        description=(
            "Official Enformer (Avsec et al. 2021): 196,608 bp in, 896 bins x 5,313 human / "
            "1,643 mouse tracks out. Official weights, downloaded once from TF-Hub/Kaggle "
            "(deepmind/enformer/1), converted and cached; load_weights=False gives the "
            "architecture with random weights."
        ),
        weights_loader="kipoi_genome.convert.enformer_weights:load_official_enformer",
        metadata={"parameters": 251_221_292, "cite": "doi:10.1038/s41592-021-01252-x"},
    ),
    Preset(
        name="enformer_human",
        class_name="Enformer",
        config={"heads": {"human": 5313}},
        description="Official Enformer architecture with the human head only.",
        metadata={"parameters": 246_172_353},
    ),
    Preset(
        name="enformer_tiny",
        class_name="Enformer",
        config={
            "channels": 48,
            "num_transformer_layers": 1,
            "num_heads": 2,
            "heads": {"human": 8, "mouse": 4},
            "sequence_length": 4096,
            "target_length": 16,
            "filter_divisible_by": 8,
        },
        description="A tiny Enformer (4,096 bp in, 16 bins out) for tests and demos.",
    ),
)
