"""The cifar_resnet family."""
