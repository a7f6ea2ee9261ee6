"""One process of the two-process test in tests/test_mesh.py (also the single-process reference).

Usage: ``python tests/mesh_process.py OUT.npz [PORT PROCESS_ID NUM_PROCESSES]``. With a port,
the process joins a JAX cluster on 127.0.0.1 (gloo collectives on the CPU) and trains on a mesh
of every device of every process; without, it trains on its one default device. Either way it
writes the trained parameters and the epoch losses to ``OUT.npz``.
"""

from __future__ import annotations

import sys

import jax
import numpy as np


def train(device):
    from dstraight import Trainer, data, loss, nn

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X @ rng.normal(size=(6, 3))).argmax(axis=1).astype(np.int32)
    # the same global batch of 32 everywhere: each of two processes loads its 16 examples
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=32, shuffle=True, seed=3,
                             device=device)
    net = nn.Sequential()
    net.add(nn.Dense(16, activation="relu"), nn.Dense(3))
    net.initialize("xavier", key=1, device=device)
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.3, "momentum": 0.9})
    losses = [trainer.fit_epoch(net, loss.SoftmaxCrossEntropyLoss(), loader) for _ in range(2)]
    params = {f"p{i}": np.asarray(p.data()) for i, p in enumerate(net.collect_params().values())}
    return params, np.asarray(losses), (loader.num_parts, loader.part_index)


def main(argv):
    out = argv[1]
    if len(argv) > 2:
        port, pid, nproc = (int(a) for a in argv[2:5])
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=nproc, process_id=pid,
                                   initialization_timeout=120)
        import dstraight

        device = dstraight.data_parallel()
    else:
        device = None
    params, losses, parts = train(device)
    np.savez(out, losses=losses, parts=np.asarray(parts),
             devices=np.asarray([jax.process_count(), jax.device_count()]), **params)
    if len(argv) > 2:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv)
