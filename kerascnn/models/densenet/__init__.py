"""The densenet family."""
