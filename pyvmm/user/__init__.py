"""Process-level virtualization: static RV64 Linux programs in U-mode with
their system calls served in Python (the qemu-user model).

    from pyvmm.user import run_program
    status = run_program(["/bin/hello", "arg"], root="rootdir")

One concept per module: `elf` (reading executables), `loader` (exec: the
image and the initial stack), `memory` (address spaces: Sv39 tables and
mappings), `fs` (the root directory view), `process` (processes, descriptor
tables, signals), `syscalls` (the table and handlers), `strace` (tracing
text), `kernel` (the run loop and scheduler), `cli` (`pyvmm user`).
"""

from pyvmm.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "run_program": "pyvmm.user.kernel",
    "Kernel": "pyvmm.user.kernel",
    "UserError": "pyvmm.user.kernel",
    "RunLimit": "pyvmm.user.kernel",
}, globals())
