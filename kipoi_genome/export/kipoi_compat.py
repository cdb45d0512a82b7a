"""Makes kipoi 0.8.6 work on NumPy 2 and Keras 3; imported by our Kipoi classes only.

Importing this module (which `kipoi_adapter` and `kipoi_dataloaders` do, and
`import kipoi_genome` never does) applies:

- NumPy 2 removed `np.string_` / `np.unicode_`, which kipoi's HDF5 writer
  uses (kipoi/writers.py): both are aliased to `np.bytes_` / `np.str_` when
  missing, so `kipoi predict -o x.h5` and `kipoi test -o x.h5` work.

Handled elsewhere:

- `pkg_resources` (imported by the `kipoi` command itself): the `kipoi`
  extra pins `setuptools<82`, the last series that ships it.
- Extension-less downloads and dict outputs: `kipoi_adapter.KerasModel`.
- `test.expect` paths resolved against the working directory instead of the
  model directory: `kipoi_adapter.KerasModel.test`.
"""

import numpy as np


def apply_numpy2_aliases():
    """Adds `np.string_` and `np.unicode_` when NumPy lacks them; idempotent."""
    if "string_" not in np.__dict__:
        np.string_ = np.bytes_
    if "unicode_" not in np.__dict__:
        np.unicode_ = np.str_


apply_numpy2_aliases()
