"""The Single Root I/O Virtualization extended capability of a physical
function (PCIe Base Specification, SR-IOV chapter), laid out and offered
as QEMU 7.2's hw/pci/pcie_sriov.c and hw/nvme/ctrl.c (`sriov_max_vfs`) do.

The capability sits at 0x100 in the function's extended configuration
space, the only extended capability there (next pointer 0):

  +0x00 header (ID 0x0010, version 1)   +0x14 First VF Offset (1), VF Stride (1)
  +0x04 SR-IOV Capabilities (0)         +0x1A VF Device ID
  +0x08 SR-IOV Control (VF Enable,      +0x1C Supported Page Sizes (0x553)
        VF MSE, ARI Capable Hierarchy)  +0x20 System Page Size (RW, 4 KiB)
  +0x0A SR-IOV Status (0)               +0x24 VF BAR0..5 (VF BAR0: 64-bit memory,
  +0x0C InitialVFs, TotalVFs                  one VF's BAR size; NumVFs of them
  +0x10 NumVFs (RW)                           back to back from its address)

Setting VF Enable brings NumVFs virtual functions into existence, VF i at
routing ID PF + First VF Offset + i * VF Stride; clearing it removes them.
As in QEMU, the PF's header type says multi-function (its VFs share its
device number), and each VF's Vendor and Device ID read 0xFFFF.
The specification leaves some writes undefined; here they are defined so
that the registers always describe the functions that exist:

* NumVFs is read-only while VF Enable is set;
* a NumVFs value above TotalVFs is not accepted (the register keeps its value);
* VF Enable with NumVFs = 0 is accepted and creates no function;
* VF BAR0 decodes only while both VF Enable and VF MSE are set.

The physical function supplies `create_vf(index)` and `vfs_changed()`; the
functions it creates are kept here, in index order, while enabled.
PhysicalFunction gives a PciFunction the parts every physical function
shares (the configuration writes that enable VFs, their removal on reset,
the bus learning of them).
"""

from pyvmm.io.pci.config import (BAR_0, COMMAND, COMMAND_INTX_DISABLE, COMMAND_MASTER, HEADER_TYPE,
                                  HEADER_TYPE_MULTI_FUNCTION)

ID_SRIOV = 0x0010
SRIOV_VERSION = 1
CAP_OFFSET = 0x100
CAP_SIZE = 0x40

CAPABILITIES = 0x04
CONTROL = 0x08
STATUS = 0x0A
INITIAL_VFS = 0x0C
TOTAL_VFS = 0x0E
NUM_VFS = 0x10
FUNCTION_LINK = 0x12
FIRST_VF_OFFSET = 0x14
VF_STRIDE = 0x16
VF_DEVICE_ID = 0x1A
SUPPORTED_PAGE_SIZES = 0x1C
SYSTEM_PAGE_SIZE = 0x20
VF_BAR_0 = 0x24

CONTROL_VF_ENABLE = 0x01
CONTROL_VF_MSE = 0x08
CONTROL_ARI = 0x10
SUPPORTED_PAGE_SIZES_QEMU = 0x553      # 4K, 8K, 64K, 256K, 1M, 4M: QEMU's value
FIRST_OFFSET = 1                       # QEMU's NVME_VF_OFFSET and NVME_VF_STRIDE
STRIDE = 1
MAX_TOTAL_VFS = 7                      # bus 0, no ARI: functions 1..7 of the PF's device
EXTENDED_CONFIG_SIZE = 0x1000


