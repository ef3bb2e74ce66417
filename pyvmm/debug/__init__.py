"""pyvmm.debug: tools that inspect a running guest (the monitor, the gdb stub)."""
