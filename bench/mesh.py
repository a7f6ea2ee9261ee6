"""The mesh case: gluon-style training on a data-parallel mesh against one device.

``python -m bench.mesh [--devices 8] [--epochs 5]`` prints one JSON object. On a CPU-only machine
the CPU is split into ``--devices`` simulated devices (``jax_num_cpu_devices``, set before JAX
starts, which is why ``bench/__main__.py`` runs this in a process of its own); they share the same
cores, so ``ratio_mesh_to_one`` (epoch time on the mesh over epoch time on one device) shows what
the split and the all-reduce cost, not what real devices would gain. On a machine with several
GPUs the mesh spans the GPUs.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8, help="simulated CPU devices")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per case (>= 5)")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_num_cpu_devices", args.devices)

    from bench.__main__ import load_fashion_mnist
    from bench.cases import Problem, make_gluon, make_gluon_mesh
    from bench.timing import time_interleaved

    X, y = load_fashion_mnist()
    problem = Problem("softmax regression Fashion-MNIST, batch 256", X, y, 10, 256, 0.1, True)
    device = jax.devices()[0]
    epochs = max(args.epochs, 5)
    # in turns, so that outside load hits both alike
    rows = time_interleaved({"gluon_one_device": make_gluon, "gluon_mesh": make_gluon_mesh},
                            problem, device, epochs)
    one, mesh = rows["gluon_one_device"], rows["gluon_mesh"]
    report = {
        "problem": problem.name,
        "batch_size": problem.batch_size,
        "steps_per_epoch": problem.steps_per_epoch,
        "platform": device.platform,
        "devices": len(jax.devices()),
        "simulated": device.platform == "cpu",
        "cases": {"gluon_one_device": one, "gluon_mesh": mesh},
        "ratio_mesh_to_one": mesh["epoch_s"] / one["epoch_s"],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
