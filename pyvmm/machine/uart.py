"""NS16550A UART, register-compatible with QEMU's `serial_mm` at reg-shift 0.

Transmit is instantaneous: a THR write reaches the console stream at once and
the transmitter is empty again before the guest's next access, as in QEMU
when the chardev accepts the byte. Receive is driven from outside: the
Machine hands over one byte per byte time while `can_receive()` (QEMU's
`serial_can_receive`: room in the FIFO, or an empty holding register), so
input is never overrun, and calls `character_timeout()` when the line has
been quiet, which raises the FIFO's timeout interrupt for bytes waiting
below the trigger level.
"""

from collections import deque

# Register offsets (reg-shift 0); with LCR.DLAB set, 0 and 1 are the divisor latch.
RBR_THR_DLL = 0
IER_DLM = 1
IIR_FCR = 2
LCR = 3
MCR = 4
LSR = 5
MSR = 6
SCR = 7

IER_RDI = 0x01      # received data available
IER_THRI = 0x02     # transmitter holding register empty
IER_RLSI = 0x04     # receiver line status
IER_MSI = 0x08      # modem status

IIR_NO_INT = 0x01
IIR_ID_MASK = 0x0E
IIR_MSI = 0x00
IIR_THRI = 0x02
IIR_RDI = 0x04
IIR_RLSI = 0x06
IIR_CTI = 0x0C      # character timeout
IIR_FIFO_ENABLED = 0xC0

FCR_FE = 0x01       # FIFO enable
FCR_RFR = 0x02      # receive FIFO reset
FCR_XFR = 0x04      # transmit FIFO reset
FCR_ITL_SHIFT = 6
FIFO_TRIGGER_LEVELS = (1, 4, 8, 14)

LCR_DLAB = 0x80

MCR_DTR = 0x01
MCR_RTS = 0x02
MCR_OUT1 = 0x04
MCR_OUT2 = 0x08
MCR_LOOP = 0x10

LSR_DR = 0x01
LSR_OE = 0x02
LSR_PE = 0x04
LSR_FE = 0x08
LSR_BI = 0x10
LSR_THRE = 0x20
LSR_TEMT = 0x40
LSR_INT_ANY = 0x1E

MSR_DCTS = 0x01
MSR_DDSR = 0x02
MSR_TERI = 0x04
MSR_DDCD = 0x08
MSR_ANY_DELTA = 0x0F
MSR_CTS = 0x10
MSR_DSR = 0x20
MSR_RI = 0x40
MSR_DCD = 0x80

FIFO_DEPTH = 16
BAUDBASE = 399193   # QEMU virt: serial_mm_init(..., 399193, ...)


