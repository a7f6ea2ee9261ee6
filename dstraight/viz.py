"""Looking at a network: a summary table and a picture of its computation graph.

MXNet draws a network from its *symbol*; the JAX counterpart is the *jaxpr* that
``jax.make_jaxpr`` traces from ``net.apply``: every input, every parameter and every primitive
operation, with the edges between them. :func:`network_graph` extracts that graph (at the level of
primitive operations or grouped into layers, using the ``jax.named_scope`` that
``Sequential.apply`` puts around each child) and :func:`plot_network` draws it with matplotlib
alone, no Graphviz binary needed. Neither function needs the parameters to exist: shapes are
inferred from the input, so both work before the first forward pass.

Examples:
    >>> import jax.numpy as jnp
    >>> from dstraight import nn, viz
    >>> nn.reset_name_counters()
    >>> net = nn.Sequential()
    >>> net.add(nn.Dense(4, activation="relu"), nn.Dense(1))
    >>> _ = viz.summary(net, jnp.zeros((8, 2)))
    Layer (type)    Output shape  Param #
    =====================================
    data (input)    (8, 2)              0
    dense0 (Dense)  (8, 4)             12
    dense1 (Dense)  (8, 1)              5
    =====================================
    Total params: 17
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from . import nn
from .nn.structure import trace_shapes

__all__ = ["Graph", "Node", "network_graph", "plot_network", "summary"]


def _input_struct(x: Any) -> jax.ShapeDtypeStruct:
    if isinstance(x, jax.ShapeDtypeStruct):
        return x
    if isinstance(x, tuple) and all(isinstance(d, int) for d in x):
        return jax.ShapeDtypeStruct(x, jnp.float32)
    x = jnp.asarray(x) if not hasattr(x, "shape") else x
    return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype)


def _check_block(net: Any, where: str) -> None:
    if not isinstance(net, nn.Block):
        raise TypeError(
            f"{where} expects a dstraight.nn.Block (e.g. an nn.Sequential), got {net!r} of type "
            f"{type(net).__name__}."
        )


def _shape_leaves(tree: Any) -> Iterator[tuple[int, ...]]:
    # shape trees have tuples as leaves, which jax.tree would descend into
    if isinstance(tree, Mapping):
        for value in tree.values():
            yield from _shape_leaves(value)
    else:
        yield tuple(tree)


def _layers(block: nn.Block, scope: str = "") -> Iterator[tuple[str, nn.Block]]:
    # Names relative to the root, as the blocks' named scopes write them: "dense0" for a child
    # of the root, "sequential1/dense0" inside a nested container.
    children = [child for _, child in block.named_children()]
    if children:
        for child in children:
            yield from _layers(child, f"{scope}{child.local_name}/")
    else:
        yield scope[:-1] or block.name, block


def _format_shape(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else f"({', '.join(map(str, shape))})"


def summary(net: nn.Block, x: Any, show: bool = True) -> str:
    """Tabulates the layers of ``net`` with their output shapes and parameter counts.

    Containers (``Sequential``, custom blocks) are expanded into their layers, in the order the
    forward pass calls them (nested ones are written as ``outer/inner``). Only shapes are
    computed, so this works before the first call ``net(x)`` and even before ``initialize()``.

    Args:
        net: the network.
        x: an example input batch (an array, a ``jax.ShapeDtypeStruct`` or a shape tuple).
        show: print the table (in a notebook write ``_ = summary(...)`` so that the returned
            string is not displayed a second time).

    Returns:
        The table as a string.

    Raises:
        TypeError: if ``net`` is not a Block.
        ValueError: if ``x`` does not fit the network (e.g. a wrong number of features).

    Examples:
        >>> net = nn.Dense(3, name="out")
        >>> table = summary(net, jnp.zeros((2, 5)), show=False)
        >>> table.splitlines()[-1]
        'Total params: 18'
    """
    _check_block(net, "summary")
    x = _input_struct(x)
    rows = [("data (input)", _format_shape(x.shape), 0)]
    names = {id(layer): name for name, layer in _layers(net)}
    record: list = []
    _, shapes, _, by_id = trace_shapes(net, [x], record=record)
    total = sum(math.prod(s) for s in _shape_leaves(shapes))
    for layer, out in record:  # every call of a layer, in the order the forward pass made them
        if id(layer) not in names:
            continue  # a container: its layers have rows of their own
        own = [p for p in layer.collect_params().values() if p.kind == "param"]
        count = sum(math.prod(by_id[id(p)]) for p in own)
        rows.append((f"{names[id(layer)]} ({type(layer).__name__})",
                     _format_shape(tuple(jax.tree.leaves(out)[0].shape)), count))
    header = ("Layer (type)", "Output shape", "Param #")
    cells = [header] + [(n, s, f"{c:,}") for n, s, c in rows]
    w0, w1, w2 = (max(len(row[i]) for row in cells) for i in range(3))
    width = w0 + w1 + w2 + 4
    lines = [f"{header[0]:<{w0}}  {header[1]:<{w1}}  {header[2]:>{w2}}", "=" * width]
    lines += [f"{n:<{w0}}  {s:<{w1}}  {c:>{w2}}" for n, s, c in cells[1:]]
    lines += ["=" * width, f"Total params: {total:,}"]
    table = "\n".join(lines)
    if show:
        print(table)
    return table


@dataclasses.dataclass(frozen=True)
class Node:
    """One node of a :class:`Graph`.

    Attributes:
        label: the text drawn in the box (name and shape).
        kind: ``'input'``, ``'param'``, ``'const'``, ``'op'``, ``'layer'`` or ``'output'``.
        shape: the shape of the value the node produces.
    """

    label: str
    kind: str
    shape: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Graph:
    """The computation graph of a network: nodes and directed edges ``(source, target)``."""

    nodes: list[Node]
    edges: list[tuple[int, int]]


def _sub_jaxprs(eqn: Any) -> list[Any]:
    subs = []
    for value in eqn.params.values():
        inner = getattr(value, "jaxpr", value)  # ClosedJaxpr -> Jaxpr
        if hasattr(inner, "eqns"):
            subs.append(inner)
    return subs


def _op_label(eqn: Any) -> str:
    # jnp/jax.nn functions appear as one call (jit, custom_jvp_call) wrapping a body: name them
    # after the function rather than the call primitive
    name = eqn.params.get("name")
    if isinstance(name, str):
        return name
    for sub in _sub_jaxprs(eqn):
        if len(sub.eqns) == 1:
            return _op_label(sub.eqns[0])
    return eqn.primitive.name


def _aval_shape(var: Any) -> tuple[int, ...]:
    return tuple(getattr(var.aval, "shape", ()))


def network_graph(net: nn.Block, x: Any, level: str = "layer") -> Graph:
    """Traces ``net.apply`` with ``jax.make_jaxpr`` and returns its graph.

    Args:
        net: the network.
        x: an example input batch (an array, a ``jax.ShapeDtypeStruct`` or a shape tuple).
        level: ``'layer'`` groups the operations of each layer into one node; ``'op'`` shows
            every primitive operation of the jaxpr.

    Returns:
        The graph: the input ``data``, one node per parameter (named as in
        ``net.collect_params()``), the operations or layers, and the ``output``.

    Raises:
        ValueError: for an unknown ``level`` or an input that does not fit the network.

    Examples:
        >>> net = nn.Dense(3, name="out")
        >>> graph = network_graph(net, jnp.zeros((2, 5)), level="op")
        >>> [node.label.splitlines()[0] for node in graph.nodes]
        ['out_bias', 'out_weight', 'data', 'dot_general', 'broadcast_in_dim', 'add', 'output']
        >>> graph.nodes[3].shape
        (2, 3)
    """
    _check_block(net, "network_graph")
    if level not in ("layer", "op"):
        raise ValueError(f"level must be 'layer' or 'op', got {level!r}.")
    x = _input_struct(x)
    _, shapes = net.param_shapes(x.shape)
    params = net.collect_params()
    names = {params.path(name): name for name in params}
    dtypes = {params.path(name): p.dtype for name, p in params.items()}

    def to_structs(tree: Any, path: tuple[str, ...] = ()) -> Any:
        if isinstance(tree, Mapping):
            return {k: to_structs(v, (*path, k)) for k, v in tree.items()}
        return jax.ShapeDtypeStruct(tuple(tree), dtypes[path])

    structs = to_structs(shapes)
    closed = jax.make_jaxpr(net.apply)(structs, x)
    jaxpr = closed.jaxpr
    leaf_paths = [
        tuple(str(getattr(k, "key", k)) for k in path)
        for path, _ in jax.tree_util.tree_flatten_with_path(structs)[0]
    ]

    nodes: list[Node] = []
    edges: list[tuple[int, int]] = []
    producer: dict[Any, int] = {}

    def add_node(label: str, kind: str, shape: tuple[int, ...]) -> int:
        nodes.append(Node(f"{label}\n{_format_shape(shape)}", kind, shape))
        return len(nodes) - 1

    def connect(var: Any, target: int) -> None:
        source = producer.get(var) if not hasattr(var, "val") else None  # skip literals
        if source is not None and source != target and (source, target) not in edges:
            edges.append((source, target))

    for var, path in zip(jaxpr.invars[: len(leaf_paths)], leaf_paths, strict=True):
        producer[var] = add_node(names.get(path, "/".join(path)), "param", _aval_shape(var))
    for var in jaxpr.invars[len(leaf_paths):]:
        producer[var] = add_node("data", "input", _aval_shape(var))
    for i, var in enumerate(jaxpr.constvars):
        producer[var] = add_node(f"const{i}", "const", _aval_shape(var))

    blocks = {name: block for name, block in _layers(net)}
    groups: dict[str, int] = {}
    for eqn in jaxpr.eqns:
        shape = _aval_shape(eqn.outvars[0]) if eqn.outvars else ()
        if level == "op":
            node = add_node(_op_label(eqn), "op", shape)
        else:
            scope = str(eqn.source_info.name_stack) or net.name
            if scope not in groups:
                layer = blocks.get(scope)
                kind = type(layer).__name__ if layer is not None else "layer"
                groups[scope] = add_node(f"{scope.rsplit('/', 1)[-1]} ({kind})", "layer", shape)
            node = groups[scope]
            # a layer's box shows the shape of the last value it computes
            nodes[node] = dataclasses.replace(
                nodes[node], label=nodes[node].label.split("\n")[0] + "\n" + _format_shape(shape),
                shape=shape,
            )
        for var in eqn.invars:
            connect(var, node)
        for var in eqn.outvars:
            producer[var] = node
    for var in jaxpr.outvars:
        connect(var, add_node("output", "output", _aval_shape(var)))
    return Graph(nodes, edges)


_COLORS = {
    "input": "#b3de69",
    "param": "#d9d9d9",
    "const": "#d9d9d9",
    "op": "#80b1d3",
    "layer": "#fdb462",
    "output": "#fb8072",
}


def _layout(graph: Graph) -> dict[int, tuple[float, float]]:
    # The main line is what depends on the input: columns by longest path from it. The rest
    # (parameters and what is computed from them alone, e.g. a broadcast bias) sits one column
    # before its first consumer, so that its arrows stay short. Node order is topological.
    n = len(graph.nodes)
    preds: dict[int, list[int]] = {i: [] for i in range(n)}
    succs: dict[int, list[int]] = {i: [] for i in range(n)}
    for s, t in graph.edges:
        preds[t].append(s)
        succs[s].append(t)
    main = {i for i, node in enumerate(graph.nodes) if node.kind == "input"}
    for i in range(n):
        if any(p in main for p in preds[i]):
            main.add(i)
    column: dict[int, int] = {}
    for i in sorted(main):
        column[i] = max((column[p] + 1 for p in preds[i] if p in main), default=0)
    for i in reversed(range(n)):
        if i not in main:
            column[i] = max(min((column[t] for t in succs[i]), default=1) - 1, 0)
    side = set(range(n)) - main
    # within a column the main line goes down from y=0, parameters go up from y=1
    taken: dict[tuple[int, bool], int] = {}
    position = {}
    for i in range(len(graph.nodes)):
        slot = (column[i], i in side)
        k = taken.get(slot, 0)
        taken[slot] = k + 1
        position[i] = (float(column[i]), float(k + 1 if i in side else -k))
    return position


def plot_network(net: nn.Block, x: Any, level: str = "layer", title: str | None = None):
    """Draws the computation graph of ``net`` (see :func:`network_graph`) with matplotlib.

    Data flows from left to right; parameters sit above the operation that consumes them.

    Args:
        net: the network.
        x: an example input batch (an array, a ``jax.ShapeDtypeStruct`` or a shape tuple).
        level: ``'layer'`` (one box per layer) or ``'op'`` (one box per primitive operation).
        title: the figure title; by default the network's name and the level.

    Returns:
        The ``matplotlib.figure.Figure``; in a notebook finish the cell with ``plt.show()``.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> fig = plot_network(nn.Dense(3, name="out"), jnp.zeros((2, 5)))
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt  # imported on use: importing dstraight needs no matplotlib
    from matplotlib.patches import Patch

    graph = network_graph(net, x, level)
    pos = _layout(graph)
    ncols = int(max(c for c, _ in pos.values())) + 1
    top = max(r for _, r in pos.values())
    bottom = min(r for _, r in pos.values())
    fig, ax = plt.subplots(figsize=(max(6.0, 2.0 * ncols), max(2.5, 1.2 * (top - bottom + 1.5))))
    boxes = {}
    for i, node in enumerate(graph.nodes):
        boxes[i] = ax.text(
            *pos[i], node.label, ha="center", va="center", fontsize=9,
            bbox={"boxstyle": "round,pad=0.4", "fc": _COLORS[node.kind], "ec": "0.3"},
        )
    for s, t in graph.edges:
        ax.annotate(
            "", xy=pos[t], xytext=pos[s],
            # clip the arrow at the two boxes, whatever their size
            arrowprops={"arrowstyle": "->", "color": "0.3", "patchA": boxes[s].get_bbox_patch(),
                        "patchB": boxes[t].get_bbox_patch()},
        )
    ax.set_xlim(-0.7, ncols - 0.3)
    ax.set_ylim(bottom - 0.8, top + 0.8)
    ax.axis("off")
    kinds = [k for k in _COLORS if k != "const" and any(n.kind == k for n in graph.nodes)]
    names = {"input": "input", "param": "parameter", "op": "operation", "layer": "layer",
             "output": "output"}
    ax.legend(handles=[Patch(fc=_COLORS[k], ec="0.3", label=names[k]) for k in kinds],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(title if title is not None else f"{net.name}: {level}s traced by jax.make_jaxpr")
    fig.tight_layout()
    return fig
