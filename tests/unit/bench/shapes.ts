// SmolLM2-135M's config.json fields the bench's cost model reads, for the bench's unit tests.

export const SMOLLM2_135M_CONFIG = {
  num_hidden_layers: 30,
  hidden_size: 576,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  head_dim: 64,
  intermediate_size: 1536,
  vocab_size: 49152,
  tie_word_embeddings: true,
}
