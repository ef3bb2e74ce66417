"""The NS16550A model driven directly through its registers (no guest)."""

import pytest

from pyvmm.machine import uart as u
from pyvmm.machine.uart import NS16550A


class Harness:
    def __init__(self, data=b""):
        self.out = bytearray()
        self.levels = []
        self.input = bytearray(data)
        self.uart = NS16550A(self.out.extend, self.levels.append)

    def line(self):
        """Bytes arrive while the receiver has room (as the Machine feeds it)."""
        moved = 0
        while self.input and self.uart.can_receive():
            self.uart.receive(bytes((self.input.pop(0),)))
            moved += 1
        return moved

    def r(self, reg):
        return self.uart.read(reg, 1)

    def w(self, reg, value):
        self.uart.write(reg, 1, value)

    @property
    def irq(self):
        return self.levels[-1]


def test_reset_values():
    h = Harness()
    assert h.r(u.LSR) == u.LSR_TEMT | u.LSR_THRE
    assert h.r(u.IIR_FCR) == u.IIR_NO_INT
    assert h.r(u.IER_DLM) == 0
    assert h.r(u.MCR) == u.MCR_OUT2
    assert h.r(u.MSR) == u.MSR_DCD | u.MSR_DSR | u.MSR_CTS
    assert h.irq is False


def test_thr_goes_to_output_at_once():
    h = Harness()
    for ch in b"hi\n":
        h.w(u.RBR_THR_DLL, ch)
    assert bytes(h.out) == b"hi\n"
    assert h.r(u.LSR) & (u.LSR_THRE | u.LSR_TEMT) == u.LSR_THRE | u.LSR_TEMT


def test_divisor_latch_and_scratch():
    h = Harness()
    h.w(u.LCR, u.LCR_DLAB | 0x03)
    h.w(u.RBR_THR_DLL, 0x12)
    h.w(u.IER_DLM, 0x34)
    assert h.r(u.RBR_THR_DLL) == 0x12 and h.r(u.IER_DLM) == 0x34
    assert h.uart.divisor == 0x3412
    assert h.uart.baud_rate == u.BAUDBASE // 0x3412
    assert h.out == b""              # DLL writes are not transmitted
    h.w(u.LCR, 0x03)
    assert h.r(u.IER_DLM) == 0       # IER, untouched by the DLM write
    assert h.r(u.LCR) == 0x03
    h.w(u.SCR, 0xA5)
    assert h.r(u.SCR) == 0xA5


def test_thr_empty_interrupt_and_iir_read_clears_it():
    h = Harness()
    h.w(u.IER_DLM, u.IER_THRI)
    assert h.irq is True
    assert h.r(u.IIR_FCR) & 0x0F == u.IIR_THRI
    assert h.irq is False            # reading IIR acknowledged it
    assert h.r(u.IIR_FCR) & 0x0F == u.IIR_NO_INT
    h.w(u.RBR_THR_DLL, ord("x"))     # transmitter empties again -> interrupt
    assert h.irq is True
    h.w(u.IER_DLM, 0)
    assert h.irq is False


def test_receive_without_fifo_and_rx_interrupt():
    h = Harness(b"ab")
    h.w(u.IER_DLM, u.IER_RDI)
    assert h.line() == 1             # a 16450 holds one byte
    assert h.r(u.LSR) & u.LSR_DR
    assert h.irq is True
    assert h.r(u.IIR_FCR) & 0x0F == u.IIR_RDI
    assert h.r(u.RBR_THR_DLL) == ord("a")
    assert h.irq is False
    assert h.line() == 1             # the next arrives once the first was read
    assert h.r(u.RBR_THR_DLL) == ord("b")
    assert not h.r(u.LSR) & u.LSR_DR
    assert h.irq is False
    assert h.r(u.RBR_THR_DLL) == 0   # empty receiver reads 0


def test_fifo_trigger_level_and_character_timeout():
    h = Harness(b"xyz")
    h.w(u.IIR_FCR, u.FCR_FE | (2 << u.FCR_ITL_SHIFT))    # trigger at 8 bytes
    assert h.r(u.IIR_FCR) & u.IIR_FIFO_ENABLED == u.IIR_FIFO_ENABLED
    h.w(u.IER_DLM, u.IER_RDI)
    h.line()
    assert len(h.uart.rx_fifo) == 3
    assert h.irq is False            # below the trigger level, no timeout yet
    h.uart.character_timeout()       # the line stays quiet
    assert h.irq is True
    assert h.r(u.IIR_FCR) & 0x0F == u.IIR_CTI
    assert bytes(h.r(u.RBR_THR_DLL) for _ in range(3)) == b"xyz"
    assert h.irq is False


def test_fifo_reaching_trigger_level_raises_rdi():
    h = Harness(b"0123456789")
    h.w(u.IIR_FCR, u.FCR_FE | (1 << u.FCR_ITL_SHIFT))    # trigger at 4
    h.w(u.IER_DLM, u.IER_RDI)
    h.line()
    assert h.r(u.IIR_FCR) & 0x0F == u.IIR_RDI
    h.w(u.IIR_FCR, u.FCR_FE | u.FCR_RFR | (1 << u.FCR_ITL_SHIFT))   # flush receive FIFO
    assert not h.r(u.LSR) & u.LSR_DR
    assert h.irq is False


def test_loopback_overrun_and_line_status_interrupt():
    h = Harness()
    h.w(u.MCR, u.MCR_LOOP)
    h.w(u.IER_DLM, u.IER_RLSI)
    h.w(u.RBR_THR_DLL, 1)
    h.w(u.RBR_THR_DLL, 2)            # 16450 mode: overwrites, overrun
    assert h.out == b""
    assert h.irq is True
    assert h.r(u.IIR_FCR) & 0x0F == u.IIR_RLSI
    lsr = h.r(u.LSR)
    assert lsr & u.LSR_OE and lsr & u.LSR_DR
    assert not h.r(u.LSR) & u.LSR_OE  # reading LSR clears OE
    assert h.irq is False
    assert h.r(u.RBR_THR_DLL) == 2


def test_loopback_modem_lines():
    h = Harness()
    h.w(u.MCR, u.MCR_LOOP | u.MCR_RTS | u.MCR_DTR)
    assert h.r(u.MSR) == u.MSR_CTS | u.MSR_DSR
    h.w(u.MCR, u.MCR_LOOP | u.MCR_OUT1 | u.MCR_OUT2)
    assert h.r(u.MSR) == u.MSR_RI | u.MSR_DCD
    h.w(u.MCR, u.MCR_OUT2)
    assert h.r(u.MSR) == u.MSR_DCD | u.MSR_DSR | u.MSR_CTS


def test_wide_access_is_byte_accesses():
    h = Harness()
    h.uart.write(u.LCR, 2, 0x0003 | (u.MCR_OUT2 | u.MCR_RTS) << 8)   # LCR and MCR at once
    assert h.r(u.LCR) == 0x03 and h.r(u.MCR) == u.MCR_OUT2 | u.MCR_RTS
    value = h.uart.read(u.LSR, 2)
    assert value & 0xFF == u.LSR_TEMT | u.LSR_THRE
    assert value >> 8 == u.MSR_DCD | u.MSR_DSR | u.MSR_CTS


@pytest.mark.parametrize("reg", [u.LSR, u.MSR])
def test_status_registers_are_read_only(reg):
    h = Harness()
    before = h.r(reg)
    h.w(reg, 0)
    assert h.r(reg) == before
