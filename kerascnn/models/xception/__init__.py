"""The xception family."""
