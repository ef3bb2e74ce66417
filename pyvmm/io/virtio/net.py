"""virtio-net (virtio 1.2 section 5.1): an Ethernet NIC whose frames go to
a netdev (pyvmm.io.net).

Queues are receiveq0, transmitq0, ..., receiveqN-1, transmitqN-1 and the
control queue. Every frame in either direction is preceded in guest memory
by a virtio_net_hdr: 12 bytes (with `num_buffers`) once VERSION_1 or
MRG_RXBUF is negotiated, 10 bytes for a legacy driver without MRG_RXBUF.
pyvmm offers no checksum or segmentation offload, so a transmitted header
carries nothing the device must act on and a received one is zero apart
from `num_buffers`.

Reception runs in `poll` (between slices), when the driver kicks a receive
queue and after a transmit that a peer in this process answered: a frame waits in the netdev's bounded queue until the queue
has room for it. Without MRG_RXBUF a frame must fit one chain (one that
does not is dropped and counted, and the chain is kept for the next frame,
as QEMU does); with it a frame spreads over as many chains as it needs.
Several queue pairs (VIRTIO_NET_F_MQ) come with the control queue; a
received IP frame goes to the receive queue its flow hashes to among the
pairs the driver enabled, anything else to receiveq0, so one flow stays in
order on one queue. Transmit queues all feed the one netdev.
"""

import zlib

from pyvmm.io.net.netdev import MAX_FRAME_LEN
from pyvmm.io.virtio.device import ID_NET, VIRTIO_F_VERSION_1, VirtioDevice
from pyvmm.io.virtio.queue import Chain

# Feature bits (section 5.1.3).
VIRTIO_NET_F_MAC = 1 << 5
VIRTIO_NET_F_MRG_RXBUF = 1 << 15
VIRTIO_NET_F_STATUS = 1 << 16
VIRTIO_NET_F_CTRL_VQ = 1 << 17
VIRTIO_NET_F_MQ = 1 << 22

VIRTIO_NET_S_LINK_UP = 1

# Control queue (section 5.1.6.5).
VIRTIO_NET_OK = 0
VIRTIO_NET_ERR = 1
VIRTIO_NET_CTRL_MQ = 4
VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0
VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX = 0x8000

HDR_LEN = 12                # virtio_net_hdr_v1, and the mergeable legacy header
LEGACY_HDR_LEN = 10         # virtio_net_hdr without num_buffers
NUM_BUFFERS_OFFSET = 10

DEFAULT_MAC = "52:54:00:12:34:56"   # QEMU's first NIC
QUEUE_SIZE = 256

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
IPPROTO_TCP = 6
IPPROTO_UDP = 17


class MacError(ValueError):
    """A MAC address option that is not six hex octets or is multicast."""


def parse_mac(text):
    """'52:54:00:12:34:56' -> 6 bytes; a multicast address cannot be a NIC's."""
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p)
                                  for p in parts):
        raise MacError(f"mac={text!r} is not six hex octets such as {DEFAULT_MAC}")
    mac = bytes(int(p, 16) for p in parts)
    if mac[0] & 1:
        raise MacError(f"mac={text!r} is a multicast address")
    return mac


def format_mac(mac):
    return ":".join(f"{b:02x}" for b in mac)


def flow_key(frame):
    """The bytes naming a frame's flow (IP addresses and, for TCP and UDP,
    ports), or None for a frame that is not IP."""
    if len(frame) < 14:
        return None
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == ETHERTYPE_IPV4 and len(frame) >= 34:
        ihl = (frame[14] & 0xF) * 4
        proto = frame[23]
        key = bytes(frame[26:34]) + bytes([proto])
        ports = 14 + ihl
        if proto in (IPPROTO_TCP, IPPROTO_UDP) and ihl >= 20 and len(frame) >= ports + 4:
            key += bytes(frame[ports:ports + 4])
        return key
    if ethertype == ETHERTYPE_IPV6 and len(frame) >= 54:
        proto = frame[20]
        key = bytes(frame[22:54]) + bytes([proto])
        if proto in (IPPROTO_TCP, IPPROTO_UDP) and len(frame) >= 58:
            key += bytes(frame[54:58])
        return key
    return None


