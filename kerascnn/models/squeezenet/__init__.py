"""The squeezenet family."""
