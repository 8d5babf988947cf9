"""What users of timm and torchvision expect of pretrained models: ``list_models(pattern,
pretrained=True)`` / ``weights=TAG`` and ``reset_classifier(model, classes)``."""

import numpy as np
import pytest

import kerascnn

V1_MODELS = ["resnet101_tv", "resnet152_tv", "resnet50_tv", "resnext101_32x8d",
             "resnext50_32x4d", "wide_resnet101_2", "wide_resnet50_2"]


def test_list_models_pretrained_and_by_tag():
    from kerascnn.weights.core import models_with_weight_sets

    pretrained = kerascnn.list_models(pretrained=True)
    assert pretrained == sorted(set(kerascnn.list_models()) & set(models_with_weight_sets()))
    assert len(pretrained) == 64 and "lenet5" not in pretrained
    assert kerascnn.list_models("resnet5*", pretrained=True) == [
        "resnet50", "resnet50_tv", "resnet50_v2", "resnet56_cifar_b"]
    assert kerascnn.list_models(weights="imagenet_v1") == V1_MODELS
    assert kerascnn.list_models("*cifar*", weights="imagenet") == []
    assert len(kerascnn.list_models(weights="cifar10")) == 8
    assert "lenet5" in kerascnn.list_models()
    with pytest.raises(ValueError) as e:
        kerascnn.list_models(pretrained="yes")
    assert str(e.value) == "`pretrained` must be True or False; got 'yes'."


def _same_layers(old, new):
    before = {id(layer) for layer in old.layers}
    return [layer.name for layer in new.layers if id(layer) in before]


def test_reset_classifier_dense_head_keeps_the_backbone():
    model = kerascnn.create_model("resnet20_cifar_b")
    x = np.random.default_rng(0).uniform(0, 1, size=(2, 32, 32, 3)).astype("float32")
    new = kerascnn.reset_classifier(model, 7)
    assert new.output.shape == (None, 7) and model.output.shape == (None, 10)
    assert new.layers[-1].name == "predictions" and new.layers[-1] is not model.layers[-1]
    kept = _same_layers(model, new)
    assert kept == [layer.name for layer in model.layers[:-1]]  # all but the classifier
    probabilities = np.asarray(new(x))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)  # softmax kept
    logits = kerascnn.reset_classifier(model, 3, classifier_activation=None)
    assert logits.layers[-1].get_config()["activation"] == "linear"
    # The pooled features the new head reads are the old model's.
    import keras

    pooled = model.get_layer("predictions").input
    old_features = keras.Model(model.input, pooled)(x)
    new_features = keras.Model(new.input, new.get_layer("predictions").input)(x)
    np.testing.assert_array_equal(np.asarray(old_features), np.asarray(new_features))


@pytest.mark.parametrize("name, kind", [("squeezenet1_1", "Activation"),
                                        ("mobilenet", "Activation")])
def test_reset_classifier_convolution_head(name, kind):
    model = kerascnn.create_model(name, input_shape=(64, 64, 3))
    new = kerascnn.reset_classifier(model, 5)
    assert new.output.shape == (None, 5)
    assert type(new.layers[-1]).__name__ == kind
    convs = [layer for layer in new.layers if type(layer).__name__ == "Conv2D"]
    assert convs[-1].filters == 5 and convs[-1] not in model.layers
    x = np.zeros((1, 64, 64, 3), "float32")
    np.testing.assert_allclose(np.asarray(new(x)).sum(), 1, atol=1e-5)


def test_reset_classifier_pooled_and_features_only_models():
    pooled = kerascnn.create_model("resnet20_cifar_b", include_top=False, pooling="avg")
    new = kerascnn.reset_classifier(pooled, 4)
    assert new.output.shape == (None, 4) and _same_layers(pooled, new) == [
        layer.name for layer in pooled.layers]
    features = kerascnn.create_model("resnet20_cifar_b", features_only=True)
    assert len(features.outputs) > 1
    head = kerascnn.reset_classifier(features, 6, classifier_activation="softmax")
    assert head.output.shape == (None, 6)
    assert [layer.name for layer in head.layers[-2:]] == ["reset_avg_pool", "predictions"]
    with pytest.raises(ValueError) as e:
        kerascnn.reset_classifier(pooled, 0)
    assert str(e.value) == "`classes` must be a positive integer; got 0."
