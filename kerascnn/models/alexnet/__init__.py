"""The alexnet family."""
