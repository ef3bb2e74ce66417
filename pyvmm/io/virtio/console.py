"""virtio-console (virtio 1.2 section 5.3) with a single port, the one a
Linux guest names hvc0.

Without VIRTIO_CONSOLE_F_MULTIPORT the device has two queues: receiveq (0),
where the driver posts empty buffers that the device fills with console
input, and transmitq (1), whose buffers carry the guest's output to the
machine's console writer. Input is collected in poll(), between slices, from
the machine's console input: either a callable returning the bytes ready now,
or an object with read_byte()/pending()/poll() (pyvmm.machine.console.ConsoleInput).
Input that arrives while the driver has no buffer posted waits, in order,
and survives a device reset so keys typed before the driver starts still arrive.
"""

from pyvmm.io.virtio.device import ID_CONSOLE, VirtioDevice

RECEIVEQ = 0
TRANSMITQ = 1


def input_reader(source):
    """A callable returning the console bytes ready now (b"" if none)."""
    if source is None:
        return lambda: b""
    if callable(source) and not hasattr(source, "read_byte"):
        return source

    def read_ready():
        source.poll()
        data = bytearray()
        while source.pending():
            byte = source.read_byte()
            if byte < 0:
                break
            data.append(byte)
        return bytes(data)
    return read_ready


class VirtioConsole(VirtioDevice):
    device_id = ID_CONSOLE
    name = "virtio-console"
    num_queues = 2

    def __init__(self, console_out, console_in=None):
        super().__init__()
        self.console_out = console_out
        self.read_input = input_reader(console_in)
        self.pending_input = bytearray()
        self.bytes_in = 0
        self.bytes_out = 0

    def config_bytes(self):
        # cols, rows (no VIRTIO_CONSOLE_F_SIZE), max_nr_ports, emerg_wr.
        return bytes(4) + (1).to_bytes(4, "little") + bytes(4)

    def poll(self):
        data = self.read_input()
        if data:
            self.pending_input += data
        if self.pending_input:
            self._service(RECEIVEQ)

    def process_queue(self, index):
        if index == TRANSMITQ:
            self._transmit()
        else:
            self._receive()

    def _transmit(self):
        served = False
        while True:
            chain = self.pop(TRANSMITQ)
            if chain is None:
                break
            data = chain.read()
            if data:
                self.console_out(data)
            self.bytes_out += len(data)
            self.counters["bytes"] += len(data)
            self.push(TRANSMITQ, chain, 0)
            served = True
        if served:
            self.signal(TRANSMITQ)

    def _receive(self):
        served = False
        while self.pending_input:
            chain = self.pop(RECEIVEQ)
            if chain is None:
                break
            n = chain.write(0, bytes(self.pending_input[:chain.writable_len]))
            del self.pending_input[:n]
            self.bytes_in += n
            self.counters["bytes"] += n
            self.push(RECEIVEQ, chain)
            served = True
        if served:
            self.signal(RECEIVEQ)

    def stats(self):
        stats = super().stats()
        stats.update(bytes_in=self.bytes_in, bytes_out=self.bytes_out)
        return stats

    def device_state(self):
        return {"pending_input": bytes(self.pending_input),
                "bytes_in": self.bytes_in, "bytes_out": self.bytes_out}

    def restore_device(self, state):
        self.pending_input = bytearray(state["pending_input"])
        self.bytes_in = state["bytes_in"]
        self.bytes_out = state["bytes_out"]
