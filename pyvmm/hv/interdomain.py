"""Grant tables and event channels between VMs, after Xen's: the hypercalls
through which one VM lends a page of its RAM to another and one VM signals
another, served as an SBI extension (docs/service-vm.md).

A VM *grants* one of its pages to one other VM (grant reference -> the
granting VM, the page's GPA, read-only or not). The grantee names the grant
by (granting domain id, reference) and either maps it into its own
guest-physical space at a GPA it chooses outside its RAM and devices (the
hypervisor writes the granter's host frame into the grantee's G-stage
table, so the grantee's loads and stores, and the DMA of a device assigned
to the grantee, which walks that same table, reach the frame), or copies
through it. A grant cannot be revoked while it is mapped; every check fails
with an SBI error code, so a VM reaches only its own RAM and the pages
granted to it.

An event channel joins a port of one VM to a port of another: one side
allocates an unbound port for a named remote domain, the remote binds to
it. `block` is Xen's SCHEDOP_block: it returns the pending ports at once
(and clears them), else the VCPU waits until a send wakes it and gets the
sender's port as the answer. A send to a VM that is not waiting sets the
peer port's pending bit and raises the peer's supervisor software interrupt
(hvip.VSSIP). Grants and mappings need nested paging.

The frontend/backend handshake (xenstore's role) is two calls: a frontend
publishes its ring's grant reference and event port to its backend; the
backend reads its connections.

A domain id is the VM's VMID.
"""

import collections

from pyvmm.hv.gstage import GPA_BITS, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W
from pyvmm.hv.host import HvError
from pyvmm.machine.layout import CLINT_BASE, CLINT_SIZE
from pyvmm.machine.sbi_defs import (SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_DENIED, SBI_ERR_FAILED,
                                    SBI_ERR_INVALID_ADDRESS, SBI_ERR_INVALID_PARAM,
                                    SBI_ERR_NOT_SUPPORTED, SBI_SUCCESS)

DOMAIN_EID = 0x0A475400            # "GT": in the SBI's firmware-specific range 0x0A000000..0x0AFFFFFF
PAGE_SIZE = 4096
MAX_GRANTS = 1024                  # grant references per VM
MAX_PORTS = 64                     # event ports per VM (block returns them as one mask)

# Function numbers (guests/split/interdomain.inc has the same).
DOMAIN_INFO, GRANT_ACCESS, GRANT_REVOKE, GRANT_MAP, GRANT_UNMAP, GRANT_COPY = 0, 1, 2, 3, 4, 5
EVTCHN_ALLOC_UNBOUND, EVTCHN_BIND, EVTCHN_SEND, EVTCHN_BLOCK = 6, 7, 8, 9
FRONTEND_CONNECT, BACKEND_CONNECTION = 10, 11

INFO_SELF, INFO_BACKEND = 0, 1
LEAF_RW = PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D    # no X: granted pages are data
LEAF_RO = PTE_V | PTE_R | PTE_U | PTE_A
COUNTERS = ("grants", "revokes", "maps", "unmaps", "copies", "copied_bytes", "notifications_sent",
            "notifications_received", "notifications_dropped", "blocks", "refused")
HVIP_VSSIP = 1 << 2
REG_A1 = 11


class Grant:
    __slots__ = ("granter", "grantee_domid", "gpa", "readonly", "mappings")

    def __init__(self, granter, grantee_domid, gpa, readonly):
        self.granter = granter
        self.grantee_domid = grantee_domid
        self.gpa = gpa
        self.readonly = readonly
        self.mappings = 0


class Port:
    __slots__ = ("remote_domid", "peer", "pending")

    def __init__(self, remote_domid):
        self.remote_domid = remote_domid
        self.peer = None              # (VM, port number) once bound
        self.pending = False


