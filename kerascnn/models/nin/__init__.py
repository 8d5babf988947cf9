"""The nin family."""
