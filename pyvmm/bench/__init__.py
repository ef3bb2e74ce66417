"""Benchmarks: workloads, runners for pyvmm and QEMU, the start-up-free MIPS
arithmetic and the reports of `pyvmm bench`."""
