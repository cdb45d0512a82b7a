"""Enformer track tables: reading, cached download, selection by index and pattern, labels."""

import gzip
import hashlib
import os
import re

import pytest

from kipoi_genome.download import DownloadError
from kipoi_genome.models import enformer_tracks, select_tracks, track_labels
from kipoi_genome.models.enformer import track_tables as tracks_module
from tests.http_helpers import serve


def _raw_rows(path):
    """The shared table parsed with plain gzip + split, independent of pandas."""
    with gzip.open(path, "rt") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"))) for line in handle]


@pytest.fixture(scope="module")
def tables(shared_dir):
    folder = shared_dir / "data" / "enformer"
    return {organism: folder / f"targets_{organism}.txt.gz" for organism in ("human", "mouse")}


def test_tables_read_from_local_copies(tables):
    for organism, rows in (("human", 5313), ("mouse", 1643)):
        table = enformer_tracks(organism, path=str(tables[organism]))
        raw = _raw_rows(tables[organism])
        assert len(table) == len(raw) == rows
        assert {"index", "identifier", "assay", "description", "clip", "scale", "sum_stat"} <= set(table.columns)
        assert table["index"].tolist() == list(range(rows))  # output track i, also for mouse (file numbers from 5313)
        assert table["identifier"].tolist() == [r["identifier"] for r in raw]
        assert table["description"].tolist() == [r["description"] for r in raw]
        assert table["assay"].tolist() == [r["description"].split(":")[0] for r in raw]
        assert table["clip"].tolist() == [int(r["clip"]) for r in raw]
    human = enformer_tracks("human", path=str(tables["human"]))
    # ../shared/data/README.md: DNASE 674, CHIP 3,991, CAGE 638, ATAC 10.
    assert human["assay"].value_counts().to_dict() == {"CHIP": 3991, "DNASE": 674, "CAGE": 638, "ATAC": 10}


def test_plain_copy_and_env_folder(tables, tmp_path, monkeypatch):
    plain = tmp_path / "targets_mouse.txt"
    plain.write_bytes(gzip.decompress(tables["mouse"].read_bytes()))
    monkeypatch.setenv("KIPOI_GENOME_TRACK_TABLES", str(tmp_path))
    table = enformer_tracks("mouse")
    assert len(table) == 1643 and table["identifier"].iloc[0] == "ENCFF866ZTV"
    with pytest.raises(FileNotFoundError, match="targets_human"):
        enformer_tracks("human")
    with pytest.raises(ValueError, match="organism"):
        enformer_tracks("zebrafish")


def test_bad_tables(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: track table needs"):
        enformer_tracks("human", path=str(bad))
    short = tmp_path / "short.txt"
    short.write_text("index\tidentifier\tdescription\n0\tX1\tCAGE:liver\n")
    with pytest.raises(ValueError, match="5,313 tracks. Received: 1 rows"):
        enformer_tracks("human", path=str(short))
    with pytest.raises(FileNotFoundError):
        enformer_tracks("human", path=str(tmp_path / "missing.txt"))


def test_cage_k562_selection_matches_independent_parse(tables):
    table = enformer_tracks("human", path=str(tables["human"]))
    raw = _raw_rows(tables["human"])
    expected = [
        i for i, row in enumerate(raw)
        if row["description"].upper().startswith("CAGE:") and "K562" in row["description"].upper()
    ]
    assert len(expected) == 2
    assert select_tracks("CAGE:*K562*", table) == expected
    assert 4828 in expected  # README's example track
    dnase_k562 = [i for i, r in enumerate(raw) if re.fullmatch(r"(?i)dnase:.*k562.*", r["description"])]
    assert select_tracks("dnase:*k562*", table) == dnase_k562
    # Numbers, ranges and patterns mix; order kept, duplicates dropped.
    assert select_tracks("4828,10-12,CAGE:*K562*", table) == [4828, 10, 11, 12] + [i for i in expected if i != 4828]
    identifier = raw[4828]["identifier"]
    assert select_tracks(identifier, table) == [4828]


def test_selection_errors(tables):
    table = enformer_tracks("human", path=str(tables["human"]))
    with pytest.raises(ValueError, match=r"'CAGE:\*nowhere\*' matches no track"):
        select_tracks("CAGE:*nowhere*", table)
    with pytest.raises(ValueError, match="tracks 0-5312"):
        select_tracks("5313", table)
    with pytest.raises(ValueError, match="needs a track table"):
        select_tracks("CAGE:*", None, num_tracks=8)
    with pytest.raises(ValueError, match="empty item"):
        select_tracks("1,,2", None)
    assert select_tracks("0,2-3", None, num_tracks=8) == [0, 2, 3]
    assert select_tracks(None, table) is None


def test_track_labels(tables):
    table = enformer_tracks("human", path=str(tables["human"]))
    labels = track_labels("human", 5313, table)
    raw = _raw_rows(tables["human"])
    assert len(set(labels)) == 5313
    assert labels[4828] == f"human:{raw[4828]['identifier']}:{raw[4828]['description']}"
    assert labels[4828] == "human:CNhs11250:CAGE:chronic myelogenous leukemia cell line:K562"
    assert track_labels("human", 3) == ["human_0", "human_1", "human_2"]
    with pytest.raises(ValueError, match="5,313 rows"):
        track_labels("human", 8, table)


def test_download_is_cached_and_verified(tables, tmp_path, monkeypatch):
    body = gzip.decompress(tables["mouse"].read_bytes())
    sha = hashlib.sha256(body).hexdigest()
    assert sha == tracks_module.TRACK_TABLES["mouse"][1]
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("KIPOI_GENOME_TRACK_TABLES", raising=False)
    with serve({"/targets_mouse.txt": body, "/bad.txt": body[:-1] + b"x"}) as (url, log):
        cache = tmp_path / "keras" / "kipoi_genome"
        monkeypatch.setitem(tracks_module.TRACK_TABLES, "mouse", (f"{url}/bad.txt", sha, 1643))
        with pytest.raises(DownloadError, match="sha256 mismatch"):
            enformer_tracks("mouse", progress=False)
        assert os.listdir(cache) == []
        monkeypatch.setitem(tracks_module.TRACK_TABLES, "mouse", (f"{url}/targets_mouse.txt", sha, 1643))
        table = enformer_tracks("mouse", progress=False)
        assert len(table) == 1643 and log == ["/bad.txt", "/targets_mouse.txt"]
        assert len(enformer_tracks("mouse", progress=False)) == 1643
        assert log == ["/bad.txt", "/targets_mouse.txt"]  # second call: the cache, no request
        assert os.listdir(cache) == [f"targets_mouse-{sha[:12]}.txt"]
