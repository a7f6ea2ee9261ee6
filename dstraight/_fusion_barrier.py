"""``materialized``: an array written to memory once, so that XLA's CPU compiler stops
recomputing it inside each of its consumers.

XLA fuses a cheap elementwise producer into every consumer and computes it again there. That is
right for a sum of two arrays; it is wrong for the 25-tap convolution in front of LeNet's first
pool, which the pool's and the ReLU's gradients would each recompute (without this barrier a
LeNet step took 1.34x as long on a 2-core CPU), or for col2im's sum of 25 blocks, which the
max-pool's gradient reads once per window entry (1.19x). ``lax.optimization_barrier`` does not
help: the CPU pipeline drops it before fusing. The operand of a conditional is always
materialized, so the array passes through one whose predicate is true for every value (NaN
included) but is known only at run time. Other platforms get ``a`` unchanged.
``tests/test_pool_lowerings.py`` checks that the conditional survives compilation for a CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["materialized"]


def materialized(a: jax.Array) -> jax.Array:
    """``a`` itself, computed once into a buffer of its own.

    Examples:
        >>> import jax.numpy as jnp
        >>> materialized(jnp.arange(3.0)).tolist()
        [0.0, 1.0, 2.0]
    """
    if a.size == 0:
        return a
    # only on a CPU: elsewhere a conditional can cost a copy of its predicate to the host
    return lax.platform_dependent(a, cpu=_through_a_conditional, default=lambda v: v)


def _through_a_conditional(a):
    a0 = a.reshape(-1)[0]
    keep = (a0 == a0) | (a0 != a0)
    return lax.cond(keep, lambda v: v, jnp.zeros_like, a)
