"""The resnet family."""
