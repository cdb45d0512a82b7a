"""The `kipoi-genome` command line. Nothing in the package imports it."""
