"""The vgg family."""
