"""The googlenet family."""
