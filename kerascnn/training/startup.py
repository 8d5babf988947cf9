"""What a run says before it trains: the settings it will use, and advice about its data.

:func:`settings_block` is computed from the run as it starts (the recipe applied, the
batch size and epochs adapted to the data, the steps of an epoch, the precise BN images
actually drawn, the monitor chosen): what the run does, not what the flags' defaults
would suggest. :func:`advice` gives the lines about the data a user should read even
with ``--verbose 0`` (no validation split, a small one).
"""

from __future__ import annotations

from kerascnn.training.config import SMALL_VAL, resolve_recipe

__all__ = ["settings_block", "advice"]


def _recipe_label(config) -> str:
    if config.recipe in (None, "none"):
        return "no recipe"
    try:
        label, _ = resolve_recipe(config.recipe, config.model)
    except ValueError:
        label = config.recipe
    return f"recipe {label}" if label else "no recipe (the family has none)"


def _adapted(state, word: str) -> str:
    """`` (adapted to N training images: ...)`` for the notes about ``word``, or ''."""
    notes = [n for n in state.adapted if (n.startswith("batch ") == (word == "batch"))]
    if not notes:
        return ""
    return f" (adapted to {state.data.train_size} training images: {', '.join(notes)})"


def _optimizer(config) -> str:
    parts = [f"{config.optimizer}, learning rate {config.scaled_learning_rate():g}"
             + (f" (x batch / {config.lr_base_batch})" if config.lr_scaling == "linear" else "")]
    schedule = f"{config.schedule} schedule"
    if config.schedule == "step":
        schedule += " (/10 at " + ", ".join(f"{f:g}" for f in config.lr_steps) + " of the run)"
    if config.warmup_epochs:
        schedule += f", {config.warmup_epochs:g} warm-up epochs"
    parts.append(schedule)
    parts.append(f"weight decay {config.weight_decay:g} ({config.weight_decay_mode})"
                 if config.weight_decay else "no weight decay")
    if config.optimizer == "sgd":
        parts.append(f"momentum {config.momentum:g}" + (" Nesterov" if config.nesterov else ""))
    if config.clipnorm:
        parts.append(f"clipnorm {config.clipnorm:g}")
    return ", ".join(parts)


def _batchnorm(state) -> str:
    config, n = state.config, state.precise_bn_images
    momentum = ("the model's momentum" if config.bn_momentum is None
                else f"momentum {config.bn_momentum:g}")
    if not n:
        return f"{momentum}; no precise statistics"
    whole = " (the whole split)" if n == state.data.train_size else ""
    augmented = " augmented as in training," if state.data.plan.active else ""
    return (f"{momentum}; precise statistics over {n} training images{whole}{augmented} "
            "before each evaluation")


def _ranking(state) -> str:
    monitor = state.monitor
    if monitor is None:
        return "not chosen (no validation split): model.keras is scored"
    n = state.data.info.split_sizes["val"]
    line = (f"the best epoch by {monitor}"
            + (" (--monitor auto)" if state.config.monitor == "auto" else "")
            + f" on {n} validation images (accuracy in steps of {1 / n:.3g})")
    if state.phases is not None and state.phases.unfreeze_at:
        line += (f"; an epoch after {state.phases.unfreeze_at} at least as accurate beats "
                 "the frozen ones")
    return line


def _fine_tuning(config) -> str | None:
    if not config.weights:
        return None
    line = f"from {config.weights}"
    if config.freeze_backbone:
        at = config.unfreeze_at
        line += (f"; the classifier alone for epochs 1-{at}, then every layer at learning rate "
                 f"x {config.unfreeze_lr_factor:g}" if at else "; the backbone frozen")
    return line


def settings_block(state) -> str:
    """The settings the run will use, one per line, under a ``fit.py:`` heading."""
    from kerascnn.training.report import core_params

    config, data = state.config, state.data
    params, trainable = core_params(state.model)
    steps = state.steps_per_epoch
    rows = [
        ("model", f"{config.model}: {params:,} parameters ({trainable:,} trainable), input "
                  f"{state.size}x{state.size}"),
        ("data", data.summary()),
        ("fine-tuning", _fine_tuning(config)),
        ("epochs", f"{config.epochs}{_adapted(state, 'epochs')}"),
        ("batch", f"{config.batch_size}{_adapted(state, 'batch')}"),
        ("steps", f"{steps} an epoch, {steps * config.epochs} in all"),
        ("optimizer", _optimizer(config)),
        ("loss", f"label smoothing {config.label_smoothing:g}, class weights "
                 f"{config.class_weight}, precision {config.precision}"),
        ("augmentation", config.augment),
        ("batchnorm", _batchnorm(state)),
        ("best.keras", _ranking(state)),
        ("progress", "a line of metrics an epoch (--verbose 2)" if config.verbose == 2
         else "a progress bar (--verbose 1)"),
        ("output", state.run_dir),
    ]
    lines = [f"fit.py: settings of this run ({_recipe_label(config)}, adapted to the data; "
             "flags given on the command line win; --list-recipes):"]
    lines += [f"  {key:<13}{value}" for key, value in rows if value is not None]
    return "\n".join(lines)


def advice(state) -> list[str]:
    """What a user should know about the data before training (one line each)."""
    data = state.data
    if not data.has("val"):
        return ["no validation split (--val-fraction 0): best.keras is not chosen; the final "
                "model is scored."]
    n = data.info.split_sizes["val"]
    if n >= SMALL_VAL:
        return []
    return [f"the validation split has only {n} images (accuracy moves in steps of "
            f"{1 / n:.3f}); best.keras is ranked by {state.monitor}"
            + ("" if state.config.monitor != "auto" else " (--monitor auto)")
            + ": raise --val-fraction for a more reliable choice."]
