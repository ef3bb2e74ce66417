"""--netdev options reaching the network back-ends: what is built, and the
one-line errors for what cannot be."""

import pytest

from pyvmm.io.net import HubPort, NetdevError, SocketNetdev, build_netdev
from pyvmm.io.options import NetdevSpec, OptionError, build_devices
from pyvmm.io.virtio.net import VirtioNet


def test_hub_option_builds_ports_of_one_hub():
    a = build_netdev("hub,id=opt-hub")
    b = build_netdev(NetdevSpec("hub", "opt-hub"))
    try:
        assert isinstance(a, HubPort) and a.hub is b.hub
    finally:
        a.close()
        b.close()


def test_socket_options_build_a_connected_pair():
    listener = build_netdev("socket,id=l,listen=127.0.0.1:0")
    try:
        connector = build_netdev(f"socket,id=c,connect=127.0.0.1:{listener.address[1]}")
        assert isinstance(connector, SocketNetdev) and connector.link_up
        connector.close()
    finally:
        listener.close()


@pytest.mark.parametrize("text", [
    "hub", "hub,id=", "socket,id=s", "socket,id=s,listen=0.0.0.0:1234",
    "socket,id=s,connect=8.8.8.8:53", "socket,id=s,listen=127.0.0.1:1,connect=127.0.0.1:2",
    "tap,id=t", "hub,id=h,speed=10",
])
def test_bad_netdev_options_are_one_line_option_errors(text):
    with pytest.raises(OptionError) as error:
        build_netdev(text)
    assert "\n" not in str(error.value)


def test_netdev_error_is_an_option_error():
    assert issubclass(NetdevError, OptionError) and issubclass(NetdevError, ValueError)


def test_spec_with_unsupported_kind_is_refused():
    with pytest.raises(NetdevError):
        build_netdev(NetdevSpec("user", "u"))


def test_device_builder_makes_virtio_net_with_its_mac():
    built = build_devices([], ["virtio-net-device,netdev=n0,mac=02:00:00:00:00:09"],
                          ["hub,id=n0"])
    try:
        (device, transport, slot), = built
        assert isinstance(device, VirtioNet)
        assert device.mac == bytes.fromhex("020000000009")
        assert device.netdev.hub.id == "n0"
    finally:
        for device, _, _ in built:
            device.close()


def test_bad_mac_is_an_option_error_and_releases_the_netdev():
    from pyvmm.io.net import find_hub
    with pytest.raises(OptionError, match="mac"):
        build_devices([], ["virtio-net-device,netdev=n0,mac=01:00:00:00:00:01"],
                      ["hub,id=n0"])
    assert find_hub("n0") is None
