"""The garbage collector's settings for a process that runs guests.

pyvmm's objects go as their last reference does; what the cyclic collector
finds at a guest's exits is next to nothing (a Linux boot under binary
translation frees a few hundred objects in a thousand collections). Yet
every collection of the old generation walks every object the program
holds, the modules and their tables among them, and the young generation is
collected every 700 allocations of containers (the translator makes several
per block). So a process of pyvmm's own (its command line, a benchmark's
boot) settles the collector at its start: what exists then stays out of
every later collection (`gc.freeze`), and the young generation is collected
every YOUNG_OBJECTS allocations. A program embedding pyvmm keeps its own
settings: the library never calls this.
"""

import gc

YOUNG_OBJECTS = 10_000


def settle():
    """Freeze what the process holds now and collect the young generation
    every YOUNG_OBJECTS allocations (unless the process turned the collector
    off, or set a larger threshold)."""
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if gc.isenabled() and 0 < young < YOUNG_OBJECTS:
        gc.set_threshold(YOUNG_OBJECTS, middle, old)