class Domain:
    """What the interdomain calls keep for one VM."""

    def __init__(self, vm):
        self.vm = vm
        self.grants = {}              # ref -> Grant (revoked refs are removed)
        self.next_ref = 1             # 0 stays invalid, as Xen reserves its first entries
        self.mapped = {}              # grantee GPA -> (granting Domain, ref)
        self.ports = {}               # port -> Port
        self.backend = None           # the service VM's Domain, for a frontend
        self.frontends = []           # [frontend Domain], for a service VM
        self.published = None         # (ring ref, event port) a frontend published
        self.connection_pending = False   # a backend's: a frontend published since its last block
        self.blocked = None           # the VCPU waiting in evtchn_block, if any
        self.counters = collections.Counter({name: 0 for name in COUNTERS})


class Interdomain:
    """The grant tables and event channels of a host's VMs. join(vm) gives a
    VM the hypercalls; only joined VMs can be named as peers."""

    def __init__(self, host, iommu=None):
        if host.interdomain is not None:
            raise HvError("this host already has its grant tables and event channels")
        host.interdomain = self
        self.host = host
        self.iommu = iommu            # pyvmm.hv.passthrough.HostIommu: IOTLB shootdown on unmap
        self.domains = {}             # domid -> Domain

    def join(self, vm):
        if vm.vmid in self.domains:
            raise HvError(f"{vm.name} already has the interdomain hypercalls")
        domain = Domain(vm)
        self.domains[vm.vmid] = domain
        for fid, call in CALLS.items():
            vm.hypercalls[(DOMAIN_EID, fid)] = self._handler(call)
        return domain

    def domain(self, vm):
        return self.domains[vm.vmid]

    def _handler(self, call):
        def handler(vcpu, args):
            domain = self.domains[vcpu.vm.vmid]
            result = call(self, domain, vcpu, args)
            if result is not None and result[0] != SBI_SUCCESS:
                domain.counters["refused"] += 1
            return result
        handler.__name__ = call.__name__
        handler.__doc__ = call.__doc__
        return handler

    def _peer(self, domid):
        domain = self.domains.get(domid)
        if domain is None or domain.vm not in self.host.vms:
            return None
        return domain

    def stats(self, vm):
        """The counters of one VM, plus its live grants, mappings and ports."""
        domain = self.domains[vm.vmid]
        out = dict(domain.counters)
        out.update(live_grants=len(domain.grants), live_mappings=len(domain.mapped),
                   ports=len(domain.ports))
        return out

    def release(self, vm):
        """Before `vm` is destroyed (Host.destroy_vm calls it): every mapping
        of its pages in other VMs is removed, its grants and ports go, so its
        frames reach no one once they are freed."""
        domain = self.domains.pop(vm.vmid, None)
        if domain is None:
            return
        for other in self.domains.values():
            for gpa, (granter, _) in list(other.mapped.items()):
                if granter is domain:
                    self._unmap(other, gpa)
            for port in other.ports.values():
                if port.peer is not None and port.peer[0] is vm:
                    port.peer = None
        for gpa in list(domain.mapped):
            self._unmap(domain, gpa)

    # -- grant mapping ------------------------------------------------------------------

    def _map_check(self, domain, gpa):
        vm = domain.vm
        if vm.gstage is None:
            return SBI_ERR_NOT_SUPPORTED
        if gpa % PAGE_SIZE or gpa >> GPA_BITS or gpa + PAGE_SIZE > 1 << GPA_BITS:
            return SBI_ERR_INVALID_ADDRESS
        if gpa < vm.ram_base + vm.ram_size and vm.ram_base < gpa + PAGE_SIZE:
            return SBI_ERR_INVALID_ADDRESS
        if any(r.base < gpa + PAGE_SIZE and gpa < r.base + r.size for r in vm.devices.regions):
            return SBI_ERR_INVALID_ADDRESS
        if CLINT_BASE < gpa + PAGE_SIZE and gpa < CLINT_BASE + CLINT_SIZE:
            return SBI_ERR_INVALID_ADDRESS      # the board's CLINT: not the VM's, but not RAM either
        if gpa in domain.mapped:
            return SBI_ERR_ALREADY_AVAILABLE
        return SBI_SUCCESS

    def _unmap(self, domain, gpa):
        granter, ref = domain.mapped.pop(gpa)
        domain.vm.gstage.unmap_page(gpa)
        grant = granter.grants.get(ref)
        if grant is not None:
            grant.mappings -= 1
        # Neither a hart nor the IOMMU may keep using the old translation.
        self.host.hfence_all()
        if self.iommu is not None:
            self.iommu.invalidate_gscid(domain.vm.vmid)