class VirtioNet(VirtioDevice):
    device_id = ID_NET
    name = "virtio-net"
    queue_num_max = QUEUE_SIZE

    def __init__(self, netdev, mac=DEFAULT_MAC, queue_pairs=1):
        if not 1 <= queue_pairs <= VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX:
            raise ValueError(f"virtio-net: {queue_pairs} queue pairs is outside "
                             f"1..{VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX}")
        self.netdev = netdev
        self.mac = parse_mac(mac) if isinstance(mac, str) else bytes(mac)
        self.initial_mac = self.mac
        self.max_queue_pairs = queue_pairs
        self.num_queues = 2 * queue_pairs + 1
        self.ctrl_index = 2 * queue_pairs
        self.features = (VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF
                         | VIRTIO_NET_F_CTRL_VQ | (VIRTIO_NET_F_MQ if queue_pairs > 1 else 0))
        super().__init__()
        self.link_up = netdev.link_up
        self.curr_queue_pairs = 1
        # Chains popped from a receive queue but not yet filled, as (head,
        # buffers): a frame that did not fit, or the first chains of a
        # mergeable frame still waiting for the rest.
        self.held = [[] for _ in range(queue_pairs)]
        self.net = self._fresh_counters()

    def _fresh_counters(self):
        # Per queue pair as well as in total, as pyvmm-nic counts its rings:
        # which pair carried a flow is what multiqueue steering is about.
        per_pair = (f"q{pair}_{way}_{unit}" for pair in range(self.max_queue_pairs)
                    for way in ("tx", "rx") for unit in ("frames", "bytes"))
        return dict.fromkeys(("tx_frames", "tx_bytes", "rx_frames", "rx_bytes",
                              "rx_too_big", "tx_too_big", "ctrl_commands", "ctrl_errors",
                              *per_pair), 0)

    # -- negotiated layout ---------------------------------------------------

    @property
    def hdr_len(self):
        if self.negotiated(VIRTIO_F_VERSION_1) or self.negotiated(VIRTIO_NET_F_MRG_RXBUF):
            return HDR_LEN
        return LEGACY_HDR_LEN

    @property
    def mergeable(self):
        return self.negotiated(VIRTIO_NET_F_MRG_RXBUF)

    def reset_device(self):
        self.curr_queue_pairs = 1
        self.held = [[] for _ in range(self.max_queue_pairs)]
        self.mac = self.initial_mac

    # -- configuration space (struct virtio_net_config) ----------------------

    def config_bytes(self):
        status = VIRTIO_NET_S_LINK_UP if self.link_up else 0
        data = self.mac + status.to_bytes(2, "little")
        if self.device_features & VIRTIO_NET_F_MQ:
            data += self.max_queue_pairs.to_bytes(2, "little")
        return data

    def config_write(self, offset, size, value):
        """A legacy driver sets its MAC by writing `mac` (no VERSION_1, no
        control command for it), as QEMU allows; every other field is read-only."""
        if self.negotiated(VIRTIO_F_VERSION_1):
            return
        mac = bytearray(self.mac)
        for i, byte in enumerate(value.to_bytes(size, "little")):
            if 0 <= offset + i < 6:
                mac[offset + i] = byte
        self.mac = bytes(mac)

    # -- queues --------------------------------------------------------------

    def process_queue(self, index):
        if index == self.ctrl_index:
            self._serve_ctrl()
        elif index % 2:
            self._serve_tx(index)
        else:
            self._serve_rx()

    def _serve_tx(self, index):
        hdr_len = self.hdr_len
        pushed = False
        while (chain := self.pop(index)) is not None:
            if chain.readable_len < hdr_len:
                self.device_error(f"{self.name}: transmit chain of {chain.readable_len} bytes "
                                  f"is shorter than the {hdr_len}-byte header")
                return
            if chain.readable_len - hdr_len > MAX_FRAME_LEN:
                # No netdev carries it; not even copied out of guest RAM.
                self.net["tx_too_big"] += 1
            else:
                frame = chain.read(hdr_len)
                if self.netdev.send(frame):
                    self.net["tx_frames"] += 1
                    self.net["tx_bytes"] += len(frame)
                    self.net[f"q{index // 2}_tx_frames"] += 1
                    self.net[f"q{index // 2}_tx_bytes"] += len(frame)
            self.push(index, chain, 0)
            pushed = True
        if pushed:
            self.signal(index)
        # A peer in this process may have answered already (a hub, the echo
        # netdev): receive now, as pyvmm-nic does after its doorbell.
        if self.netdev.peek() is not None:
            self._serve_rx()

    def _rx_queue_for(self, frame):
        if self.curr_queue_pairs == 1:
            return 0
        key = flow_key(frame)
        return 0 if key is None else zlib.crc32(key) % self.curr_queue_pairs

    def _serve_rx(self):
        """Deliver queued frames while their receive queues have room (a kick
        on any receive queue serves them all); a frame that finds no room
        waits, and so does every frame behind it, keeping the netdev's order."""
        netdev = self.netdev
        touched = set()
        while (frame := netdev.peek()) is not None:
            target = self._rx_queue_for(frame)
            outcome = self._receive(target, frame)
            if outcome is None:
                break
            netdev.pop()
            if outcome:
                touched.add(target)
        for target in sorted(touched):
            self.signal(2 * target)

    def _rx_ready(self, pair):
        queue = self.queues[2 * pair]
        return self.live and queue.ready

    def _next_rx_chain(self, pair, taken):
        """The `taken`-th chain for the frame being received (held chains
        first, then new ones from the ring), or None when the ring is dry."""
        held = self.held[pair]
        if taken < len(held):
            return held[taken]
        chain = self.pop(2 * pair)
        if chain is None:
            return None
        if not chain.writable_len:
            self.device_error(f"{self.name}: receive chain {chain.head} has no "
                              f"device-writable buffer")
            return None
        held.append((chain.head, chain.buffers))
        return held[-1]

    def _receive(self, pair, frame):
        """Put one frame into receive queue `pair`: True if delivered, False
        if dropped, None if it must wait for buffers."""
        if not self._rx_ready(pair):
            return None
        hdr_len = self.hdr_len
        total = hdr_len + len(frame)
        chains = []
        room = 0
        while room < total:
            entry = self._next_rx_chain(pair, len(chains))
            if entry is None:
                return None
            writable = sum(n for _, n, w in entry[1] if w)
            if not chains and writable < hdr_len and self.mergeable:
                self.device_error(f"{self.name}: first receive buffer of {writable} bytes "
                                  f"cannot hold the {hdr_len}-byte header")
                return None
            chains.append(entry)
            room += writable
            if not self.mergeable or len(chains) >= self.queues[2 * pair].num:
                break   # one chain without merging; never more than the ring holds
        if room < total:
            self.net["rx_too_big"] += 1
            return False
        header = bytearray(hdr_len)
        if hdr_len == HDR_LEN:
            header[NUM_BUFFERS_OFFSET:NUM_BUFFERS_OFFSET + 2] = len(chains).to_bytes(2, "little")
        data = bytes(header) + frame
        done = 0
        used = []
        for head, buffers in chains:
            chain = Chain(head, buffers, self.memory)
            done += chain.write(0, data[done:])
            used.append((chain, chain.written))
        del self.held[pair][:len(chains)]
        for chain, written in used:
            self.push(2 * pair, chain, written)
        self.net["rx_frames"] += 1
        self.net["rx_bytes"] += len(frame)
        self.net[f"q{pair}_rx_frames"] += 1
        self.net[f"q{pair}_rx_bytes"] += len(frame)
        return True

    def _serve_ctrl(self):
        index = self.ctrl_index
        pushed = False
        while (chain := self.pop(index)) is not None:
            if chain.readable_len < 2 or chain.writable_len < 1:
                self.device_error(f"{self.name}: control command without its class, "
                                  f"command or ack byte")
                return
            command = chain.read()
            ack = self._control(command[0], command[1], command[2:])
            self.net["ctrl_commands"] += 1
            if ack != VIRTIO_NET_OK:
                self.net["ctrl_errors"] += 1
            chain.write(0, bytes([ack]))
            self.push(index, chain, 1)
            pushed = True
        if pushed:
            self.signal(index)

    def _control(self, klass, command, data):
        if (klass == VIRTIO_NET_CTRL_MQ and command == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET
                and self.negotiated(VIRTIO_NET_F_MQ) and len(data) >= 2):
            pairs = int.from_bytes(data[0:2], "little")
            if 1 <= pairs <= self.max_queue_pairs:
                self.curr_queue_pairs = pairs
                return VIRTIO_NET_OK
        return VIRTIO_NET_ERR

    # -- machine hooks -------------------------------------------------------

    def poll(self):
        self.netdev.poll()
        if self.netdev.link_up != self.link_up:
            self.link_up = self.netdev.link_up
            if self.negotiated(VIRTIO_NET_F_STATUS):
                self.config_changed()
        if self.netdev.peek() is None:
            return
        for pair in range(self.curr_queue_pairs):
            if self.queues[2 * pair].ready:
                self._service(2 * pair)
                return

    def wait_handles(self):
        """The netdev, when it has a descriptor an idle machine can select on."""
        return [self.netdev] if self.netdev.fileno() >= 0 else []

    def close(self):
        self.netdev.close()

    def stats(self):
        return {**super().stats(), **self.net,
                **{f"netdev_{k}": v for k, v in self.netdev.stats().items()}}

    def device_state(self):
        return {"mac": self.mac.hex(), "curr_queue_pairs": self.curr_queue_pairs,
                "held": [[[head, [list(b) for b in buffers]] for head, buffers in queue]
                         for queue in self.held],
                "net": dict(self.net)}

    def restore_device(self, state):
        self.mac = bytes.fromhex(state["mac"])
        self.curr_queue_pairs = state["curr_queue_pairs"]
        self.held = [[(head, [tuple(b) for b in buffers]) for head, buffers in queue]
                     for queue in state["held"]]
        self.net = {**self._fresh_counters(), **state["net"]}
