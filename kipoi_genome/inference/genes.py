"""Gene-level expression: Enformer predictions read out at genes' TSSs.

The readout rule (docs/enformer.md has the worked numbers):

1. **Window.** For each TSS at 0-based position ``p``, the model reads the
   ``L``-bp window ``[p - L // 2, p - L // 2 + L)`` on the forward strand, so
   the TSS base sits at input index ``L // 2`` (196,608-bp Enformer: index
   98,304). Bases past a contig end are N (all-zero one-hot).
2. **Output bins.** The model's ``T`` output bins of ``b`` bp (``b = 2 **
   (num_conv_tower_blocks + 1)``, 128) cover the central ``T * b`` bp of the
   window, starting at input index ``offset = (L - T * b) // 2`` (40,960 for
   896 bins). Bin ``i`` covers input ``[offset + i * b, offset + (i + 1) * b)``.
3. **TSS bin.** The TSS lies in bin ``c = (L // 2 - offset) // b`` (448 of
   0..895: the TSS is that bin's first base). The readout sums bins
   ``c - (n - 1) // 2 .. c + n // 2`` with ``n = tss_bins`` (default 3: bins
   447, 448, 449, i.e. the TSS bin and one neighbour each side, as in the
   paper's CAGE-at-TSS gene readout).
4. **Genes.** A gene's value per track is the sum (default) or mean over its
   distinct TSSs of step 3.

Minus-strand genes are **not** reverse-complemented: Enformer was trained on
forward-strand windows and its CAGE tracks count both strands, so the
forward window centred on the (strand-aware) TSS is the input; the strand
only decides which end of a transcript is its TSS. ``reverse_complement=True``
averages the forward pass with the reverse-complement pass (bins flipped
back), as test-time augmentation.
"""

import numpy as np
from tqdm.auto import tqdm

from kipoi_genome.utils.batching import batched
from kipoi_genome.data import FastaExtractor, InputFileError
from kipoi_genome.interpret.augmentation import predict_averaged
from kipoi_genome.models.enformer.bin_layout import bin_layout

AGGREGATES = ("sum", "mean")


def choose_head(model, head=None):
    """The output head to read: `head`, else `"human"`, else the only head.

    Raises:
        ValueError: for an unknown head, or several heads and none chosen.
    """
    heads = list(getattr(model, "heads", None) or [])
    if not heads:
        return head
    if head is None:
        if "human" in heads:
            return "human"
        if len(heads) == 1:
            return heads[0]
        raise ValueError(f"Choose a --head from {heads}. Received: none")
    if head not in heads:
        raise ValueError(f"Unknown head {head!r}; the model has {heads}")
    return head


def _head_output(outputs, head):
    if isinstance(outputs, dict):
        return outputs[head] if head is not None else next(iter(outputs.values()))
    return outputs


def check_genes(genes, fasta):
    """Raises `InputFileError` (file, line, value) for a TSS off the FASTA's contigs."""
    lengths = fasta.chromosome_lengths
    for gene in genes:
        length = lengths.get(gene.chrom)
        if length is None:
            raise InputFileError(gene.source, gene.line, f"contig not in FASTA {fasta.path}", gene.chrom)
        if gene.tss[-1] >= length:
            raise InputFileError(
                gene.source,
                gene.line,
                f"TSS of {gene.id} lies past the end of {gene.chrom} (length {length})",
                gene.tss[-1] + 1,
            )


def predict_genes(
    model,
    fasta,
    genes,
    head=None,
    tracks=None,
    tss_bins=3,
    aggregate="sum",
    reverse_complement=False,
    batch_size=4,
    progress=True,
):
    """Yields `(gene, values)` per gene, in order: the TSS readout (module docstring).

    Args:
        model: an Enformer (or a model with the same attributes, see `bin_layout`).
        fasta: path or `FastaExtractor`.
        genes: list of `kipoi_genome.data.genes.Gene`.
        head: output head (see `choose_head`).
        tracks: track indices to keep, or None for all.
        tss_bins: bins summed around each TSS (default 3).
        aggregate: `"sum"` (default) or `"mean"` over a gene's TSSs.
        reverse_complement: also average over the reverse-complement pass.
        batch_size: TSS windows per forward pass.
        progress: show a progress bar (one step per TSS).

    Yields:
        `(Gene, float32 [tracks])`. Memory is bounded by one batch.
    """
    if aggregate not in AGGREGATES:
        raise ValueError(f"`aggregate` must be one of {AGGREGATES}. Received: aggregate={aggregate!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    fasta = fasta if isinstance(fasta, FastaExtractor) else FastaExtractor(fasta)
    genes = list(genes)
    check_genes(genes, fasta)
    layout = bin_layout(model)
    bins = layout.readout_bins(tss_bins)
    head = choose_head(model, head)
    track_index = None if tracks is None else np.asarray(tracks, dtype=np.int64)
    sites = [(g, p) for g, gene in enumerate(genes) for p in gene.tss]

    bar = tqdm(total=len(sites), unit="TSS", disable=not progress, desc="predict-genes")
    totals, counts, next_gene = {}, {}, 0
    for batch in batched(sites, batch_size):
        x = fasta.extract_one_hot_batch(
            [genes[g].chrom for g, _ in batch],
            [layout.window_start(p) for _, p in batch],
            layout.sequence_length,
        )
        out = _head_output(predict_averaged(model, x, (0,), reverse_complement), head)
        readout = np.asarray(out, dtype=np.float64)[:, bins].sum(axis=1)
        if track_index is not None:
            readout = readout[:, track_index]
        for (g, _), values in zip(batch, readout):
            totals[g] = totals.get(g, 0.0) + values
            counts[g] = counts.get(g, 0) + 1
        bar.update(len(batch))
        # A gene is complete once a later gene's TSS has been read.
        last = batch[-1][0]
        while next_gene < last or (next_gene == last and counts[last] == len(genes[last].tss)):
            yield genes[next_gene], _finish(totals.pop(next_gene), counts.pop(next_gene), aggregate)
            next_gene += 1
    bar.close()


def _finish(total, count, aggregate):
    value = total / count if aggregate == "mean" else total
    return np.asarray(value, dtype=np.float32)
