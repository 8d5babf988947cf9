"""The shufflenet family."""
