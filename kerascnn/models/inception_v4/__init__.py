"""The inception_v4 family."""
