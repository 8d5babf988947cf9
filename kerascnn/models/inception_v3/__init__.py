"""The inception_v3 family."""