class SriovCapability:
    """The capability's registers inside `pf.config` and the VFs they enable."""

    def __init__(self, pf, total_vfs, vf_device_id, vf_bar0_size):
        if not 1 <= total_vfs <= MAX_TOTAL_VFS:
            raise ValueError(f"sriov_max_vfs {total_vfs} is not 1..{MAX_TOTAL_VFS} "
                             f"(VFs live in functions 1..{MAX_TOTAL_VFS} of the PF's device)")
        if len(pf.config) < EXTENDED_CONFIG_SIZE:
            raise ValueError(f"{pf.name}: SR-IOV needs a 4 KiB configuration space")
        self.pf = pf
        self.vf_bar0_size = vf_bar0_size
        self.vfs = []
        base = CAP_OFFSET
        pf._set(base, 4, ID_SRIOV | SRIOV_VERSION << 16)
        pf._set(base + INITIAL_VFS, 2, total_vfs)
        pf._set(base + TOTAL_VFS, 2, total_vfs)
        pf._set(base + FIRST_VF_OFFSET, 2, FIRST_OFFSET)
        pf._set(base + VF_STRIDE, 2, STRIDE)
        pf._set(base + VF_DEVICE_ID, 2, vf_device_id)
        pf._set(base + SUPPORTED_PAGE_SIZES, 4, SUPPORTED_PAGE_SIZES_QEMU)
        pf._set(base + SYSTEM_PAGE_SIZE, 4, 1)
        pf._set(base + VF_BAR_0, 8, 0x4)                      # 64-bit memory
        pf.wmask[base:base + CAP_SIZE] = bytes(CAP_SIZE)
        pf._set_mask(pf.wmask, base + CONTROL, 2, CONTROL_VF_ENABLE | CONTROL_VF_MSE | CONTROL_ARI)
        pf._set_mask(pf.wmask, base + NUM_VFS, 2, 0xFFFF)
        pf._set_mask(pf.wmask, base + SYSTEM_PAGE_SIZE, 4, SUPPORTED_PAGE_SIZES_QEMU)
        pf._set_mask(pf.wmask, base + VF_BAR_0, 8, ~(vf_bar0_size - 1) & ((1 << 64) - 1))
        # Past the capability, extended space reads 0 and ignores writes.
        pf.wmask[base + CAP_SIZE:] = bytes(len(pf.config) - base - CAP_SIZE)
        pf.config[HEADER_TYPE] |= HEADER_TYPE_MULTI_FUNCTION

    def _reg(self, offset, size):
        return self.pf._get(CAP_OFFSET + offset, size)

    @property
    def total_vfs(self):
        return self._reg(TOTAL_VFS, 2)

    @property
    def num_vfs(self):
        return self._reg(NUM_VFS, 2)

    @property
    def control(self):
        return self._reg(CONTROL, 2)

    @property
    def enabled(self):
        return bool(self.control & CONTROL_VF_ENABLE)

    @property
    def vf_device_id(self):
        return self._reg(VF_DEVICE_ID, 2)

    def vf_offset(self, index):
        """Routing-ID distance from the PF to VF `index`."""
        return self._reg(FIRST_VF_OFFSET, 2) + index * self._reg(VF_STRIDE, 2)

    def vf_bar_address(self, index, size):
        """Where VF `index`'s BAR0 decodes, or None (VF Enable or VF MSE clear,
        or a window that wraps)."""
        if self.control & (CONTROL_VF_ENABLE | CONTROL_VF_MSE) != CONTROL_VF_ENABLE | CONTROL_VF_MSE:
            return None
        base = self._reg(VF_BAR_0, 8) & ~(size - 1) & ((1 << 64) - 1)
        address = base + index * size
        return address if address + size <= 1 << 64 else None

    def before_write(self, offset, size):
        """NumVFs before a write at config offset `offset` that touches the
        capability (after_write may have to put it back), else None."""
        if not (offset < CAP_OFFSET + CAP_SIZE and offset + size > CAP_OFFSET):
            return None
        return self._reg(NUM_VFS, 2)

    def after_write(self, old_num_vfs, was_enabled):
        """Apply a write that touched the capability."""
        pf = self.pf
        if was_enabled or self.num_vfs > self.total_vfs:
            pf._set(CAP_OFFSET + NUM_VFS, 2, old_num_vfs)
        if self.enabled and not was_enabled:
            self.vfs = [pf.create_vf(i) for i in range(self.num_vfs)]
            pf.vfs_changed()
        elif was_enabled and not self.enabled:
            removed, self.vfs = self.vfs, []
            for vf in removed:
                vf.close()
            pf.vfs_changed()
        for vf in self.vfs:
            vf.update_mappings()


class PhysicalFunction:
    """Mixed into a PciFunction whose `sriov` is a SriovCapability (or None):
    configuration writes to the capability enable and remove VFs, a function
    reset clears VF Enable, and the bus the function sits on learns of its
    VFs. The function supplies `create_vf(index)`."""

    def config_write(self, offset, size, value):
        if self.sriov is None:
            return super().config_write(offset, size, value)
        old_num_vfs = self.sriov.before_write(offset, size)
        was_enabled = self.sriov.enabled
        super().config_write(offset, size, value)
        if old_num_vfs is not None:
            self.sriov.after_write(old_num_vfs, was_enabled)

    def disable_vfs_on_reset(self):
        """A function reset clears VF Enable: the VFs go away."""
        if self.sriov is not None:
            was_enabled = self.sriov.enabled
            self._set(CAP_OFFSET + CONTROL, 2, 0)
            self.sriov.after_write(self.sriov.num_vfs, was_enabled)

    def vfs_changed(self):
        """VFs came or went: the bus this PF sits on learns of them."""
        if self.host is not None:
            self.host.vfs_changed(self)


class VirtualFunction:
    """Mixed into a VF (a function of its own whose `pf` is its physical
    function and `index` its VF number): the configuration-space rules the
    specification gives every VF. Its BAR registers read 0 and are not
    writable, BAR0 decodes inside the PF's VF BAR0 window (so a reset keeps
    it there), and of the command register only Bus Master Enable and INTx
    Disable are writable. The VF calls `vf_config_rules()` once its own
    configuration space is built."""

    def vf_config_rules(self):
        self._clear_bar_registers()
        self._set_mask(self.wmask, COMMAND, 2, COMMAND_MASTER | COMMAND_INTX_DISABLE)

    def _clear_bar_registers(self):
        self.config[BAR_0:BAR_0 + 24] = bytes(24)
        self.wmask[BAR_0:BAR_0 + 24] = bytes(24)

    def bar_address(self, bar):
        return self.pf.sriov.vf_bar_address(self.index, bar.size)

    def reset(self):
        super().reset()
        self._clear_bar_registers()
