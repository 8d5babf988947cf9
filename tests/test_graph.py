"""kerascnn.graph: the layer graph of functional models, the one reader of keras' internals."""

import pathlib
import re

import keras
import pytest

import kerascnn
from kerascnn import graph

PACKAGE = pathlib.Path(kerascnn.__file__).parent
PRIVATE = re.compile(r"_inbound_nodes|_outbound_nodes|_keras_history|_nodes_by_depth|"
                     r"_operations_by_depth|\b_functional\b|\._nodes\b|make_node_key")


def _branchy():
    """input -> stem -> (left, right) -> add -> head."""
    inputs = keras.Input((4, 4, 3), name="image")
    stem = keras.layers.Conv2D(4, 1, name="stem")(inputs)
    left = keras.layers.Conv2D(4, 3, padding="same", name="left")(stem)
    right = keras.layers.ReLU(name="right")(stem)
    added = keras.layers.Add(name="add")([left, right])
    out = keras.layers.GlobalAveragePooling2D(name="head")(added)
    return keras.Model(inputs, out, name="branchy")


def test_the_internals_read_as_expected():
    graph.check_keras_internals()
    assert keras.__version__.startswith(graph.KERAS_CHECKED + ".")


def test_a_missing_attribute_names_itself_and_the_keras_version():
    class Stripped:
        pass

    with pytest.raises(graph.KerasInternalsError, match=r"no '_inbound_nodes' on Stripped.*"
                                                        + re.escape(graph.KERAS_CHECKED)):
        graph.layer_calls(Stripped())


def test_inbound_and_outbound_layers_of_a_branch():
    model = _branchy()
    get = model.get_layer
    assert graph.inbound_layers(get("add")) == [get("left"), get("right")]
    assert graph.inbound_layers(get("stem")) == [get("image")]
    assert graph.inbound_layers(get("image")) == []
    assert graph.outbound_layers(get("stem")) == [get("left"), get("right")]
    assert graph.producer(model.outputs[0]) is get("head")
    assert graph.producer(get("add").output) is get("add")
    assert graph.producer(keras.KerasTensor((1, 2))) is None


def test_calls_in_topological_order_with_their_tensors():
    model = _branchy()
    order = [call.layer.name for call in graph.calls(model)]
    assert order[0] == "stem" and order[-2:] == ["add", "head"]
    assert sorted(order[1:3]) == ["left", "right"]
    assert [c.layer.name for c in graph.calls(model, include_inputs=True)][0] == "image"
    add = next(c for c in graph.calls(model) if c.layer.name == "add")
    assert [graph.producer(t).name for t in add.inputs] == ["left", "right"]
    assert add.outputs[0] is model.get_layer("add").output

    ops, order, parents, children = graph.topology(model)
    names = [ops[i].name for i in order]
    assert names.index("image") < names.index("stem") < names.index("left") < \
        names.index("add") < names.index("head")
    index = {op.name: i for i, op in enumerate(ops)}
    assert parents[index["add"]] == [index["left"], index["right"]]
    assert children[index["stem"]] == [(index["left"], 0), (index["right"], 0)]
    assert sorted(graph.edges(model), key=lambda e: (e[1].name, e[0].name))[:2] == \
        [(model.get_layer("left"), model.get_layer("add")),
         (model.get_layer("right"), model.get_layer("add"))]


def test_a_nested_model_is_one_call_of_the_outer_graph():
    inner = _branchy()
    inputs = keras.Input((4, 4, 3), name="outer_image")
    scaled = keras.layers.Rescaling(0.5, name="scale")(inputs)
    out = keras.layers.Dense(2, name="fc")(inner(scaled))
    outer = keras.Model(inputs, out, name="outer")

    assert [c.layer.name for c in graph.calls(outer)] == ["scale", "branchy", "fc"]
    assert graph.inbound_layers(outer.get_layer("fc")) == [inner]
    # the nested model's call in the outer graph, not its own output tensor
    call = graph.model_call(outer, inner)
    assert graph.producer(call.inputs[0]) is outer.get_layer("scale")
    assert call.outputs[0] is not inner.output
    assert graph.model_call(inner, inner.get_layer("add")).outputs[0] is \
        inner.get_layer("add").output
    assert graph.model_call(outer, inner.get_layer("add")) is None
    # a layer's calls in one model: the inner model, called by a second outer model too
    other_input = keras.Input((4, 4, 3), name="other_image")
    other = keras.Model(other_input, inner(other_input), name="other")
    assert len(graph.layer_calls(inner)) == 2
    [own] = graph.layer_calls(inner, outer)
    assert own.outputs[0] is call.outputs[0]
    assert graph.inbound_layers(inner, other) == [other.layers[0]]
    assert (other.layers[0], inner) in graph.edges(other)
    assert (outer.get_layer("scale"), inner) not in graph.edges(other)


def test_graph_model_of_sequential_and_subclassed_models():
    seq = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="seq")
    inner = graph.graph_model(seq)
    assert [c.layer.name for c in graph.calls(seq)] == ["d"]
    assert graph.is_graph_model(seq) and graph.is_graph_model(inner)
    with pytest.raises(ValueError, match=r"^count_macs needs a built model; Sequential model "
                                         r"'unbuilt' has no input shape yet"):
        graph.graph_model(keras.Sequential([keras.layers.Dense(2)], name="unbuilt"),
                          "count_macs")

    class Sub(keras.Model):
        def call(self, x):
            return x

    sub = Sub(name="sub")
    assert not graph.is_graph_model(sub)
    assert graph.model_call(sub, seq.layers[0]) is None
    with pytest.raises(ValueError, match=r"^rf needs a Functional or Sequential model; 'sub' "
                                         r"is a Sub without a layer graph\.$"):
        graph.calls(sub, user="rf")


def test_only_the_graph_module_reads_keras_graph_internals():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "graph.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if PRIVATE.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_scan_catches_each_attribute():
    for text in ("layer._inbound_nodes", "op._outbound_nodes", "t._keras_history[0]",
                 "model._nodes_by_depth", 'getattr(model, "_functional", None)',
                 "key in model._nodes", "make_node_key(layer, 0)"):
        assert PRIVATE.search(text), text
    assert not PRIVATE.search("self._nodes_seen = 1; functional_api()")


def test_the_graph_module_imports_only_keras():
    import ast

    tree = ast.parse((PACKAGE / "graph.py").read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= {"__future__", "typing", "keras", "numpy"}


def test_leaf_layers_reach_inside_nested_models():
    inner = _branchy()
    inputs = keras.Input((4, 4, 3), name="outer_image")
    out = keras.layers.Dense(2, name="fc")(inner(inputs))
    outer = keras.Model(inputs, out, name="outer")
    assert sorted(layer.name for layer in graph.leaf_layers(outer)) == ["fc", "left", "stem"]
    assert sorted(layer.name for layer in graph.leaf_layers(inner)) == ["left", "stem"]
