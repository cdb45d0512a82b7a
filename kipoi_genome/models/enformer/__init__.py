from kipoi_genome.models.enformer.enformer import BIN_SIZE, SEQUENCE_LENGTH, TARGET_LENGTH, Enformer
from kipoi_genome.models.enformer.enformer_presets import PRESETS
from kipoi_genome.models.enformer.track_tables import (
    enformer_tracks,
    head_track_table,
    output_track_labels,
    read_track_table,
    select_tracks,
    track_labels,
)
from kipoi_genome.models.presets import register_preset

for _preset in PRESETS:
    register_preset(_preset)
