"""HTIF, the Host-Target InterFace of Spike and riscv-tests: two doublewords in guest RAM.

The guest writes a command to `tohost` (bits 63:56 device, 55:48 command,
47:0 payload); the host takes it, clears `tohost` to 0 and answers, when the
command has an answer, through `fromhost` (same layout). pyvmm watches
stores into `tohost` (core.add_watch) and the Machine calls
`on_tohost_write()` for each. Devices and commands, as Spike's fesvr and
QEMU's hw/char/riscv_htif.c define them:

  device 0 (system), command 0, payload bit 0 set: the guest is done; exit
      code = payload >> 1 (riscv-tests: 0 pass, the failing test's number
      otherwise) -> machine.request_stop("htif", code)
  device 0, command 0, payload bit 0 clear: the syscall proxy; payload is
      the physical address of `magic_mem`, 8 doublewords: syscall number,
      arguments. Supported as Spike/pk do: write (64) to fd 1 (the console)
      or 2 (the host's stderr), returning the count, and exit (93). The
      result replaces magic_mem[0]; the answer is fromhost = 1.
  device 1 (console), command 1: putchar of the payload's low byte; answer
      (1 << 56) | (1 << 48) | 0x100 | byte
  device 1, command 0: getchar; answer (1 << 56) | 0x100 | byte once a byte
      of input exists (the read stays pending until then; `poll()` retries)

Answers queue until the guest has cleared `fromhost` (Spike's fromhost
queue). A store that leaves `tohost` zero is not a command (guests clear
tohost, and riscv-tests write the upper word as zero after the lower).

Anything else (another device or command, an unknown syscall, a magic_mem
block outside RAM) is a guest bug pyvmm cannot serve: one line on stderr
names it and the run stops with how "htif-error" and status 126
(layout.EXIT_GUEST_ERROR).
"""

import collections
import sys

from pyvmm.machine import layout

MASK64 = (1 << 64) - 1
PAYLOAD_MASK = (1 << 48) - 1

DEV_SYSTEM = 0
DEV_CONSOLE = 1
SYSTEM_CMD_SYSCALL = 0
CONSOLE_CMD_GETC = 0
CONSOLE_CMD_PUTC = 1

SYS_WRITE = 64
SYS_EXIT = 93
MAGIC_MEM_WORDS = 8
EBADF = 9


def encode(device, command, payload):
    return ((device & 0xFF) << 56) | ((command & 0xFF) << 48) | (payload & PAYLOAD_MASK)


