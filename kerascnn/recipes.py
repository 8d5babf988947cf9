"""Training recipes as data: each family's default, and the papers' set-ups by name.

Pure data (no keras, no training code): a family names its recipes
(``register_variants(..., recipe="resnet", paper_recipe="imagenet_resnet")``) and the
training code (:mod:`kerascnn.training.recipes`) looks them up here.

A recipe fills the flags the user did not give; flags on the command line win.
fit.py uses the model family's **default recipe** when ``--recipe`` is not given
(:data:`DEFAULT_RECIPES`, named by the family's variant table); ``--recipe paper`` takes
the family's paper recipe, ``--recipe NAME`` any recipe of :data:`RECIPES`, and
``--recipe none`` the bare :class:`~kerascnn.training.config.FitConfig` defaults.

A recipe is a flat dict of :class:`~kerascnn.training.config.FitConfig` settings
plus a ``description``. ``weight_decay_mode`` says how weight decay is applied:
``"l2"`` adds ``wd/2 * ||w||^2`` to the loss (gradient ``wd * w``, as the papers
wrote it with SGD), ``"decoupled"`` lets the optimizer shrink the weights directly
(AdamW: each step subtracts ``lr * wd * w``). ``lr_steps`` are fractions of the run
at which the learning rate is divided by 10.

``adapt`` (family defaults) says how the batch size and the number of epochs follow
the size of the training split, once the data is read (:func:`adapt_to_data`):

* ``min_steps_per_epoch``, ``min_batch``: the batch is halved (not below
  ``min_batch``) until an epoch has at least ``min_steps_per_epoch`` steps;
* ``min_steps``, ``max_steps``: the epochs are raised until the run has at least
  ``min_steps`` optimizer steps and lowered until it has at most ``max_steps``
  (about; never below one epoch).

The modern recipes (:data:`MODERN_RECIPES`) add three rules, applied after the epochs:

* ``warmup_fraction``: ``warmup_epochs`` is this fraction of the (adapted) run, as the
  paper's warm-up was of its run;
* ``ema_fraction``: ``ema`` (the decay of the weights' average) is set so that the
  average's horizon, ``1 / (1 - decay)`` optimizer steps, is this fraction of the run;
* ``train_size_ratio``: ``train_size`` is this fraction of the evaluation side (FixRes:
  the paper's training side over its test side).

A flag given on the command line (``--batch-size``, ``--epochs``, ``--warmup-epochs``,
``--ema``, ``--train-size``) is never adapted.
``freeze_backbone``/``unfreeze_at``/``unfreeze_lr_factor``: fine-tuning's two phases
(:mod:`kerascnn.training.finetune`).
"""

from __future__ import annotations

import math

__all__ = ["RECIPES", "DEFAULT_RECIPES", "SPECIAL_RECIPES", "SMALL_DATA_ADAPT",
           "MODERN_RECIPES", "ADAPT_FLAGS", "small_data_recipe", "adapt_to_data",
           "describe_recipe"]

# The names --recipe takes besides RECIPES': the family's default, its paper recipe, nothing.
SPECIAL_RECIPES = ("default", "paper", "none")