class NS16550A:
    """One UART. `output(data: bytes)` receives transmitted bytes,
    `set_irq(level: bool)` drives the interrupt line."""

    def __init__(self, output, set_irq=None):
        self._output = output
        self._set_irq = set_irq
        self.accessed = False       # has the guest touched a register yet?
        self.irq_level = False
        self.reset()

    def reset(self):
        self.rbr = 0
        self.ier = 0
        self.iir = IIR_NO_INT
        self.fcr = 0
        self.lcr = 0
        self.mcr = MCR_OUT2
        self.lsr = LSR_TEMT | LSR_THRE
        self.msr = MSR_DCD | MSR_DSR | MSR_CTS
        self.scr = 0
        self.divisor = 0
        self.rx_fifo = deque()
        self.thr_ipending = False
        self.timeout_ipending = False
        self._update_irq()

    # -- state the guest cannot see directly ----------------------------------

    @property
    def fifo_enabled(self):
        return bool(self.fcr & FCR_FE)

    @property
    def rx_capacity(self):
        return FIFO_DEPTH if self.fifo_enabled else 1

    @property
    def rx_trigger_level(self):
        return FIFO_TRIGGER_LEVELS[self.fcr >> FCR_ITL_SHIFT] if self.fifo_enabled else 1

    @property
    def baud_rate(self):
        """The line speed the guest programmed (0 until it sets a divisor)."""
        return BAUDBASE // self.divisor if self.divisor else 0

    # -- the interrupt line -----------------------------------------------------

    def _update_irq(self):
        # Priority order of the 16550 datasheet: line status, received data,
        # character timeout, transmitter empty, modem status.
        ident = IIR_NO_INT
        if self.ier & IER_RLSI and self.lsr & LSR_INT_ANY:
            ident = IIR_RLSI
        elif (self.ier & IER_RDI and self.lsr & LSR_DR
              and (not self.fifo_enabled or len(self.rx_fifo) >= self.rx_trigger_level)):
            ident = IIR_RDI
        elif self.ier & IER_RDI and self.timeout_ipending:
            ident = IIR_CTI
        elif self.ier & IER_THRI and self.thr_ipending:
            ident = IIR_THRI
        elif self.ier & IER_MSI and self.msr & MSR_ANY_DELTA:
            ident = IIR_MSI
        self.iir = ident | (self.iir & 0xF0)
        level = ident != IIR_NO_INT
        self.irq_level = level
        if self._set_irq is not None:
            self._set_irq(level)

    # -- snapshots --------------------------------------------------------------

    _STATE = ("rbr", "ier", "iir", "fcr", "lcr", "mcr", "lsr", "msr", "scr", "divisor",
              "thr_ipending", "timeout_ipending", "accessed")

    def state(self):
        """Every register, the receive FIFO and the pending-interrupt latches."""
        state = {name: getattr(self, name) for name in self._STATE}
        state["rx_fifo"] = bytes(self.rx_fifo)
        return state

    def restore(self, state):
        for name in self._STATE:
            setattr(self, name, state[name])
        fifo = bytes(state["rx_fifo"])
        if len(fifo) > FIFO_DEPTH:
            raise ValueError(f"a receive FIFO of {len(fifo)} bytes (at most {FIFO_DEPTH})")
        self.rx_fifo = deque(fifo)
        self._update_irq()

    # -- receive ----------------------------------------------------------------

    def receive(self, data):
        """Bytes arriving on the line (from the input source or loopback)."""
        for byte in data:
            if len(self.rx_fifo) >= self.rx_capacity:
                if self.fifo_enabled:
                    self.lsr |= LSR_OE      # a full FIFO drops the new byte
                    continue
                self.lsr |= LSR_OE          # a 16450 overwrites its holding register
                self.rx_fifo.clear()
            self.rx_fifo.append(byte)
            self.lsr |= LSR_DR
        self._update_irq()

    def can_receive(self):
        """Room for a byte from the line (the serial input is disconnected
        in loopback mode)."""
        return not self.mcr & MCR_LOOP and len(self.rx_fifo) < self.rx_capacity

    @property
    def timeout_armed(self):
        """Bytes wait below the FIFO trigger level with no timeout raised yet."""
        return (self.fifo_enabled and bool(self.rx_fifo) and not self.timeout_ipending
                and len(self.rx_fifo) < self.rx_trigger_level)

    def character_timeout(self):
        """The line has been quiet: bytes waiting below the FIFO trigger
        level raise the character-timeout interrupt."""
        if self.timeout_armed:
            self.timeout_ipending = True
            self._update_irq()

    # -- register file ----------------------------------------------------------

    def read(self, offset, size):
        # QEMU's serial_mm implements 1-byte registers: a wider access is that
        # many byte accesses at consecutive offsets, little-endian.
        self.accessed = True
        value = 0
        for i in range(size):
            value |= self._read_register((offset + i) & 7) << (8 * i)
        return value

    def write(self, offset, size, value):
        self.accessed = True
        for i in range(size):
            self._write_register((offset + i) & 7, (value >> (8 * i)) & 0xFF)

    def _read_register(self, reg):
        if reg == RBR_THR_DLL:
            if self.lcr & LCR_DLAB:
                return self.divisor & 0xFF
            byte = self.rx_fifo.popleft() if self.rx_fifo else 0
            if not self.rx_fifo:
                self.lsr &= ~(LSR_DR | LSR_BI)
            self.timeout_ipending = False
            self._update_irq()
            return byte
        if reg == IER_DLM:
            return (self.divisor >> 8) & 0xFF if self.lcr & LCR_DLAB else self.ier
        if reg == IIR_FCR:
            value = self.iir
            if value & IIR_ID_MASK == IIR_THRI:
                self.thr_ipending = False
                self._update_irq()
            return value
        if reg == LCR:
            return self.lcr
        if reg == MCR:
            return self.mcr
        if reg == LSR:
            value = self.lsr
            if self.lsr & (LSR_BI | LSR_OE):
                self.lsr &= ~(LSR_BI | LSR_OE)
                self._update_irq()
            return value
        if reg == MSR:
            return self._modem_status()
        return self.scr

    def _write_register(self, reg, byte):
        if reg == RBR_THR_DLL:
            if self.lcr & LCR_DLAB:
                self.divisor = (self.divisor & 0xFF00) | byte
                return
            self.thr_ipending = False
            if self.mcr & MCR_LOOP:
                self.receive(bytes((byte,)))
            else:
                self._output(bytes((byte,)))
            self.lsr |= LSR_THRE | LSR_TEMT
            self.thr_ipending = True
            self._update_irq()
        elif reg == IER_DLM:
            if self.lcr & LCR_DLAB:
                self.divisor = (self.divisor & 0x00FF) | (byte << 8)
                return
            changed = (self.ier ^ byte) & 0x0F
            self.ier = byte & 0x0F
            if changed & IER_THRI:
                self.thr_ipending = bool(self.ier & IER_THRI and self.lsr & LSR_THRE)
            if changed:
                self._update_irq()
        elif reg == IIR_FCR:
            self._write_fcr(byte)
        elif reg == LCR:
            self.lcr = byte
        elif reg == MCR:
            self._write_mcr(byte & 0x1F)
        elif reg == LSR or reg == MSR:
            pass    # read-only on a 16550 (QEMU ignores these writes too)
        else:
            self.scr = byte

    def _write_fcr(self, byte):
        if byte == self.fcr:
            return
        if (byte ^ self.fcr) & FCR_FE:
            byte |= FCR_RFR | FCR_XFR     # toggling FIFO mode flushes both FIFOs
        if byte & FCR_RFR:
            self.rx_fifo.clear()
            self.lsr &= ~(LSR_DR | LSR_BI)
            self.timeout_ipending = False
        if byte & FCR_XFR:
            self.lsr |= LSR_THRE
            self.thr_ipending = True
        self.fcr = byte & 0xC9            # the reset bits self-clear
        if self.fcr & FCR_FE:
            self.iir |= IIR_FIFO_ENABLED
        else:
            self.iir &= ~IIR_FIFO_ENABLED
        self._update_irq()

    def _write_mcr(self, mcr):
        self.mcr = mcr
        self._update_irq()

    def _modem_status(self):
        """MSR as the guest reads it: in loopback the modem outputs appear on
        the inputs (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD) with no deltas,
        as in QEMU; otherwise the (constant) line state of the host side."""
        mcr = self.mcr
        if mcr & MCR_LOOP:
            return (((mcr & (MCR_OUT1 | MCR_OUT2)) << 4) | ((mcr & MCR_RTS) << 3)
                    | ((mcr & MCR_DTR) << 5))
        value = self.msr
        if self.msr & MSR_ANY_DELTA:
            self.msr &= ~MSR_ANY_DELTA
            self._update_irq()
        return value
