"""``scripts/benchmark.py --plugin`` file for tests/test_benchmark.py: registers a tiny model,
``tiny_bench``, in every process that builds Keras models, with timm's ``test_resnet`` as its
timm twin (a different network: the tests check the machinery, not the ratios)."""

benchmark = globals()["benchmark"]  # defined by --plugin
role = globals()["role"]

benchmark.TIMM_TWINS["tiny_bench"] = "test_resnet"

if role == "keras":
    import dataclasses

    import keras
    from keras import layers

    from kerascnn import registry
    from kerascnn.models.variants import pattern_member

    def _tiny(include_top=True, weights=None, input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="tiny_bench"):
        inputs = keras.Input(input_shape or (16, 16, 3))
        x = layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        return keras.Model(inputs, layers.Dense(classes, activation=classifier_activation,
                                                name="fc")(x), name=name)

    registry._MODELS["tiny_bench"] = dataclasses.replace(
        pattern_member("tiny_bench", _tiny, family="test", paper=("Tiny", 2024),
                       default_input=(16, 16, 3), min_size=8), keras_twin=None)
