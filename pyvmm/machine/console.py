"""The console's input side: a byte source the UART (and SBI/HTIF console
calls) read from without ever blocking the run loop.

A source is None (no input), bytes (a fixed script, fully deterministic), a
file-like object without a file descriptor (read as it is), or a binary file
object / descriptor: pipes and terminals are polled with select() so an empty
pipe never stalls the guest; only `wait()` blocks, and the Machine calls it
only when the hart has gone idle with nothing else to wake it.
"""

import io
import os
import select
import stat

CHUNK = 4096


class ConsoleInput:
    def __init__(self, source=None):
        self._buffer = bytearray()
        self._position = 0
        self._fd = None
        self._file = None
        self._source = source       # keeps a file object (and so its descriptor) open
        self.at_eof = source is None
        # Pipes, terminals and sockets deliver when they please; a script,
        # a regular file or an in-memory stream can be read at any time, so
        # when its bytes reach the guest depends on the guest alone.
        self.asynchronous = False
        self.filter = None          # bytes -> the bytes meant for the guest (a monitor's mux)
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._buffer += source
            self.at_eof = True
        elif isinstance(source, int):
            self._fd = source
        elif source is not None:
            try:
                self._fd = source.fileno()
            except (AttributeError, io.UnsupportedOperation, OSError):
                self._file = source
        if self._fd is not None:
            try:
                self.asynchronous = not stat.S_ISREG(os.fstat(self._fd).st_mode)
            except OSError:
                self.asynchronous = True

    def _fill(self, timeout):
        """Append what the source has ready; block up to `timeout` (None: forever)."""
        if self.at_eof:
            return
        if self._file is not None:
            data = self._file.read(CHUNK)
        else:
            try:
                ready, _, _ = select.select([self._fd], [], [], timeout)
                if not ready:
                    return
                data = os.read(self._fd, CHUNK)
            except BlockingIOError:
                return
            except (OSError, ValueError):
                data = b""              # a closed or broken source has ended
        if not data:
            self.at_eof = True
        elif self.filter is not None:
            self._buffer += self.filter(data)
        else:
            self._buffer += data

    def set_filter(self, filter):
        """Route input through `filter(data) -> bytes for the guest` (the
        console's mux with a monitor); bytes not yet read pass through it too."""
        self.filter = filter
        unread = bytes(self._buffer[self._position:])
        self._buffer = bytearray(filter(unread)) if unread else bytearray()
        self._position = 0

    def pump(self):
        """With a filter: read what the source has now, also ahead of the
        guest, so the filter sees every byte as it comes (never blocks)."""
        if self.filter is not None and not self.at_eof:
            self._fill(0)

    def fileno(self):
        """The descriptor an idle machine can select() on, or None when input
        is not asynchronous (a script, a file) or has ended."""
        if self._fd is None or not self.asynchronous or self.at_eof:
            return None
        return self._fd

    def unread(self):
        """Bytes read from the source that the guest has not had yet (what a
        snapshot carries as pending console input)."""
        return bytes(self._buffer[self._position:])

    def push_front(self, data):
        """Deliver `data` before anything the source has not yet given."""
        self._buffer = bytearray(data) + self._buffer[self._position:]
        self._position = 0

    @property
    def buffered(self):
        return len(self._buffer) - self._position

    def read_byte(self):
        """The next input byte, or -1 if none is ready now."""
        if self._position >= len(self._buffer):
            self._buffer.clear()
            self._position = 0
            self._fill(0)
            if not self._buffer:
                return -1
        byte = self._buffer[self._position]
        self._position += 1
        return byte

    def pending(self):
        """Is a byte ready? Reads ahead from synchronous sources; an
        asynchronous one only shows what `poll()` has already collected."""
        if self._position < len(self._buffer):
            return True
        if self.at_eof or self.asynchronous:
            return False
        self._buffer.clear()
        self._position = 0
        self._fill(0)
        return bool(self._buffer)

    def poll(self):
        """Collect what an asynchronous source has ready, without blocking."""
        if self.asynchronous and not self.at_eof and self._position >= len(self._buffer):
            self._buffer.clear()
            self._position = 0
            self._fill(0)
        elif self.filter is not None:
            self.pump()

    @property
    def exhausted(self):
        """No byte is buffered and none can ever come."""
        return self.at_eof and self._position >= len(self._buffer)

    def wait(self):
        """Block until a byte is ready; False if the source ended instead."""
        while self._position >= len(self._buffer):
            if self.at_eof:
                return False
            self._buffer.clear()
            self._position = 0
            self._fill(None)
        return True
