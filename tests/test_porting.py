"""docs/porting.md runs: every ```python block, in order, in one namespace (the snnTorch tutorial
network through LIF.snntorch with identical spikes and gradients, a Norse LIF box network, a
SpikingJelly multi-step network, Stateless, the refused mistakes)."""

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "porting.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)


def test_the_guide_has_one_example_per_peer():
    text = "\n".join(_blocks())
    for peer in ("import snntorch", "import norse", "from spikingjelly"):
        assert peer in text


def test_porting_guide_runs():
    for module in ("snntorch", "norse", "spikingjelly"):
        pytest.importorskip(module)
    namespace: dict = {}
    for k, block in enumerate(_blocks()):
        exec(compile(block, f"{GUIDE.name} (block {k + 1})", "exec"), namespace)  # noqa: S102
