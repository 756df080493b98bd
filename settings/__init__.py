"""Settings shared by every process of the project (see defaults.env)."""
