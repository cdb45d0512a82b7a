"""Publishing: TF-Hub SavedModels, `.tar.gz` packages and Kipoi model specs.

Kipoi itself is imported only by `kipoi_genome.export.kipoi.adapter` (and the
Kipoi dataloaders), never by `import kipoi_genome`.
"""

from kipoi_genome.export.saved_model import (
    build_hub_module,
    default_input_length,
    export_saved_model,
    input_spec,
)
from kipoi_genome.export.model_card import interface_section, render_model_card, write_tarball
