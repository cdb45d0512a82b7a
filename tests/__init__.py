"""Test suite of kipoi-genome (a package, so `tests.*` helpers win over stray `tests` packages in site-packages)."""
