"""The exit vocabulary of `Core.run` (docs/architecture.md section 2): why
the compiled loop handed control back to Python. Plain constants, so code
that only reads exits needs no compiled core; a test ties them to the
core's own (pyvmm._core.EXIT_*)."""

CORE_EXIT_BUDGET = 1    # the instruction budget ran out
CORE_EXIT_MMIO = 2      # a load or store to a device: exit_addr, exit_size, exit_data
CORE_EXIT_TRAP = 3      # an exception or interrupt the exit masks ask Python to take
CORE_EXIT_WFI = 4       # WFI with nothing pending: the hart idles
CORE_EXIT_WATCH = 5     # a store into a watched RAM range
CORE_EXIT_DEBUG = 6     # a debugger breakpoint or watchpoint (pyvmm.debug)

CORE_EXIT_NAMES = {CORE_EXIT_BUDGET: "budget", CORE_EXIT_MMIO: "mmio", CORE_EXIT_TRAP: "trap",
                   CORE_EXIT_WFI: "wfi", CORE_EXIT_WATCH: "watch", CORE_EXIT_DEBUG: "debug"}
