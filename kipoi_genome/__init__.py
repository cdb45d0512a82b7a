"""kipoi-genome: Enformer and LOGO rebuilt natively in Keras 3."""

from kipoi_genome.version import __version__
