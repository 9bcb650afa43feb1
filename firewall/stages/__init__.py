"""The pipeline stages: each a small object with one check."""