def _lookup(self, domain, domid, ref):
    """The grant (granter's domain, Grant) `ref` of domain `domid` to `domain`, or an error."""
    granter = self._peer(domid)
    if granter is None:
        return SBI_ERR_INVALID_PARAM, None
    grant = granter.grants.get(ref)
    if grant is None:
        return SBI_ERR_INVALID_PARAM, None
    if grant.grantee_domid != domain.vm.vmid:
        return SBI_ERR_DENIED, None
    return SBI_SUCCESS, (granter, grant)


# -- the calls: call(interdomain, caller's Domain, vcpu, args) -> (error, value) ---------

def domain_info(self, domain, vcpu, args):
    """0: the caller's domain id; 1: its backend's (a frontend's)."""
    if args[0] == INFO_SELF:
        return SBI_SUCCESS, domain.vm.vmid
    if args[0] == INFO_BACKEND:
        if domain.backend is None:
            return SBI_ERR_NOT_SUPPORTED, 0
        return SBI_SUCCESS, domain.backend.vm.vmid
    return SBI_ERR_INVALID_PARAM, 0


def grant_access(self, domain, vcpu, args):
    """Grant domain a0 the page at GPA a1 (a2 = 1: read-only) -> the reference."""
    domid, gpa, readonly = args[0], args[1], args[2]
    vm = domain.vm
    if readonly not in (0, 1):
        return SBI_ERR_INVALID_PARAM, 0
    if self._peer(domid) is None or domid == vm.vmid:
        return SBI_ERR_INVALID_PARAM, 0
    if gpa % PAGE_SIZE or not vm.in_ram(gpa, PAGE_SIZE):
        return SBI_ERR_INVALID_ADDRESS, 0
    if vm.pager is not None:
        # A shadow pager would not see another VM's stores into its page tables.
        return SBI_ERR_NOT_SUPPORTED, 0
    if len(domain.grants) >= MAX_GRANTS:
        return SBI_ERR_FAILED, 0
    ref = domain.next_ref
    domain.next_ref += 1
    domain.grants[ref] = Grant(domain, domid, gpa, bool(readonly))
    domain.counters["grants"] += 1
    return SBI_SUCCESS, ref


def grant_revoke(self, domain, vcpu, args):
    """End grant a0; refused (DENIED) while the grantee has it mapped."""
    grant = domain.grants.get(args[0])
    if grant is None:
        return SBI_ERR_INVALID_PARAM, 0
    if grant.mappings:
        return SBI_ERR_DENIED, 0
    del domain.grants[args[0]]
    domain.counters["revokes"] += 1
    return SBI_SUCCESS, 0


def grant_map(self, domain, vcpu, args):
    """Map grant a1 of domain a0 at the caller's GPA a2 (outside its RAM and devices)."""
    error, found = _lookup(self, domain, args[0], args[1])
    if error:
        return error, 0
    granter, grant = found
    gpa = args[2]
    error = self._map_check(domain, gpa)
    if error:
        return error, 0
    hpa = granter.vm.gpa_to_hpa(grant.gpa)
    domain.vm.gstage.map_page(gpa, hpa, LEAF_RO if grant.readonly else LEAF_RW)
    domain.mapped[gpa] = (granter, args[1])
    grant.mappings += 1
    domain.counters["maps"] += 1
    return SBI_SUCCESS, 0


def grant_unmap(self, domain, vcpu, args):
    """Unmap the grant the caller mapped at GPA a0."""
    if args[0] not in domain.mapped:
        return SBI_ERR_INVALID_ADDRESS, 0
    self._unmap(domain, args[0])
    domain.counters["unmaps"] += 1
    return SBI_SUCCESS, 0


