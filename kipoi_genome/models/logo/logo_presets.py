"""LOGO presets: official sizes (random weights) and chr20-trained weights.

Shipped weights live in `kipoi_genome/presets/` and load with no network:

- `logo_5mer_chr20_mlm` (`LogoMaskedLM`) and `logo_5mer_chr20`
  (`LogoBackbone`, the same file): masked-LM pre-training on GRCh37 chr20
  without its last 10 Mb, with LOGO's convolution option on the token
  embeddings (`conv_embedding=True`).
- `logo_5mer_chr20_chrX_mlm` (`LogoMaskedLM`): `logo_5mer_chr20_mlm`
  pre-trained further on chr20 plus the first 70 Mb of chrX (the last
  10 Mb of chr20 and the last 7 Mb of the chrX slice held out).
- `logo_promoter_chr20` (`LogoPromoterClassifier` with the natural head):
  `logo_5mer_chr20_chrX_mlm` fine-tuned on the chr20 promoter set (train
  split: positions below 48.03 Mb) against GC-matched, GC- and CpG-matched
  and dinucleotide-shuffled negatives; P(promoter) x P(not a shuffle).
- `logo_promoter_chr20_gc` (`LogoPromoterClassifier`): the earlier promoter
  preset, `logo_5mer_chr20` fine-tuned against GC-matched negatives only
  (it ranks dinucleotide-shuffled promoters with real ones).

The commands that regenerate them are in `docs/logo.md`.
"""

from kipoi_genome.models.presets import Preset

CITATION = (
    "Yang et al. 2022, Integrating convolution and self-attention improves language model of "
    "human genome for interpreting non-coding regions at base-resolution, NAR, "
    "doi:10.1093/nar/gkac326"
)

# Official LOGO sizes at k = 5 (LOGO.md §2.1).
BACKBONE_1KB = dict(
    vocabulary_size=3138,
    embedding_dim=128,
    hidden_dim=256,
    num_heads=8,
    intermediate_dim=1024,
    num_passes=2,
    num_blocks=1,
    max_sequence_length=512,
)
BACKBONE_2KB = {**BACKBONE_1KB, "max_sequence_length": 1024}
# The chr20-trained weights: the 1-kb backbone with LOGO's Conv1D (2, 3, 5)
# on the token embeddings (LOGO.md §2.3), which learns neighbouring-k-mer
# context within a CPU pre-training budget (docs/logo.md, table 1).
BACKBONE_CHR20 = {**BACKBONE_1KB, "conv_embedding": True}
# The chr20 promoter classifiers: 600-bp windows, mean pooling, LOGO's dropout.
PROMOTER_CHR20 = {"backbone": BACKBONE_CHR20, "pooling": "mean", "dropout": 0.25, "sequence_length": 600}

PRESETS = [
    Preset(
        name="logo_5mer_1kb",
        class_name="LogoBackbone",
        config=BACKBONE_1KB,
        description="LOGO backbone, official k=5 sizes, 512 positions (1 kb inputs); random weights.",
        metadata={"params": 1_290_496, "citation": CITATION},
    ),
    Preset(
        name="logo_5mer_2kb",
        class_name="LogoBackbone",
        config=BACKBONE_2KB,
        description="LOGO backbone, official k=5 sizes, 1,024 positions (2 kb inputs); random weights.",
        metadata={"params": 1_356_032, "citation": CITATION},
    ),
    Preset(
        name="logo_919",
        class_name="LogoChromatin",
        config={"backbone": BACKBONE_1KB, "num_outputs": 919},
        description="LOGO-919 chromatin model layout (DeepSEA 919 features, 1 kb); random weights.",
        metadata={"params": 1_526_679, "citation": CITATION},
    ),
    Preset(
        name="logo_2002",
        class_name="LogoChromatin",
        config={"backbone": BACKBONE_2KB, "num_outputs": 2002},
        description="LOGO-2002 chromatin model layout (ExPecto 2002 features, 2 kb); random weights.",
        metadata={"params": 1_870_546, "citation": CITATION},
    ),
    Preset(
        name="logo_5mer_chr20_mlm",
        class_name="LogoMaskedLM",
        config={"backbone": BACKBONE_CHR20},
        weights="presets/logo_5mer_chr20_mlm.weights.h5",
        description=(
            "LOGO k=5 masked LM (convolution option on the token embeddings) pre-trained on "
            "GRCh37 chr20 (last 10 Mb held out)."
        ),
        metadata={"citation": CITATION, "training": "docs/logo.md"},
    ),
    Preset(
        name="logo_5mer_chr20_chrX_mlm",
        class_name="LogoMaskedLM",
        config={"backbone": BACKBONE_CHR20},
        weights="presets/logo_5mer_chr20_chrX_mlm.weights.h5",
        description=(
            "logo_5mer_chr20_mlm pre-trained further on GRCh37 chr20 + chrX 0-70 Mb (last 10 Mb of "
            "chr20 and last 7 Mb of the chrX slice held out)."
        ),
        metadata={"citation": CITATION, "training": "docs/logo.md", "init_from": "logo_5mer_chr20_mlm"},
    ),
    Preset(
        name="logo_5mer_chr20",
        class_name="LogoBackbone",
        config=BACKBONE_CHR20,
        weights="presets/logo_5mer_chr20_mlm.weights.h5",
        description="Backbone of logo_5mer_chr20_mlm (chr20 masked-LM pre-training).",
        metadata={"citation": CITATION, "weights_of": "LogoMaskedLM", "training": "docs/logo.md"},
    ),
    Preset(
        name="logo_promoter_chr20",
        class_name="LogoPromoterClassifier",
        config={**PROMOTER_CHR20, "natural_head": True},
        weights="presets/logo_promoter_chr20.weights.h5",
        description=(
            "Promoter classifier (600 bp, TSS -200..+400): logo_5mer_chr20_chrX_mlm fine-tuned on the chr20 "
            "GENCODE promoter set (train split) against GC-matched, GC+CpG-matched and dinucleotide-shuffled "
            "negatives; P(promoter) x P(not a shuffle)."
        ),
        metadata={"citation": CITATION, "training": "docs/logo.md", "init_from": "logo_5mer_chr20_chrX_mlm"},
    ),
    Preset(
        name="logo_promoter_chr20_gc",
        class_name="LogoPromoterClassifier",
        config=PROMOTER_CHR20,
        weights="presets/logo_promoter_chr20_gc.weights.h5",
        description=(
            "Earlier promoter classifier (600 bp): logo_5mer_chr20 fine-tuned on the chr20 GENCODE promoter "
            "set against GC-matched negatives only; scores follow CpG content (docs/logo.md)."
        ),
        metadata={"citation": CITATION, "training": "docs/logo.md"},
    ),
]
