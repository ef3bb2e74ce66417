"""pyvmm: an instruction-level RISC-V RV64 emulator for studying virtualization."""

__version__ = "0.1.0"
