"""Batching of iterables without materialising them."""

import itertools


def batched(iterable, size):
    """Yields lists of up to `size` consecutive items of `iterable`."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"`size` must be a positive integer. Received: size={size!r}")
    iterator = iter(iterable)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
