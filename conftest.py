"""Repository-wide pytest configuration.

Notebooks are collected by nbval (see ``[tool.pytest.ini_options]`` in pyproject.toml). The settings
here make their comparison meaningful on any machine: kernels run JAX on the CPU, and the stderr
stream, where JAX, XLA and tqdm write warnings and progress bars, is not compared.
"""

import os

# Kernels inherit this process's environment; set it before nbval starts any of them.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

collect_ignore_glob = ["_build/*", ".venv/*", "**/.ipynb_checkpoints/*", "tests/fixtures/*"]


def pytest_collectstart(collector):
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb":
        # stderr holds warnings and progress bars whose wording changes between library versions.
        collector.skip_compare += ("stderr", "application/javascript")
