"""ConsoleInput: the byte sources behind the UART's receiver and the SBI/HTIF console."""

import gc
import io
import os
import threading

from pyvmm.machine.console import ConsoleInput


def drain(console):
    out = bytearray()
    while (byte := console.read_byte()) >= 0:
        out.append(byte)
    return bytes(out)


def test_no_source_and_bytes():
    assert ConsoleInput(None).read_byte() == -1 and ConsoleInput(None).exhausted
    console = ConsoleInput(b"ab")
    assert not console.asynchronous and console.pending()
    assert drain(console) == b"ab" and console.exhausted and not console.wait()


def test_regular_file_is_read_ahead_synchronously(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"file")
    console = ConsoleInput(open(path, "rb"))     # no other reference to the file object
    gc.collect()
    assert not console.asynchronous
    assert console.pending() and drain(console) == b"file"
    assert console.exhausted


def test_in_memory_stream():
    console = ConsoleInput(io.BytesIO(b"xyz"))
    assert console.pending() and drain(console) == b"xyz"
    assert console.read_byte() == -1 and console.exhausted


def test_pipe_is_asynchronous_and_polled():
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb", buffering=0) as stream:
        console = ConsoleInput(stream)
        assert console.asynchronous
        assert not console.pending()            # nothing collected yet
        os.write(write_end, b"p")
        assert not console.pending()            # only poll() looks at the pipe
        console.poll()
        assert console.pending() and console.read_byte() == ord("p")
        threading.Timer(0.1, lambda: (os.write(write_end, b"q"), os.close(write_end))).start()
        assert console.wait() and console.read_byte() == ord("q")
        assert not console.wait() and console.exhausted


def test_closed_descriptor_ends_the_input():
    read_end, write_end = os.pipe()
    console = ConsoleInput(read_end)
    os.close(read_end)
    os.close(write_end)
    console.poll()
    assert console.read_byte() == -1 and console.exhausted
