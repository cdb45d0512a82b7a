"""kipoi-genome: Enformer and LOGO rebuilt natively in Keras 3.

Importing the package imports TensorFlow and Keras (without their import
noise on stderr, see `kipoi_genome.utils.quiet_import`) and registers every
class a `.keras` file of this package can hold: the layers, the Enformer and
LOGO models, the k-mer tokenizer and the learning-rate schedules. After
`import kipoi_genome`, `keras.saving.load_model(path)` reads any of them, as
after `import keras_hub`. docs/architecture.md maps the subpackages.
"""

from kipoi_genome.version import __version__
from kipoi_genome.utils.quiet_import import import_tensorflow_quietly

import_tensorflow_quietly()

# Imported for their `kipoi_genome>Name` registrations (serialization.register).
from kipoi_genome import layers, models, tokenizers  # noqa: E402
from kipoi_genome.training import schedules  # noqa: E402

del import_tensorflow_quietly