class Htif:
    def __init__(self, machine, tohost_addr, fromhost_addr=None, stderr=None):
        self.machine = machine
        self.core = machine.core
        self.tohost_addr = tohost_addr
        self.fromhost_addr = fromhost_addr
        self._stderr = stderr
        self.pending_reads = collections.deque()    # getchar commands waiting for input
        self.responses = collections.deque()        # answers waiting for fromhost to be clear
        self.commands = collections.Counter()       # "exit", "syscall.write", "putchar", ...
        self.by_device = collections.Counter()      # "device/command" -> commands, e.g. "1/1"
        self.stopped = False

    def state(self):
        """Commands waiting for console input or for fromhost to clear, and the counters."""
        return {"tohost": self.tohost_addr, "fromhost": self.fromhost_addr,
                "pending_reads": list(self.pending_reads), "responses": list(self.responses),
                "commands": dict(sorted(self.commands.items())),
                "by_device": dict(sorted(self.by_device.items())), "stopped": self.stopped}

    def restore(self, state):
        self.pending_reads = collections.deque(int(v) for v in state["pending_reads"])
        self.responses = collections.deque(int(v) for v in state["responses"])
        self.commands = collections.Counter(state["commands"])
        self.by_device = collections.Counter(state["by_device"])
        self.stopped = bool(state["stopped"])

    @property
    def stderr(self):
        return self._stderr if self._stderr is not None else sys.stderr

    # -- guest memory ----------------------------------------------------------------
    def _in_ram(self, addr, size):
        m = self.machine
        return m.ram_base <= addr and addr + size <= m.ram_base + m.ram_size

    def _read_u64(self, addr):
        return int.from_bytes(self.core.read_mem(addr, 8), "little")

    def _write_u64(self, addr, value):
        self.core.write_mem(addr, (value & MASK64).to_bytes(8, "little"))

    # -- entry points ----------------------------------------------------------------
    def on_tohost_write(self):
        """The guest stored into tohost: take the command, clear tohost, act, answer."""
        value = self._read_u64(self.tohost_addr)
        if value != 0 and not self.stopped:
            self._write_u64(self.tohost_addr, 0)
            self._execute(value)
        self.poll()

    def poll(self):
        """Serve pending getchars from new input and post queued answers once fromhost is clear."""
        while self.pending_reads:
            ch = self.machine.console_read()
            if ch < 0:
                break
            command = self.pending_reads.popleft()
            self.responses.append(encode(command >> 56, command >> 48, 0x100 | (ch & 0xFF)))
        if self.responses and self.fromhost_addr is not None:
            if self._read_u64(self.fromhost_addr) == 0:
                self._write_u64(self.fromhost_addr, self.responses.popleft())
        elif self.fromhost_addr is None:
            self.responses.clear()

    def stats(self):
        return {"commands": dict(self.commands), "by_device": dict(self.by_device),
                "pending_reads": len(self.pending_reads)}

    # -- commands --------------------------------------------------------------------
    def _execute(self, value):
        device = value >> 56
        command = (value >> 48) & 0xFF
        payload = value & PAYLOAD_MASK
        self.by_device["%d/%d" % (device, command)] += 1
        if device == DEV_SYSTEM and command == SYSTEM_CMD_SYSCALL:
            if payload & 1:
                self.commands["exit"] += 1
                self._stop("htif", payload >> 1)
            else:
                self._syscall(payload)
        elif device == DEV_CONSOLE and command == CONSOLE_CMD_PUTC:
            self.commands["putchar"] += 1
            ch = payload & 0xFF
            self.machine.console_write(bytes([ch]))
            self.responses.append(encode(device, command, 0x100 | ch))
        elif device == DEV_CONSOLE and command == CONSOLE_CMD_GETC:
            self.commands["getchar"] += 1
            self.pending_reads.append(value)
        else:
            self.commands["unsupported"] += 1
            self._guest_error("unsupported command 0x%016x (device %d, command %d, payload 0x%x)"
                              % (value, device, command, payload))

    def _syscall(self, magic_addr):
        if not self._in_ram(magic_addr, 8 * MAGIC_MEM_WORDS):
            self.commands["syscall.bad"] += 1
            self._guest_error("syscall block at 0x%x is outside RAM" % magic_addr)
            return
        words = [self._read_u64(magic_addr + 8 * i) for i in range(MAGIC_MEM_WORDS)]
        number, args = words[0], words[1:]
        if number == SYS_WRITE:
            self.commands["syscall.write"] += 1
            result = self._sys_write(*args[:3])
            if result is None:
                return
        elif number == SYS_EXIT:
            self.commands["syscall.exit"] += 1
            self._stop("htif", args[0] & 0xFFFF_FFFF)
            return
        else:
            self.commands["syscall.unsupported"] += 1
            self._guest_error("unsupported syscall %d (magic_mem at 0x%x)" % (number, magic_addr))
            return
        self._write_u64(magic_addr, result)
        self.responses.append(encode(DEV_SYSTEM, SYSTEM_CMD_SYSCALL, 1))

    def _sys_write(self, fd, buf, length):
        if fd not in (1, 2):
            return -EBADF
        if not self._in_ram(buf, length):
            self._guest_error("write(%d, 0x%x, %d) reaches outside RAM" % (fd, buf, length))
            return None
        data = bytes(self.core.read_mem(buf, length))
        if fd == 1:
            self.machine.console_write(data)
        else:
            stream = getattr(self.stderr, "buffer", None)
            if stream is not None:
                stream.write(data)
                stream.flush()
            else:
                self.stderr.write(data.decode("latin-1"))
        return length

    def _stop(self, how, code):
        self.stopped = True
        self.machine.request_stop(how, code)

    def _guest_error(self, message):
        print("pyvmm: htif: " + message, file=self.stderr)
        self._stop("htif-error", layout.EXIT_GUEST_ERROR)