def grant_copy(self, domain, vcpu, args):
    """Copy a4 bytes between offset a2 of grant a1 of domain a0 and the
    caller's RAM at a3; a5 = 0 from the grant, 1 into it."""
    error, found = _lookup(self, domain, args[0], args[1])
    if error:
        return error, 0
    granter, grant = found
    offset, local, length, into = args[2], args[3], args[4], args[5]
    if into not in (0, 1) or length == 0 or offset >= PAGE_SIZE or length > PAGE_SIZE - offset:
        return SBI_ERR_INVALID_PARAM, 0
    if into and grant.readonly:
        return SBI_ERR_DENIED, 0
    if not domain.vm.in_ram(local, length):
        return SBI_ERR_INVALID_ADDRESS, 0
    if into:
        granter.vm.write(grant.gpa + offset, domain.vm.read(local, length))
    else:
        domain.vm.write(local, granter.vm.read(grant.gpa + offset, length))
    domain.counters["copies"] += 1
    domain.counters["copied_bytes"] += length
    return SBI_SUCCESS, length


def _new_port(domain):
    for port in range(1, MAX_PORTS):
        if port not in domain.ports:
            return port
    return None


def evtchn_alloc_unbound(self, domain, vcpu, args):
    """A new port that domain a0 may bind to -> its number."""
    if self._peer(args[0]) is None or args[0] == domain.vm.vmid:
        return SBI_ERR_INVALID_PARAM, 0
    port = _new_port(domain)
    if port is None:
        return SBI_ERR_FAILED, 0
    domain.ports[port] = Port(args[0])
    return SBI_SUCCESS, port


def evtchn_bind(self, domain, vcpu, args):
    """Bind to unbound port a1 of domain a0 (allocated for the caller) -> the local port."""
    remote = self._peer(args[0])
    if remote is None or remote is domain:
        return SBI_ERR_INVALID_PARAM, 0
    theirs = remote.ports.get(args[1])
    if theirs is None or theirs.peer is not None:
        return SBI_ERR_INVALID_PARAM, 0
    if theirs.remote_domid != domain.vm.vmid:
        return SBI_ERR_DENIED, 0
    port = _new_port(domain)
    if port is None:
        return SBI_ERR_FAILED, 0
    mine = Port(args[0])
    mine.peer = (remote.vm, args[1])
    theirs.peer = (domain.vm, port)
    domain.ports[port] = mine
    return SBI_SUCCESS, port


def _signal(target, bit):
    """Event `bit` for `target`: the answer of the evtchn_block it waits in
    (so it need not call again to learn it), else pending with the software
    interrupt raised."""
    blocked = target.blocked
    target.blocked = None
    if blocked is not None and (blocked.waiting_for_interrupt
                                or getattr(blocked, "blocked_until", None) is not None):
        blocked.set_x(REG_A1, 1 << bit)
        target.vm.wake(blocked)
        return
    if bit:
        target.ports[bit].pending = True
    else:
        target.connection_pending = True
    boot = target.vm.vcpu(target.vm.hartid)
    boot.set_software_interrupt(True)
    target.vm.wake(boot)


def _raise_event(self, target, port_number):
    target.counters["notifications_received"] += 1
    _signal(target, port_number)


def evtchn_send(self, domain, vcpu, args):
    """Signal the peer of port a0. On a port nobody has bound yet the
    notification is dropped, as Xen does: a backend looks at the ring once
    it has bound, so nothing sent before is lost."""
    port = domain.ports.get(args[0])
    if port is None:
        return SBI_ERR_INVALID_PARAM, 0
    if port.peer is None:
        domain.counters["notifications_dropped"] += 1
        return SBI_SUCCESS, 0
    peer_vm, peer_port = port.peer
    target = self.domains.get(peer_vm.vmid)
    if target is None or peer_vm.stopped:
        return SBI_ERR_FAILED, 0
    domain.counters["notifications_sent"] += 1
    _raise_event(self, target, peer_port)
    return SBI_SUCCESS, 0


