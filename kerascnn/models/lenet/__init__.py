"""The lenet family."""
