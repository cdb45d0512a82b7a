"""Wide tables (rows x tracks) written as TSV, HDF5 or Parquet, by file suffix.

A table has key columns (strings or integers naming each row: gene id, name,
chromosome, ...) and float32 value columns (one per track, 5,313 for the
human Enformer head). Rows arrive in batches, so memory is bounded by one
batch; the file appears only when complete (`kipoi_genome.utils.atomic`).

Layouts:

* ``.tsv``: a header line (key names, then value names), values ``%.6g``.
* ``.h5`` / ``.hdf5``: one dataset per key column (``[rows]``, strings as
  UTF-8), ``values`` ``[rows, tracks]`` float32 and ``columns`` ``[tracks]``
  (the value column names), also stored as the ``columns`` attribute of
  ``values``.
* ``.parquet``: one column per key and per track (float32), written with
  pyarrow in row groups of `row_group_size` rows; readable with
  ``pandas.read_parquet``.
"""

import contextlib

import numpy as np

from kipoi_genome.utils.atomic import atomic_output

TABLE_SUFFIXES = (".tsv", ".h5", ".hdf5", ".parquet")


def table_format(path):
    """`"tsv"`, `"hdf5"` or `"parquet"` for an output path, else a ValueError."""
    lower = str(path).lower()
    if lower.endswith(".tsv") or lower == "-":
        return "tsv"
    if lower.endswith((".h5", ".hdf5")):
        return "hdf5"
    if lower.endswith(".parquet"):
        return "parquet"
    raise ValueError(f"Output must end in .tsv, .h5 or .parquet. Received: {path!r}")


class _TsvTable:
    def __init__(self, handle, keys, columns):
        self.handle = handle
        handle.write("\t".join([*keys, *columns]) + "\n")

    def write(self, key_rows, values):
        for keys, row in zip(key_rows, values):
            self.handle.write(
                "\t".join(map(str, keys)) + "\t" + "\t".join("nan" if np.isnan(v) else f"{v:.6g}" for v in row)
                + "\n"
            )


class _Hdf5Table:
    def __init__(self, h5, keys, columns):
        import h5py

        self.h5, self.keys, self.rows = h5, list(keys), 0
        self.datasets = dict.fromkeys(self.keys)  # created by the first batch (int64 or string)
        self.values = h5.create_dataset(
            "values",
            shape=(0, len(columns)),
            maxshape=(None, len(columns)),
            dtype="float32",
            chunks=(max(1, min(256, 2**20 // max(1, len(columns)))), max(1, len(columns))),
        )
        h5.create_dataset("columns", data=list(columns), dtype=h5py.string_dtype())
        self.values.attrs["columns"] = list(columns)
        self._string = h5py.string_dtype()

    def write(self, key_rows, values):
        values = np.asarray(values, dtype=np.float32).reshape(len(key_rows), -1)
        n = len(key_rows)
        for j, name in enumerate(self.keys):
            column = [row[j] for row in key_rows]
            dataset = self.datasets[name]
            if dataset is None:
                integer = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in column)
                dataset = self.h5.create_dataset(
                    name, shape=(0,), maxshape=(None,), dtype="int64" if integer else self._string, chunks=(1024,)
                )
                self.datasets[name] = dataset
            dataset.resize((self.rows + n,))
            if dataset.dtype == np.int64:
                dataset[self.rows :] = np.asarray(column, dtype=np.int64)
            else:
                dataset[self.rows :] = [str(v) for v in column]
        self.values.resize((self.rows + n, self.values.shape[1]))
        self.values[self.rows :] = values
        self.rows += n

    def close(self):
        for name, dataset in self.datasets.items():
            if dataset is None:  # no rows: empty string columns
                self.h5.create_dataset(name, shape=(0,), dtype=self._string)


class _ParquetTable:
    def __init__(self, path, keys, columns, key_types, row_group_size):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa, self.keys, self.columns = pa, list(keys), list(columns)
        if len(set(self.keys + self.columns)) != len(self.keys) + len(self.columns):
            raise ValueError("Parquet column names must be unique; track names repeat a key or each other.")
        fields = [pa.field(k, pa.int64() if key_types.get(k) is int else pa.string()) for k in self.keys]
        fields += [pa.field(c, pa.float32()) for c in self.columns]
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.row_group_size = row_group_size
        self.pending_keys, self.pending_values = [], []

    def write(self, key_rows, values):
        self.pending_keys += list(key_rows)
        self.pending_values.append(np.asarray(values, dtype=np.float32).reshape(len(key_rows), -1))
        if len(self.pending_keys) >= self.row_group_size:
            self.flush()

    def flush(self):
        if not self.pending_keys:
            return
        pa = self.pa
        values = np.concatenate(self.pending_values, axis=0)
        arrays = []
        for j, name in enumerate(self.keys):
            kind = self.schema.field(name).type
            column = [row[j] if kind == pa.int64() else str(row[j]) for row in self.pending_keys]
            arrays.append(pa.array(column, type=kind))
        arrays += [pa.array(values[:, i]) for i in range(values.shape[1])]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.pending_keys, self.pending_values = [], []

    def close(self, complete=True):
        if complete:
            self.flush()
        self.writer.close()


@contextlib.contextmanager
def open_table(path, keys, columns, key_types=None, row_group_size=1024):
    """Opens a wide table for writing; the format follows `path`'s suffix.

    Args:
        path: output path (`.tsv`, `.h5`/`.hdf5`, `.parquet`), or `"-"` for
            TSV on stdout.
        keys: list of str. Key column names.
        columns: list of str. Value column names (track names).
        key_types: dict key -> `int` or `str` (Parquet schema); default str.
        row_group_size: int. Parquet rows per row group.

    Yields:
        A writer with `write(key_rows, values)`: `key_rows` a list of tuples
        (one per row, `len(keys)` items) and `values` float `[rows, len(columns)]`.
    """
    import sys

    kind = table_format(path)
    keys, columns = list(keys), list(columns)
    if kind == "tsv":
        if path == "-":
            yield _TsvTable(sys.stdout, keys, columns)
            return
        with atomic_output(path, "w", suffix=".tsv") as handle:
            yield _TsvTable(handle, keys, columns)
    elif kind == "hdf5":
        import h5py

        with atomic_output(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as h5:
            table = _Hdf5Table(h5, keys, columns)
            yield table
            table.close()
    else:
        with atomic_output(path, suffix=".parquet") as tmp:
            table = _ParquetTable(tmp, keys, columns, key_types or {}, row_group_size)
            try:
                yield table
            except BaseException:
                table.close(complete=False)
                raise
            table.close()
