"""The mobilenet family."""