RECIPES = {
    "cifar_resnet": dict(
        description="He et al. 2015 (Deep Residual Learning for Image Recognition), CIFAR-10: "
                    "SGD 0.1, momentum 0.9, wd 1e-4 (L2), batch 128, lr /10 at 50% and 75%, "
                    "flip + 4-pixel pad-and-crop",
        optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=128, schedule="step", lr_steps=(0.5, 0.75),
        augment="cifar", epochs=40,
    ),
    "densenet_cifar": dict(
        description="Huang et al. 2017 (Densely Connected Convolutional Networks), CIFAR: SGD "
                    "Nesterov 0.1, momentum 0.9, wd 1e-4 (L2), batch 64, cosine decay, flip + "
                    "pad-and-crop",
        optimizer="sgd", nesterov=True, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=64, schedule="cosine", augment="cifar",
        epochs=40,
    ),
    "wrn_cifar": dict(
        description="Zagoruyko & Komodakis 2016 (Wide Residual Networks), CIFAR: SGD Nesterov "
                    "0.1, momentum 0.9, wd 5e-4 (L2), batch 128, lr dropped at 30%, 60% and 80% "
                    "(the paper multiplies by 0.2; here /10), flip + pad-and-crop",
        optimizer="sgd", nesterov=True, learning_rate=0.1, momentum=0.9, weight_decay=5e-4,
        weight_decay_mode="l2", batch_size=128, schedule="step", lr_steps=(0.3, 0.6, 0.8),
        augment="cifar", epochs=200,
    ),
    "resnext_cifar": dict(
        description="Xie et al. 2017 (Aggregated Residual Transformations for Deep Neural "
                    "Networks), CIFAR: SGD 0.1, momentum 0.9, wd 5e-4 (L2), batch 128, lr /10 "
                    "at 50% and 75% of 300 epochs, flip + pad-and-crop",
        optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=5e-4,
        weight_decay_mode="l2", batch_size=128, schedule="step", lr_steps=(0.5, 0.75),
        augment="cifar", epochs=300,
    ),
    "imagenet_resnet": dict(
        description="He et al. 2015 (Deep Residual Learning for Image Recognition), ImageNet: "
                    "SGD 0.1, momentum 0.9, wd 1e-4 (L2), batch 256, lr /10 at 1/3 and 2/3 of "
                    "90 epochs, scale augmentation + flip + PCA lighting",
        optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=256, schedule="step", lr_steps=(0.33, 0.66),
        augment="vgg,lighting", epochs=90,
    ),
    "vgg": dict(
        description="Simonyan & Zisserman 2015 (Very Deep Convolutional Networks for "
                    "Large-Scale Image Recognition): SGD 0.01, momentum 0.9, wd 5e-4 (L2), "
                    "batch 256, lr /10 three times over 74 epochs, scale jittering + flip",
        optimizer="sgd", learning_rate=0.01, momentum=0.9, weight_decay=5e-4,
        weight_decay_mode="l2", batch_size=256, schedule="step", lr_steps=(0.33, 0.66, 0.9),
        augment="vgg", epochs=74,
    ),
    "alexnet": dict(
        description="Krizhevsky et al. 2012 (ImageNet Classification with Deep Convolutional "
                    "Neural Networks): SGD 0.01, momentum 0.9, wd 5e-4 (L2), batch 128, lr /10 "
                    "three times, random crops + flips + PCA lighting",
        optimizer="sgd", learning_rate=0.01, momentum=0.9, weight_decay=5e-4,
        weight_decay_mode="l2", batch_size=128, schedule="step", lr_steps=(0.33, 0.66, 0.9),
        augment="alexnet", epochs=90,
    ),
    "lenet": dict(
        description="LeCun et al. 1998 (Gradient-Based Learning Applied to Document "
                    "Recognition): 20 passes over MNIST with a step size lowered from 5e-4 to "
                    "1e-5; the paper's stochastic diagonal Levenberg-Marquardt is not an "
                    "optimizer here, so: plain SGD, batch 1 is replaced by batch 16, lr stepped "
                    "down at 10%, 25%, 40% and 60%",
        optimizer="sgd", learning_rate=0.05, momentum=0.0, batch_size=16, schedule="step",
        lr_steps=(0.1, 0.25, 0.4, 0.6), augment="none", epochs=20,
    ),
    "nin": dict(
        description="Lin et al. 2014 (Network In Network), CIFAR-10: SGD with momentum, batch "
                    "128, the learning rate lowered by 10 by hand when validation accuracy "
                    "stops improving (the paper gives no numbers: 0.1, momentum 0.9, wd 1e-4 and "
                    "/10 at 50% and 75% here), dropout in the model, flip + pad-and-crop",
        optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=128, schedule="step", lr_steps=(0.5, 0.75),
        augment="cifar", epochs=120,
    ),
    "inception": dict(
        description="Szegedy et al. 2016 (Rethinking the Inception Architecture for Computer "
                    "Vision, Inception v3): RMSprop 0.045 (rho 0.9, eps 1.0), exponential decay "
                    "0.94 per 2 epochs, label smoothing 0.1, aux loss 0.3, gradient clipping "
                    "2.0, batch 32",
        optimizer="rmsprop", learning_rate=0.045, rho=0.9, epsilon=1.0, schedule="exponential",
        decay_rate=0.94, decay_epochs=2, label_smoothing=0.1, aux_loss_weight=0.3, clipnorm=2.0,
        batch_size=32, augment="inception", epochs=100,
    ),
    "mobilenet": dict(
        description="Howard et al. 2017 (MobileNets): RMSprop, asynchronous, as Inception v3, "
                    "with little weight decay and less augmentation (the paper gives no numbers: "
                    "Inception v3's 0.045, decay 0.94 per 2 epochs, wd 4e-5 (L2), batch 96, "
                    "random crops + flips here)",
        optimizer="rmsprop", learning_rate=0.045, rho=0.9, epsilon=1.0, weight_decay=4e-5,
        weight_decay_mode="l2", schedule="exponential", decay_rate=0.94, decay_epochs=2,
        batch_size=96, augment="crop,flip", epochs=100,
    ),
    "squeezenet": dict(
        description="Iandola et al. 2016 (SqueezeNet): SGD 0.04, momentum 0.9, wd 2e-4 (L2), "
                    "batch 512, the learning rate decreasing to zero (the paper's linear decay; "
                    "cosine here), random crops + flips",
        optimizer="sgd", learning_rate=0.04, momentum=0.9, weight_decay=2e-4,
        weight_decay_mode="l2", batch_size=512, schedule="cosine", augment="crop,flip",
        epochs=68,
    ),
    "shufflenet": dict(
        description="Zhang et al. 2018 (ShuffleNet): SGD 0.5, momentum 0.9, wd 4e-5 (L2), batch "
                    "1024, the learning rate decreasing to zero (linear in the paper; cosine "
                    "here), less aggressive scale augmentation",
        optimizer="sgd", learning_rate=0.5, momentum=0.9, weight_decay=4e-5,
        weight_decay_mode="l2", batch_size=1024, schedule="cosine", augment="crop,flip",
        epochs=240,
    ),
    "densenet_imagenet": dict(
        description="Huang et al. 2017 (Densely Connected Convolutional Networks), ImageNet: SGD "
                    "Nesterov 0.1, momentum 0.9, wd 1e-4 (L2), batch 256, lr /10 at epochs 30 "
                    "and 60 of 90, the ResNet augmentation",
        optimizer="sgd", nesterov=True, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=256, schedule="step", lr_steps=(0.33, 0.66),
        augment="vgg,lighting", epochs=90,
    ),
    "senet": dict(
        description="Hu et al. 2018 (Squeeze-and-Excitation Networks): SGD 0.6, momentum 0.9, "
                    "wd 1e-4 (L2), batch 1024, lr /10 every 30 epochs of 100, random-size crops "
                    "+ flips",
        optimizer="sgd", learning_rate=0.6, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", batch_size=1024, schedule="step", lr_steps=(0.3, 0.6, 0.9),
        augment="inception", epochs=100,
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

# The recipes of the last few years (issue 26), scaled to small data as the family defaults
# are: batch 64 halved down to 16 for at least 20 steps an epoch, 800-4000 optimizer steps in
# all (the papers' run lengths in proportion through their nominal epochs), the warm-up and
# the weight average's horizon the papers' fractions of the run, FixRes' side ratio. The
# learning rate of SGD follows the batch linearly from the paper's (--lr-scaling linear);
# LAMB's (a per-layer trust ratio) is the paper's. BN momentum 0.9 is PyTorch's 0.1, as
# both papers trained.
_MODERN_ADAPT = dict(min_steps_per_epoch=20, min_batch=16, min_steps=800, max_steps=4000)


# What the three procedures of "ResNet strikes back" share (their table 1).
_RSB = dict(
    source="Wightman, Touvron, Jegou 2021, \"ResNet strikes back: An improved training "
           "procedure in timm\", table 1",
    optimizer="lamb", weight_decay_mode="decoupled", schedule="cosine", warmup_epochs=0.5,
    loss="bce", bn_momentum=0.9, batch_size=64,
)
MODERN_RECIPES = {
    "torchvision_2021": dict(
        description="torchvision's 2021 ResNet-50 recipe (80.9 % on ImageNet), scaled to small "
                    "data: SGD 0.5 x batch/1024, momentum 0.9, wd 2e-5 (L2, not on BN), cosine "
                    "decay after a linear warm-up of 5/600 of the run, label smoothing 0.1, "
                    "mixup 0.2 + cutmix 1.0, random-resized crop + flip + TrivialAugment + "
                    "random erasing 0.1, weight EMA (horizon 1/26 of the run, warmed up), train "
                    "at 176/224 of the evaluation side (FixRes); not here: repeated "
                    "augmentation, the EMA's 32-step period, the 232 -> 224 evaluation resize",
        source="Vryniotis 2021, \"How to Train State-Of-The-Art Models Using TorchVision's "
               "Latest Primitives\" (PyTorch blog), and torchvision's references/"
               "classification README (ResNet50 IMAGENET1K_V2)",
        optimizer="sgd", learning_rate=0.5, lr_scaling="linear", lr_base_batch=1024,
        momentum=0.9, weight_decay=2e-5, weight_decay_mode="l2", schedule="cosine",
        warmup_epochs=0.5, label_smoothing=0.1, loss="ce", bn_momentum=0.9,
        augment="crop,flip,trivialaugment,random_erasing:0.1,mixup,cutmix",
        ema=0.99998, ema_warmup=True, batch_size=64, epochs=60,
        adapt=dict(_MODERN_ADAPT, warmup_fraction=5 / 600, ema_fraction=1 / 26,
                   train_size_ratio=176 / 224),
    ),
    "rsb_a1": dict(
        description="ResNet strikes back, procedure A1 (600 epochs, 80.4 % for ResNet-50), "
                    "scaled to small data: LAMB 5e-3, wd 0.01 (decoupled), cosine decay after "
                    "a warm-up of 5/600 of the run, binary cross-entropy with label smoothing "
                    "0.1, mixup 0.2 + cutmix 1.0, random-resized crop + flip + RandAugment "
                    "(2 ops, timm's magnitude 7 of 10: 21 of torchvision's 30); not here: "
                    "timm's magnitude noise (mstd 0.5), repeated augmentation, stochastic depth "
                    "0.05, the BCE target threshold, the 0.95 test crop",
        **_RSB, learning_rate=5e-3, weight_decay=0.01, label_smoothing=0.1,
        augment="crop,flip,randaugment:2:21,mixup,cutmix", epochs=60,
        adapt=dict(_MODERN_ADAPT, warmup_fraction=5 / 600),
    ),
    "rsb_a2": dict(
        description="ResNet strikes back, procedure A2 (300 epochs, 79.8 % for ResNet-50), "
                    "scaled to small data: LAMB 5e-3, wd 0.02 (decoupled), cosine decay after "
                    "a warm-up of 5/300 of the run, binary cross-entropy without smoothing, "
                    "mixup 0.2 + cutmix 1.0, random-resized crop + flip + RandAugment (2 ops, "
                    "timm's magnitude 7 of 10: 21 of 30); not here: repeated augmentation, "
                    "stochastic depth 0.05",
        **_RSB, learning_rate=5e-3, weight_decay=0.02, label_smoothing=0.0,
        augment="crop,flip,randaugment:2:21,mixup,cutmix", epochs=30,
        adapt=dict(_MODERN_ADAPT, warmup_fraction=5 / 300),
    ),
    "rsb_a3": dict(
        description="ResNet strikes back, procedure A3 (100 epochs at 160, tested at 224: "
                    "78.1 % for ResNet-50), scaled to small data: LAMB 8e-3, wd 0.02 "
                    "(decoupled), cosine decay after a warm-up of 5/100 of the run, binary "
                    "cross-entropy without smoothing, mixup + cutmix (the paper's mixup alpha "
                    "is 0.1, here 0.2), random-resized crop + flip + RandAugment (2 ops, "
                    "timm's magnitude 6 of 10: 18 of 30), train at 160/224 of the evaluation side (FixRes)",
        **_RSB, learning_rate=8e-3, weight_decay=0.02, label_smoothing=0.0,
        augment="crop,flip,randaugment:2:18,mixup,cutmix", epochs=10,
        adapt=dict(_MODERN_ADAPT, warmup_fraction=5 / 100, train_size_ratio=160 / 224),
    ),
}
RECIPES.update(MODERN_RECIPES)

# How a family default follows the data: at least 20 steps an epoch (batch down to 16), and
# about 800 to 4000 optimizer steps in all (on two CPU cores: minutes for the small members).
SMALL_DATA_ADAPT = dict(min_steps_per_epoch=20, min_batch=16, min_steps=800, max_steps=4000)


def small_data_recipe(description: str, **settings) -> dict:
    """A family default: AdamW with cosine decay, translations, label smoothing and
    BatchNormalization statistics that follow a short run, adapted to the data's size.

    ``settings`` override the common values (and ``adapt``'s, key by key).
    """
    adapt = dict(SMALL_DATA_ADAPT, **settings.pop("adapt", {}))
    recipe = dict(
        description=description, optimizer="adamw", learning_rate=1e-3, weight_decay=0.05,
        weight_decay_mode="decoupled", schedule="cosine", warmup_epochs=0.0, batch_size=64,
        epochs=30, augment="pad_crop", label_smoothing=0.1, bn_momentum=0.9,
        aux_loss_weight=0.3, adapt=adapt,
    )
    recipe.update(settings)
    return recipe


# The adapt rules a flag given on the command line removes (kerascnn.training.config).
ADAPT_FLAGS = {"batch_size": ("min_steps_per_epoch", "min_batch"),
               "epochs": ("min_steps", "max_steps"), "warmup_epochs": ("warmup_fraction",),
               "ema": ("ema_fraction",), "train_size": ("train_size_ratio",)}


def adapt_to_data(config, train_size: int, image_side: int | None = None) -> list[str]:
    """Sets ``config.batch_size`` and ``config.epochs`` (and the modern recipes' warm-up,
    weight-average decay and training side) by ``config.adapt`` for a training split of
    ``train_size`` images evaluated at ``image_side``; returns what changed, one phrase
    each."""
    rule = config.adapt or {}
    notes = []
    if train_size < 1:
        return notes
    if "min_steps_per_epoch" in rule:
        batch = config.batch_size
        floor = min(batch, int(rule.get("min_batch", 1)))
        while batch > floor and math.ceil(train_size / batch) < rule["min_steps_per_epoch"]:
            batch = max(floor, batch // 2)
        if batch != config.batch_size:
            aim, steps = rule["min_steps_per_epoch"], math.ceil(train_size / batch)
            why = (f"at least {aim} steps an epoch" if steps >= aim else
                   f"the recipe's smallest batch: {steps} steps an epoch, fewer than the "
                   f"{aim} it aims at")
            notes.append(f"batch {config.batch_size} -> {batch} ({why})")
            config.batch_size = batch
    steps = math.ceil(train_size / config.batch_size)
    epochs = config.epochs
    if "min_steps" in rule:
        epochs = max(epochs, math.ceil(rule["min_steps"] / steps))
    if "max_steps" in rule:
        epochs = min(epochs, max(1, round(rule["max_steps"] / steps)))
    if epochs != config.epochs:
        bound = (f"at least {rule['min_steps']}" if epochs > config.epochs
                 else f"at most about {rule['max_steps']}")
        notes.append(f"{config.epochs} -> {epochs} epochs ({bound} steps of {steps} an epoch)")
        config.epochs = epochs
    if "warmup_fraction" in rule:
        warmup = round(rule["warmup_fraction"] * config.epochs, 2)
        if warmup != config.warmup_epochs:
            notes.append(f"{config.warmup_epochs:g} -> {warmup:g} warm-up epochs "
                         f"({rule['warmup_fraction']:.3g} of the run)")
            config.warmup_epochs = warmup
    if "ema_fraction" in rule:
        updates = steps * config.epochs // (getattr(config, "grad_accum_steps", None) or 1)
        horizon = max(2.0, rule["ema_fraction"] * updates)
        decay = round(1.0 - 1.0 / horizon, 4)
        if decay != getattr(config, "ema", None):
            notes.append(f"weight average decay {config.ema} -> {decay:g} (a horizon of "
                         f"{horizon:.0f} of the {updates} updates)")
            config.ema = decay
    if "train_size_ratio" in rule and image_side:
        side = max(1, round(rule["train_size_ratio"] * image_side))
        if side != getattr(config, "train_size", None) and side != image_side:
            notes.append(f"training side {side} for the evaluation side {image_side} "
                         f"(x{rule['train_size_ratio']:.3g}, FixRes)")
            config.train_size = side
    return notes


def describe_recipe(name: str, recipe: dict) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in recipe.items()
                         if k not in ("description", "source"))
    source = f"\n    source: {recipe['source']}" if recipe.get("source") else ""
    return f"{name}: {recipe['description']}{source}\n    {settings}"


# Each family's default (fit.py without --recipe), by the name its variant table gives.
DEFAULT_RECIPES = {
    # The default recipe: no BatchNormalization, 60M parameters: AdamW at a lower rate than the
    # BN families', dropout as the paper, translations.
    "alexnet": small_data_recipe(
        "AlexNet family on small data (CPU): AdamW 2e-4 (wd 0.05), batch 64, cosine decay, "
        "pad-and-crop, label smoothing 0.1, 30 epochs adapted to 800-4000 steps",
        learning_rate=2e-4),
    # The default recipe of the CIFAR residual families: BN statistics that follow a short run,
    # AdamW, translations (no flips: digits and signs change meaning), adapted to the data's size;
    # up to 8000 steps, so that a full MNIST or CIFAR-10 run gets about ten epochs.
    "cifar_resnet": small_data_recipe(
        "CIFAR residual networks on small data (CPU): AdamW 1e-3 (wd 0.05), batch 64, cosine decay, "
        "pad-and-crop, label smoothing 0.1, BN momentum 0.9, 30 epochs adapted to 800-8000 steps",
        adapt=dict(max_steps=8000)),
    # The default recipe (ImageNet and CIFAR DenseNets alike): BN statistics that follow a short
    # run, AdamW, translations, adapted to the data's size. ``--recipe paper``: the CIFAR set-up.
    "densenet": small_data_recipe(
        "DenseNet on small data (CPU): AdamW 1e-3 (wd 0.05), batch 64, cosine decay, pad-and-crop, "
        "label smoothing 0.1, BN momentum 0.9, 30 epochs adapted to 800-4000 steps"),
    # The default recipe of the whole Inception family (GoogLeNet, BN-Inception, Inception v3/v4,
    # Inception-ResNet, Xception): the auxiliary classifiers' losses weigh 0.3 as in the papers.
    "inception": small_data_recipe(
        "Inception family on small data (CPU): AdamW 1e-3 (wd 0.05), batch 64, cosine decay, "
        "pad-and-crop, label smoothing 0.1 (as Inception v3), aux loss 0.3, BN momentum 0.9, "
        "30 epochs adapted to 800-4000 steps"),
    # The default recipe: the paper's sigmoid network does not move under Adam 1e-3 at batch 128
    # on a small set; Adam 3e-3 at batch 64 reaches 0.98 on MNIST in a few epochs on CPU. No
    # augmentation (digits are centred, and the 61k-parameter network underfits), no smoothing.
    "lenet": small_data_recipe(
        "LeNet-5 (sigmoid, as the paper) on CPU: Adam 3e-3, batch 64, cosine decay, 6 epochs "
        "(at least 1,500 steps on a small set), no augmentation",
        optimizer="adam", learning_rate=3e-3, weight_decay=0.0, augment="none",
        label_smoothing=0.0, bn_momentum=None, epochs=6,
        adapt=dict(min_steps=1500, max_steps=6000)),
    # The default recipe: depthwise networks with BN learn under AdamW on small sets.
    "mobilenet": small_data_recipe(
        "MobileNet on small data (CPU): AdamW 1e-3 (wd 0.05), batch 64, cosine decay, "
        "pad-and-crop, label smoothing 0.1, BN momentum 0.9, 30 epochs adapted to 800-4000 steps"),
    # The default recipe: no BatchNormalization, so a lower AdamW rate than the BN families.
    "nin": small_data_recipe(
        "NiN on small data (CPU): AdamW 5e-4 (wd 0.05), batch 64, cosine decay, pad-and-crop, "
        "label smoothing 0.1, 30 epochs adapted to 800-4000 steps",
        learning_rate=5e-4),
    # The default recipe of the ImageNet residual families (ResNet, ResNeXt, wide ResNet, SENet):
    # BN statistics that follow a short run, AdamW, translations, adapted to the data's size.
    "resnet": small_data_recipe(
        "ImageNet residual networks on small data (CPU): AdamW 1e-3 (wd 0.05), batch 64, cosine "
        "decay, pad-and-crop, label smoothing 0.1, BN momentum 0.9, 30 epochs adapted to "
        "800-4000 steps"),
    # The default recipe: as the ImageNet ResNets'.
    "resnet_v2": small_data_recipe(
        "ResNet v2 on small data (CPU): AdamW 1e-3 (wd 0.05), batch 64, cosine decay, "
        "pad-and-crop, label smoothing 0.1, BN momentum 0.9, 30 epochs adapted to 800-4000 steps"),
    # The default recipe: grouped and depthwise convolutions with BN learn under AdamW.
    "shufflenet": small_data_recipe(
        "ShuffleNet on small data (CPU): AdamW 1e-3 (wd 0.05), batch 64, cosine decay, "
        "pad-and-crop, label smoothing 0.1, BN momentum 0.9, 30 epochs adapted to 800-4000 steps"),
    # The default recipe: no BatchNormalization, and a ReLU before the global pooling: at AdamW
    # 5e-4 from the first step the final convolution died (outputs all zero, loss ln 6 on SIGNS
    # for 30 epochs); 3e-4 after 3 epochs of warm-up learns.
    "squeezenet": small_data_recipe(
        "SqueezeNet on small data (CPU): AdamW 3e-4 (wd 0.05) warmed up over 3 epochs, batch 64, "
        "cosine decay, pad-and-crop, label smoothing 0.1, 30 epochs adapted to 800-4000 steps",
        learning_rate=3e-4, warmup_epochs=3.0),
    # The default recipe: plain VGGs have no BatchNormalization and 130M parameters: AdamW at a
    # low rate, dropout as the paper, translations.
    "vgg": small_data_recipe(
        "VGG on small data (CPU): AdamW 1e-4 (wd 0.05), batch 64, cosine decay, pad-and-crop, "
        "label smoothing 0.1, BN momentum 0.9 (the _bn variants), 30 epochs adapted to 800-4000 "
        "steps",
        learning_rate=1e-4),
}
