"""Binary translation (technique "bt"): the guest kernel's code is never run
in place. Each basic block is translated on first execution into a
translation cache (TC) mapped into the kernel's shadow address space and
run from there in real U-mode, with its sensitive instructions rewritten
(VMware's BT, Adams & Agesen, ASPLOS 2006). Guest user code runs directly.

    translator.py   guest block -> TC words, callout table, TC->guest pc map (pure)
    cache.py        the TC: space, blocks by guest pc, chaining, invalidation
    runtime.py      BTVCPU / BTPolicy: trap_emulate's virtual supervisor with
                    the TC in front of it
    layout.py       where the TC and the VCPU-state page live

docs/bt.md has the design and the figures.
"""


def register():
    """Add "bt" to pyvmm.hv's technique registry."""
    from pyvmm.hv import register_technique
    register_technique("bt", "pyvmm.hv.bt.runtime:BTVCPU", "pyvmm.hv.bt.runtime:BTPolicy")
