"""dstraight.init: initializers against their closed-form distributions."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight import init

N = 200_000  # large enough that sample moments are within ~1% of the true ones


@pytest.mark.parametrize("jit", [False, True])
def test_normal_moments_and_determinism(jit):
    def draw(key):
        return init.Normal(sigma=0.5)(key, (N,))

    fn = jax.jit(draw) if jit else draw
    w = np.asarray(fn(jax.random.key(3)))
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.mean(), 0.0, atol=0.01)
    np.testing.assert_allclose(w.std(), 0.5, rtol=0.01)
    np.testing.assert_array_equal(w, np.asarray(init.Normal(sigma=0.5)(3, (N,))))
    assert not np.array_equal(w, np.asarray(init.Normal(sigma=0.5)(4, (N,))))


def test_uniform_is_symmetric_around_zero():
    w = np.asarray(init.Uniform(scale=0.2)(0, (N,)))
    assert w.min() >= -0.2 and w.max() < 0.2
    np.testing.assert_allclose(w.mean(), 0.0, atol=0.005)
    np.testing.assert_allclose(w.var(), 0.2**2 / 3, rtol=0.02)


def test_default_scales_are_gluons():
    assert init.Normal().sigma == 0.01
    assert init.Uniform().scale == 0.07


@pytest.mark.parametrize(
    ("initializer", "value"),
    [(init.Zero(), 0.0), (init.One(), 1.0), (init.Constant(2.5), 2.5)],
)
def test_constant_fillers(initializer, value):
    np.testing.assert_array_equal(initializer(0, (2, 3)), np.full((2, 3), value, np.float32))


@pytest.mark.parametrize(
    ("factor_type", "fan"), [("avg", (300 + 500) / 2), ("in", 300), ("out", 500)]
)
def test_xavier_uniform_bound_and_variance(factor_type, fan):
    w = np.asarray(init.Xavier(factor_type=factor_type, magnitude=2.0)(0, (300, 500)))
    bound = np.sqrt(2.0 / fan)
    assert np.abs(w).max() <= bound
    np.testing.assert_allclose(np.abs(w).max(), bound, rtol=0.01)
    np.testing.assert_allclose(w.var(), bound**2 / 3, rtol=0.02)


def test_xavier_gaussian_std():
    w = np.asarray(init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2.0)(0, (400, 500)))
    np.testing.assert_allclose(w.std(), np.sqrt(2.0 / 400), rtol=0.01)


def test_xavier_needs_two_dims():
    with pytest.raises(ValueError, match=r"at least 2 dimensions .* got shape \(5,\)"):
        init.Xavier()(0, (5,))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: init.Normal(sigma=-1.0), r"Normal\(sigma=...\) must be >= 0, got -1.0"),
        (lambda: init.Uniform(scale=-1.0), r"Uniform\(scale=...\) must be >= 0, got -1.0"),
        (lambda: init.Xavier(rnd_type="normal"), r"'uniform' or 'gaussian', got 'normal'"),
        (lambda: init.Xavier(factor_type="sum"), r"'avg', 'in', 'out', got 'sum'"),
        (lambda: init.Xavier(magnitude=0), r"magnitude=...\) must be > 0, got 0"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dtype_is_respected():
    assert init.Normal(1.0)(0, (3,), jnp.bfloat16).dtype == jnp.bfloat16
    assert init.Xavier()(0, (3, 4), jnp.float16).dtype == jnp.float16


def test_bad_shapes():
    with pytest.raises(TypeError, match="shape must be a tuple of ints, got 3"):
        init.Normal()(0, 3)
    with pytest.raises(ValueError, match=r"negative dimensions, got \(2, -1\)"):
        init.Normal()(0, (2, -1))


@pytest.mark.parametrize("name", ["zeros", "ones", "normal", "uniform", "xavier", "Normal"])
def test_create_by_name(name):
    expected = {"zeros": init.Zero, "ones": init.One, "normal": init.Normal,
                "uniform": init.Uniform, "xavier": init.Xavier}[name.lower()]
    assert type(init.create(name)) is expected


def test_create_passes_callables_through_and_they_interoperate():
    lecun = jax.nn.initializers.lecun_normal()
    assert init.create(lecun) is lecun
    # and ours work where jax.nn.initializers are expected: same (key, shape, dtype) signature
    key = jax.random.key(0)
    np.testing.assert_array_equal(
        init.Normal(0.3)(key, (4,)), jax.nn.initializers.normal(0.3)(key, (4,))
    )


def test_create_errors():
    with pytest.raises(ValueError, match=r"Unknown initializer name 'gaussian'; expected one of"):
        init.create("gaussian")
    with pytest.raises(TypeError, match="a name such as 'normal' or a callable.*got 3"):
        init.create(3)


def test_as_key_accepts_seeds_and_keys():
    data = jax.random.key_data
    np.testing.assert_array_equal(data(init.as_key(7)), data(jax.random.key(7)))
    np.testing.assert_array_equal(data(init.as_key(np.int64(7))), data(jax.random.key(7)))
    typed = jax.random.key(1)
    assert init.as_key(typed) is typed
    raw = jax.random.PRNGKey(1)
    assert init.as_key(raw) is raw


@pytest.mark.parametrize("bad", [True, "0", 1.5, jnp.zeros(3)])
def test_as_key_rejects_others(bad):
    with pytest.raises(TypeError, match="key must be an int seed or a jax.random key"):
        init.as_key(bad)


def test_docstring_examples():
    result = doctest.testmod(init, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