def evtchn_block(self, domain, vcpu, args):
    """The pending ports as a mask (bit 0: a frontend connected), cleared
    with the software interrupt; with none pending, the VCPU waits until a
    peer sends, and the call returns the event that woke it -- or, when the
    VCPU has its timer armed and enabled, until that deadline at the latest
    (as Xen's SCHEDOP_block ends at the VCPU's timer), and returns 0.
    FAILED when no running VM could ever send (the caller would wait for
    ever)."""
    mask = 0
    for number, port in domain.ports.items():
        if port.pending:
            mask |= 1 << number
            port.pending = False
    if domain.connection_pending:
        mask |= 1                     # bit 0: a frontend published a connection
        domain.connection_pending = False
    if mask:
        vcpu.set_software_interrupt(False)
        return SBI_SUCCESS, mask
    peers = [port.peer[0] for port in domain.ports.values() if port.peer is not None]
    peers += [self.domains[port.remote_domid].vm for port in domain.ports.values()
              if port.peer is None and port.remote_domid in self.domains]
    peers += [frontend.vm for frontend in domain.frontends]
    if not any(not vm.stopped for vm in peers):
        return SBI_ERR_FAILED, 0
    domain.counters["blocks"] += 1
    vcpu.set_software_interrupt(False)
    timer = getattr(vcpu, "timer_deadline", None)
    deadline = timer() if timer is not None else None
    if deadline is not None:
        vcpu.wait_until(deadline)
    else:
        vcpu.waiting_for_interrupt = True
    domain.blocked = vcpu
    return SBI_SUCCESS, 0           # a1 becomes the events that wake it


def frontend_connect(self, domain, vcpu, args):
    """A frontend publishes its ring's grant reference a0 and its event port
    a1 to its backend, which is woken."""
    backend = domain.backend
    if backend is None:
        return SBI_ERR_NOT_SUPPORTED, 0
    grant = domain.grants.get(args[0])
    port = domain.ports.get(args[1])
    if grant is None or grant.grantee_domid != backend.vm.vmid or grant.readonly:
        return SBI_ERR_INVALID_PARAM, 0
    if port is None or port.remote_domid != backend.vm.vmid:
        return SBI_ERR_INVALID_PARAM, 0
    if domain.published is not None:
        return SBI_ERR_ALREADY_AVAILABLE, 0
    domain.published = (args[0], args[1])
    _signal(backend, 0)
    return SBI_SUCCESS, 0


def backend_connection(self, domain, vcpu, args):
    """Frontend a0 of a service VM: writes (domain id, ring ref, event port),
    three doublewords, at the caller's GPA a1 -> 1, or 0 when that frontend
    has not published yet."""
    index, gpa = args[0], args[1]
    if index >= len(domain.frontends):
        return SBI_ERR_INVALID_PARAM, 0
    if gpa % 8 or not domain.vm.in_ram(gpa, 24):
        return SBI_ERR_INVALID_ADDRESS, 0
    frontend = domain.frontends[index]
    if frontend.published is None:
        return SBI_SUCCESS, 0
    ring_ref, port = frontend.published
    words = (frontend.vm.vmid, ring_ref, port)
    domain.vm.write(gpa, b"".join(w.to_bytes(8, "little") for w in words))
    return SBI_SUCCESS, 1


CALLS = {
    DOMAIN_INFO: domain_info,
    GRANT_ACCESS: grant_access,
    GRANT_REVOKE: grant_revoke,
    GRANT_MAP: grant_map,
    GRANT_UNMAP: grant_unmap,
    GRANT_COPY: grant_copy,
    EVTCHN_ALLOC_UNBOUND: evtchn_alloc_unbound,
    EVTCHN_BIND: evtchn_bind,
    EVTCHN_SEND: evtchn_send,
    EVTCHN_BLOCK: evtchn_block,
    FRONTEND_CONNECT: frontend_connect,
    BACKEND_CONNECTION: backend_connection,
}
