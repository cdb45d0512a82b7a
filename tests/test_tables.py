"""Wide tables (kipoi_genome.tables): the same rows read back from TSV, HDF5 and Parquet."""

import h5py
import numpy as np
import pandas as pd
import pytest

from kipoi_genome.tables import open_table, table_format

KEYS = ("gene_id", "chrom", "tss_count")
COLUMNS = ["human:CNhs11250:CAGE:chronic myelogenous leukemia cell line:K562", "human_1", "human_2"]


def write(path, batches):
    with open_table(path, KEYS, COLUMNS, key_types={"tss_count": int}, row_group_size=2) as table:
        for keys, values in batches:
            table.write(keys, values)


def test_formats_agree(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 3)).astype(np.float32)
    keys = [(f"G{i}", "chr20", i + 1) for i in range(5)]
    batches = [(keys[:2], values[:2]), (keys[2:3], values[2:3]), (keys[3:], values[3:])]
    for name in ("t.tsv", "t.h5", "t.parquet"):
        write(tmp_path / name, batches)

    tsv = pd.read_csv(tmp_path / "t.tsv", sep="\t")
    parquet = pd.read_parquet(tmp_path / "t.parquet")
    for frame in (tsv, parquet):
        assert list(frame.columns) == [*KEYS, *COLUMNS]
        assert list(frame["gene_id"]) == [k[0] for k in keys] and list(frame["tss_count"]) == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(parquet[COLUMNS].to_numpy(), values)
    np.testing.assert_allclose(tsv[COLUMNS].to_numpy(), values, rtol=1e-5)
    assert str(parquet["tss_count"].dtype) == "int64"
    with h5py.File(tmp_path / "t.h5") as h5:
        np.testing.assert_array_equal(h5["values"][:], values)
        assert [v.decode() for v in h5["columns"][:]] == COLUMNS
        assert list(h5["values"].attrs["columns"]) == COLUMNS
        assert [v.decode() for v in h5["gene_id"][:]] == [k[0] for k in keys]
        assert list(h5["tss_count"][:]) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("name", ["t.tsv", "t.h5", "t.parquet"])
def test_error_leaves_no_file(tmp_path, name):
    with pytest.raises(RuntimeError):
        with open_table(tmp_path / name, KEYS, COLUMNS) as table:
            table.write([("G0", "chr20", 1)], np.zeros((1, 3)))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix():
    with pytest.raises(ValueError, match=r"must end in .tsv, .h5 or .parquet. Received: 'x.csv'"):
        table_format("x.csv")
