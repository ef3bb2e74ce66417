"""`pyvmm host` giving two VMs each a VF of one SR-IOV pyvmm-nic
(--device pyvmm-nic,...,sriov_max_vfs=2 and io=vf:ID.N or pci=ID.N, as for
NVMe): both run the unchanged driver against the echo netdev, each with
its VF's MAC and its own replies; bad input is one line, exit 2."""

import json
import os
import subprocess
import sys

from hv_support import needs_h

pytestmark = needs_h

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GUEST = os.path.join(ROOT, "guests", "pci", "nic_smode.S")
NIC = ["--netdev=echo,id=n0", "--device=pyvmm-nic,netdev=n0,queues=2,sriov_max_vfs=2,id=E0"]


def pyvmm_host(*argv):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "pyvmm", "host", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def lines_of(stdout, name):
    return [line.split("] ", 1)[1] for line in stdout.splitlines() if line.startswith(f"[{name}] ")]


def test_two_vms_each_on_a_vf_of_one_nic(tmp_path):
    stats = tmp_path / "stats.json"
    done = pyvmm_host(*NIC, f"--vm={GUEST},name=a,io=vf:E0.0", f"--vm={GUEST},name=b,pci=E0.1",
                      f"--stats-file={stats}")
    assert done.returncode == 0, done.stdout + done.stderr
    a, b = lines_of(done.stdout, "a"), lines_of(done.stdout, "b")
    assert a[3] == "mac 52:54:00:12:34:57" and b[3] == "mac 52:54:00:12:34:58"
    for lines in (a, b):
        assert lines[0] == "nic at 00:01.0 class 020000 pin 0x01"
        assert [line.split(" fnv ")[0] for line in lines[5:9]] == [
            "rx ring 0x0 frames 0x10 bytes 0x0b80", "rx ring 0x1 frames 0x10 bytes 0x0e00",
            "bulk ring 0x0 frames 0x30 bytes 0x00011be0", "bulk ring 0x1 frames 0x30 bytes 0x00011be0"]
        assert lines[-1] == "done"
    # The replies carry each VF's own MAC, so their checksums differ.
    assert a[5] != b[5]
    vms = json.loads(stats.read_text())["vms"]
    assert (vms["a"]["io"]["model"], vms["a"]["io"]["device"]) == ("vf", "E0.0")
    assert (vms["b"]["io"]["model"], vms["b"]["io"]["device"]) == ("vf", "E0.1")
    assert vms["a"]["io"]["device_accesses"] > 100
    # The same run again prints the same.
    assert pyvmm_host(*NIC, f"--vm={GUEST},name=a,io=vf:E0.0",
                      f"--vm={GUEST},name=b,pci=E0.1").stdout == done.stdout


def test_bad_input_one_line_exit_2():
    cases = (
        (NIC + [f"--vm={GUEST},io=vf:E0.2"], "pyvmm-nic (0x0008) has no VF 2: 2 VFs enabled (NumVFs)"),
        (NIC + [f"--vm={GUEST},name=a,io=vf:E0.1", f"--vm={GUEST},name=b,io=vf:E0.1"],
         "io=vf:E0.1: one device for two VMs (a and b)"),
        (NIC + [f"--vm={GUEST},name=a,io=vf:E0.0", f"--vm={GUEST},name=b,pci=E0"], "has its VFs enabled"),
        (["--netdev=echo,id=n0", "--device=pyvmm-nic,netdev=n0,sriov_max_vfs=9,id=E0",
          f"--vm={GUEST},io=vf:E0.0"], "--device pyvmm-nic: sriov_max_vfs='9' is not 0..7"),
        (["--netdev=echo,id=n0", "--device=pyvmm-nic,netdev=n0,id=E0", f"--vm={GUEST},io=vf:E0.0"],
         "pyvmm-nic (0x0008) has no SR-IOV capability"),
    )
    for argv, message in cases:
        refused = pyvmm_host(*argv)
        assert refused.returncode == 2, (argv, refused.stderr)
        assert refused.stderr.count("\n") == 1 and message in refused.stderr, (message, refused.stderr)
        assert refused.stdout == ""
