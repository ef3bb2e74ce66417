"""virtio-rng, the entropy device (virtio 1.2 section 5.4).

One request queue; the device fills every device-writable buffer of a chain
with random bytes. By default the bytes come from a PCG64 generator with a
fixed seed, so a run repeats exactly; a machine running on host time
(--realtime) takes them from the host's os.urandom instead.
"""

import os

import numpy as np

from pyvmm.io.virtio.device import ID_RNG, VirtioDevice

DEFAULT_SEED = 0x7079_766D_6D     # "pyvmm"
# Bytes served per buffer at most: QEMU's rng back-ends also serve a large
# request in parts, and the guest asks again for the rest.
MAX_CHUNK = 64 * 1024


class VirtioRng(VirtioDevice):
    device_id = ID_RNG
    name = "virtio-rng"
    num_queues = 1

    def __init__(self, realtime=False, seed=DEFAULT_SEED):
        super().__init__()
        self.realtime = realtime
        self.seed = seed
        self.generator = np.random.Generator(np.random.PCG64(seed))

    def entropy(self, n):
        if self.realtime:
            return os.urandom(n)
        return self.generator.bytes(n)

    def process_queue(self, index):
        served = False
        while True:
            chain = self.pop(index)
            if chain is None:
                break
            n = min(chain.writable_len, MAX_CHUNK)
            if n:
                chain.write(0, self.entropy(n))
            self.counters["bytes"] += n
            self.push(index, chain)
            served = True
        if served:
            self.signal(index)

    def device_state(self):
        return {"generator": self.generator.bit_generator.state}

    def restore_device(self, state):
        self.generator.bit_generator.state = state["generator"]
