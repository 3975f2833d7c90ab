"""The README's examples run as written and print what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _run(script: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def test_readme_client_example_runs() -> None:
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    script = next(b for b in blocks if "RealtimeClient(url=server.url)" in b)
    promised = re.search(r"It prints `(.*?)`", text)
    assert promised is not None
    assert _run(script) == promised.group(1)


def test_readme_testing_example_runs() -> None:
    text = README.read_text()
    found = re.search(
        r"```python\n((?:(?!```).)*testing\.tool_session(?:(?!```).)*)```"
        r"\s*It prints:\s*```text\n(.*?)```",
        text,
        re.DOTALL,
    )
    assert found is not None
    script, promised = found.groups()
    assert _run(script) == promised.strip()
