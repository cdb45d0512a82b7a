"""Small helpers the whole package shares: atomic outputs, batching, dtype policy scopes."""
