"""dstraight.viz: the summary table and the graph traced from jax.make_jaxpr."""

import doctest

import jax
import jax.numpy as jnp
import matplotlib
import pytest

from dstraight import nn, viz

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()
    yield
    plt.close("all")


def mlp():
    net = nn.Sequential()
    net.add(nn.Flatten(), nn.Dense(32, activation="relu"), nn.Dense(10))
    return net


def labels(graph):
    return [node.label.splitlines()[0] for node in graph.nodes]


def edge_labels(graph):
    names = labels(graph)
    return {(names[s], names[t]) for s, t in graph.edges}


def test_summary_counts_and_shapes_before_initialize(capsys):
    net = mlp()
    table = viz.summary(net, jnp.zeros((4, 28, 28, 1)))
    assert capsys.readouterr().out == table + "\n"
    lines = table.splitlines()
    assert lines[0].split() == ["Layer", "(type)", "Output", "shape", "Param", "#"]
    rows = [line.split() for line in lines[2:-2]]
    assert rows == [
        ["data", "(input)", "(4,", "28,", "28,", "1)", "0"],
        ["flatten0", "(Flatten)", "(4,", "784)", "0"],
        ["dense0", "(Dense)", "(4,", "32)", f"{784 * 32 + 32:,}"],
        ["dense1", "(Dense)", "(4,", "10)", f"{32 * 10 + 10:,}"],
    ]
    assert lines[-1] == f"Total params: {784 * 32 + 32 + 32 * 10 + 10:,}"


def test_summary_agrees_with_the_materialised_parameters():
    net = mlp()
    net.initialize()
    x = jnp.zeros((2, 5, 5))
    net(x)
    count = sum(leaf.size for leaf in jax.tree.leaves(net.params))
    assert viz.summary(net, x, show=False).splitlines()[-1] == f"Total params: {count:,}"


def test_summary_of_nested_blocks_and_shape_tuples():
    inner = nn.Sequential()
    inner.add(nn.Dense(3), nn.Activation("tanh"))
    net = nn.Sequential()
    net.add(inner, nn.Dense(1))
    rows = [line.split()[:2] for line in viz.summary(net, (2, 4), show=False).splitlines()[2:-2]]
    assert rows == [["data", "(input)"], ["sequential0/dense0", "(Dense)"],
                    ["sequential0/tanh0", "(Activation)"], ["dense1", "(Dense)"]]


def test_summary_errors():
    net = nn.Dense(2, in_units=3)
    with pytest.raises(ValueError, match=r"expects 3 input features but got an input of shape "
                                         r"\(4, 5\)"):
        viz.summary(net, jnp.zeros((4, 5)))
    with pytest.raises(TypeError, match=r"summary expects a dstraight.nn.Block .* got 'net' of "
                                        r"type str"):
        viz.summary("net", jnp.zeros((4, 5)))


def test_op_graph_of_a_dense_layer():
    graph = viz.network_graph(nn.Dense(3, activation="relu"), jnp.zeros((2, 5)), level="op")
    assert sorted(labels(graph)) == sorted(["dense0_weight", "dense0_bias", "data", "dot_general",
                                            "broadcast_in_dim", "add", "relu", "output"])
    assert edge_labels(graph) == {
        ("data", "dot_general"), ("dense0_weight", "dot_general"),
        ("dense0_bias", "broadcast_in_dim"), ("dot_general", "add"), ("broadcast_in_dim", "add"),
        ("add", "relu"), ("relu", "output"),
    }
    shapes = {label: node.shape for label, node in zip(labels(graph), graph.nodes, strict=True)}
    assert shapes["dot_general"] == (2, 3) and shapes["dense0_weight"] == (5, 3)


def test_layer_graph_of_a_sequential():
    graph = viz.network_graph(mlp(), jnp.zeros((4, 28, 28, 1)))
    assert edge_labels(graph) == {
        ("data", "flatten0 (Flatten)"), ("flatten0 (Flatten)", "dense0 (Dense)"),
        ("dense0_weight", "dense0 (Dense)"), ("dense0_bias", "dense0 (Dense)"),
        ("dense0 (Dense)", "dense1 (Dense)"), ("dense1_weight", "dense1 (Dense)"),
        ("dense1_bias", "dense1 (Dense)"), ("dense1 (Dense)", "output"),
    }
    layers = [n for n in graph.nodes if n.kind == "layer"]
    assert [n.shape for n in layers] == [(4, 784), (4, 32), (4, 10)]


def test_plot_network_draws_every_node():
    net = mlp()
    x = jnp.zeros((4, 6))
    for level in ("layer", "op"):
        fig = viz.plot_network(net, x, level=level)
        assert isinstance(fig, matplotlib.figure.Figure)
        ax = fig.axes[0]
        drawn = [t.get_text() for t in ax.texts if t.get_text()]
        assert drawn == [n.label for n in viz.network_graph(net, x, level).nodes]
        assert ax.get_title() == f"sequential0: {level}s traced by jax.make_jaxpr"


def test_bad_level():
    with pytest.raises(ValueError, match="level must be 'layer' or 'op', got 'ops'"):
        viz.plot_network(nn.Dense(1), jnp.zeros((1, 1)), level="ops")


def test_docstring_examples():
    result = doctest.testmod(viz, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
