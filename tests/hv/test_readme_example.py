"""README's "A policy of your own" runs as written: a KVM_RUN loop over the kernel in a VM."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_policy_example():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("### A policy of your own"):]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_policy_example_runs_the_kernel(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace = {}
    exec(compile(readme_policy_example(), "README.md", "exec"), namespace)
    vm = namespace["vm"]
    out = capsys.readouterr().out
    assert "kernel: shutdown" in out
    assert vm.result.status == 0
    assert vm.hypercalls[(0x0A000000, 0)](None, (2, 3, 0, 0, 0, 0)) == (0, 5)
    vm.devices.write(0x0400_0000, 8, 7)         # the attached device answers on the VM's bus
    vm.devices.write(0x0400_0000, 8, 5)
    assert vm.devices.read(0x0400_0000, 8) == 12
