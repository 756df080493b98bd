"""OpenAI-compatible chat + embeddings server with continuous batching (see README.md)."""
