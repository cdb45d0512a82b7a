"""ALBERT factorized token embedding."""

import keras
from keras import ops

from kipoi_genome.serialization import register


@register
class FactorizedEmbedding(keras.layers.Layer):
    """Token embedding of size E followed by a linear projection to size H.

    ALBERT factorises the `V x H` embedding matrix into `V x E` and `E x H`,
    which saves parameters when `E << H` (LOGO: V = 3,138, E = 128, H = 256).
    The two halves are also available separately: `embed` (ids -> E, so that
    other E-sized embeddings can be added before projecting, as LOGO does)
    and `project` (E -> H). `logits` multiplies E-sized vectors by the
    transposed token table, for a masked-LM output tied to the input.

    Args:
        vocabulary_size: int. Number of token ids V.
        embedding_dim: int. Factorized embedding size E.
        hidden_dim: int. Output size H.
        embeddings_initializer: initializer of the `V x E` table. Defaults to
            a truncated normal with stddev 0.02 (BERT/ALBERT).
        kernel_initializer: initializer of the `E x H` projection, same default.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: int tensor `[B, T]` of token ids in `[0, V)`.

    Returns:
        Tensor `[B, T, H]`.

    Reference:
        Lan et al. 2020, ALBERT, arXiv:1909.11942.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        hidden_dim,
        embeddings_initializer=None,
        kernel_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (
            ("vocabulary_size", vocabulary_size),
            ("embedding_dim", embedding_dim),
            ("hidden_dim", hidden_dim),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        default = keras.initializers.TruncatedNormal(stddev=0.02)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer or default)
        self.kernel_initializer = keras.initializers.get(kernel_initializer or default)

    def build(self, input_shape=None):
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build()
        self.projection = keras.layers.Dense(
            self.hidden_dim,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build((None, None, self.embedding_dim))

    def embed(self, token_ids):
        """Token ids `[B, T]` -> embeddings `[B, T, E]`."""
        return self.token_embedding(token_ids)

    def project(self, embeddings):
        """Embeddings `[B, T, E]` -> hidden states `[B, T, H]`."""
        return self.projection(embeddings)

    def logits(self, embeddings):
        """Tied output: `[B, T, E]` -> `[B, T, V]` with the token table."""
        table = ops.cast(self.token_embedding.embeddings, embeddings.dtype)
        return ops.matmul(embeddings, ops.transpose(table))

    def call(self, inputs):
        return self.project(self.embed(inputs))

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            embedding_dim=self.embedding_dim,
            hidden_dim=self.hidden_dim,
            embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
