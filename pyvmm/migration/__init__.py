"""Live migration: a running machine or VM moves to another process over TCP by
pre-copy (Clark et al., NSDI 2005; Xen's xc_domain_save): RAM pages are
sent in rounds while the guest runs, each round the pages the dirty log
caught in the previous one, then the guest pauses and the rest goes with
its state (docs/migration.md).

- `stream`: the versioned, checksummed migration stream
- `precopy`: the link model, the stop rules and the sending side's rounds
- `board`: the bare board as something that migrates (its pages, dirty log,
  final state) and its rebuilding from a stream
- `vm`: a VM under a hypervisor technique as something that migrates (its
  guest-physical pages, the host's dirty log translated back to them, its
  snapshot state) and its rebuilding on a new Host
- `destination`: receiving and verifying a stream before anything is built
- `transport`: tcp:HOST:PORT addresses
- `cli`: `pyvmm run --migrate` and `pyvmm run --incoming`
"""

from pyvmm.migration.stream import MigrationError  # noqa: F401
