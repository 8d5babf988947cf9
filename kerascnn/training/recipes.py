"""Training recipes: the papers' set-ups as data, selected with ``--recipe``.

A recipe fills the flags the user did not give; flags on the command line win.
``weight_decay_mode`` says how weight decay is applied: ``"l2"`` adds
``wd/2 * ||w||^2`` to the loss (gradient ``wd * w``, as the papers wrote it with
SGD), ``"decoupled"`` lets the optimizer shrink the weights directly (AdamW).
``lr_steps`` are fractions of the run at which the learning rate is divided by 10.
``freeze_backbone``/``unfreeze_at``/``unfreeze_lr_factor``: fine-tuning's two phases
(:mod:`kerascnn.training.finetune`).
"""

from __future__ import annotations

__all__ = ["RECIPES", "describe_recipes"]

RECIPES = {
    "cifar_resnet": dict(
        description="He et al. 2015 CIFAR-10: SGD 0.1, momentum 0.9, wd 1e-4 (L2), batch 128, "
                    "lr /10 at 50% and 75%, flip + 4-pixel pad-and-crop",
        optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=128, schedule="step", lr_steps=(0.5, 0.75),
        augment="cifar", epochs=40,
    ),
    "densenet_cifar": dict(
        description="Huang et al. 2017 CIFAR: SGD Nesterov 0.1, momentum 0.9, wd 1e-4 (L2), "
                    "batch 64, cosine decay, flip + pad-and-crop",
        optimizer="sgd", nesterov=True, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=64, schedule="cosine", augment="cifar",
        epochs=40,
    ),
    "alexnet": dict(
        description="Krizhevsky et al. 2012: SGD 0.01, momentum 0.9, wd 5e-4 (L2), batch 128, "
                    "lr /10 three times, random crops + flips + PCA lighting",
        optimizer="sgd", learning_rate=0.01, momentum=0.9, weight_decay=5e-4,
        weight_decay_mode="l2", batch_size=128, schedule="step", lr_steps=(0.33, 0.66, 0.9),
        augment="alexnet", epochs=90,
    ),
    "inception": dict(
        description="Szegedy et al. 2016 (Inception v3): RMSprop 0.045 (rho 0.9, eps 1.0), "
                    "exponential decay 0.94 per 2 epochs, label smoothing 0.1, aux loss 0.3, "
                    "gradient clipping 2.0, batch 32",
        optimizer="rmsprop", learning_rate=0.045, rho=0.9, epsilon=1.0, schedule="exponential",
        decay_rate=0.94, decay_epochs=2, label_smoothing=0.1, aux_loss_weight=0.3, clipnorm=2.0,
        batch_size=32, augment="inception", epochs=100,
    ),
    "signs": dict(
        description="The Keras blog's SIGNS set-up: the SIGNS data at 64x64, Adam 1e-3, batch 32, "
                    "cosine decay, light augmentation, 25 epochs",
        dataset="signs", image_size=64, optimizer="adam", learning_rate=1e-3, batch_size=32,
        schedule="cosine", epochs=25,
        augment="flip,pad_crop",
    ),
    "finetune": dict(
        description="Transfer learning in two phases (with --weights): the new classifier "
                    "alone for 5 epochs (backbone frozen, BN in inference mode), Adam 1e-3, "
                    "then every layer at x0.1 (1e-4) for 5 more; cosine decay in each phase, "
                    "batch 32, flips",
        optimizer="adam", learning_rate=1e-3, batch_size=32, schedule="cosine", epochs=10,
        freeze_backbone=True, unfreeze_at=5, unfreeze_lr_factor=0.1, augment="flip",
    ),
}


def describe_recipes() -> str:
    lines = []
    for name, recipe in RECIPES.items():
        settings = ", ".join(f"{k}={v}" for k, v in recipe.items() if k != "description")
        lines.append(f"{name}: {recipe['description']}\n    {settings}")
    return "\n".join(lines)
