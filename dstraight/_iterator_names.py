"""MXNet's binding by name: a Module's data and label names against an iterator's.

MXNet binds an iterator's arrays to a model by name, so ``Module(label_names=('lin_reg_label',))``
needs an iterator built with ``label_name='lin_reg_label'``. These checks turn a mismatch into a
``ValueError`` that says which names to change; iterators without names (``DataLoader``, lists of
batches) pass as they are.
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_names", "check_names"]


def as_names(value: Any, what: str, allow_none: bool) -> tuple[str, ...] | None:
    """``Module(data_names=...)`` or ``label_names=...`` as a tuple of str."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"Module({what}=None): give at least one name, e.g. ('data',).")
    if isinstance(value, str):
        return (value,)
    names = tuple(value)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"Module({what}=...) must be a sequence of str, got {value!r}.")
    return names


def check_names(data_iter: Any, what: str, need_label: bool, data_names: tuple[str, ...],
                label_names: tuple[str, ...] | None) -> None:
    """Compares a Module's data/label names with those the iterator provides."""
    if hasattr(data_iter, "provide_data"):
        data = tuple(d.name for d in data_iter.provide_data)
        label = tuple(d.name for d in (getattr(data_iter, "provide_label", None) or []))
    else:
        return  # DataLoader and plain iterables carry no names
    rule = (
        "MXNet binds an iterator's arrays to the model by name, so the names given to "
        "Module(data_names=..., label_names=...) must equal the iterator's data_name and "
        "label_name."
    )
    if data != data_names:
        raise ValueError(
            f"{what} provides data named {list(data)} but the Module expects data_names="
            f"{list(data_names)}. {rule} Pass data_names={list(data)} to Module, or "
            f"data_name={data_names[0]!r} to NDArrayIter."
        )
    if not need_label:
        return
    if not label:
        raise ValueError(
            f"{what} provides no labels, but training and scoring need them; build it with "
            "labels, e.g. NDArrayIter(X, y, batch_size)."
        )
    if not label_names:
        raise ValueError(
            f"This Module was built with label_names=None, so it cannot train or score; "
            f"build it with label_names={list(label)} to match {what}."
        )
    if label != label_names:
        raise ValueError(
            f"{what} provides labels named {list(label)} but the Module expects "
            f"label_names={list(label_names)}. {rule} Pass label_names={list(label)} "
            f"to Module, or label_name={label_names[0]!r} to NDArrayIter."
        )
