"""Makes kipoi 0.8.6 work on NumPy 2 and Keras 3; imported by our Kipoi classes only.

Importing this module (which `adapter` and `dataloaders` do, and
`import kipoi_genome` never does) applies:

- NumPy 2 removed `np.string_` / `np.unicode_`, which kipoi's HDF5 writer
  uses (kipoi/writers.py): both are aliased to `np.bytes_` / `np.str_` when
  missing, so `kipoi predict -o x.h5` and `kipoi test -o x.h5` work.
- `writers: {hdf5_chunk_size: N}` in model.yaml (which keeps the HDF5 writer
  from buffering 10,000 samples) is passed by `kipoi predict` to every
  writer, and the TSV writer rejects it (`TypeError: ... unexpected keyword
  argument 'hdf5_chunk_size'`): `kipoi.writers.get_writer` is wrapped to pass
  it to HDF5 outputs only.

Handled elsewhere:

- `pkg_resources` (imported by the `kipoi` command itself): the `kipoi`
  extra pins `setuptools<82`, the last series that ships it.
- Extension-less downloads and dict outputs: `adapter.KerasModel`.
- `test.expect` paths resolved against the working directory instead of the
  model directory: `adapter.KerasModel.test`.
"""

import numpy as np


def apply_numpy2_aliases():
    """Adds `np.string_` and `np.unicode_` when NumPy lacks them; idempotent."""
    if "string_" not in np.__dict__:
        np.string_ = np.bytes_
    if "unicode_" not in np.__dict__:
        np.unicode_ = np.str_


def apply_writer_fix():
    """Makes `kipoi.writers.get_writer` drop `hdf5_chunk_size` for non-HDF5 files; idempotent."""
    import kipoi.writers

    original = kipoi.writers.get_writer
    if getattr(original, "_kipoi_genome_fix", False):
        return

    def get_writer(output_file, metadata_schema=None, **kwargs):
        if not str(output_file).endswith((".h5", ".hdf5")):
            kwargs.pop("hdf5_chunk_size", None)
        return original(output_file, metadata_schema=metadata_schema, **kwargs)

    get_writer._kipoi_genome_fix = True
    kipoi.writers.get_writer = get_writer


apply_numpy2_aliases()
apply_writer_fix()
