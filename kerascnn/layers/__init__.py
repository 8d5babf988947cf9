"""Custom layers that Keras itself lacks."""

__all__ = []
