"""The README and the docs: the guide's examples run as written and print what it says, the
README tells a newcomer how to install and where to read on, every link between them leads to
a file, the module map lists the package's modules, and the protocol support section of
docs/protocol.md is what tools/protocol_support.py computes."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "guide.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _run(script: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def test_readme_client_example_runs() -> None:
    text = GUIDE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    script = next(b for b in blocks if "RealtimeClient(url=server.url)" in b)
    promised = re.search(r"It prints `(.*?)`", text)
    assert promised is not None
    assert _run(script) == promised.group(1)


def test_readme_testing_example_runs() -> None:
    text = GUIDE.read_text()
    found = re.search(
        r"```python\n((?:(?!```).)*testing\.tool_session(?:(?!```).)*)```"
        r"\s*It prints:\s*```text\n(.*?)```",
        text,
        re.DOTALL,
    )
    assert found is not None
    script, promised = found.groups()
    assert _run(script) == promised.strip()


def test_the_readme_is_the_short_package_description() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["readme"] == "README.md"
    assert project["requires-python"] == ">=3.11"
    text = README.read_text()
    assert len(text) < 6_000, "the README stays short: details go to docs/"
    assert "pip install realtime_widget\n" in text and "Python 3.11 or later" in text
    assert "python -m realtime_widget examples" in text
    # make is for a checkout, not how a package is installed
    install = text.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "make" not in install
    for doc in ("guide", "protocol", "architecture", "performance"):
        assert f"(docs/{doc}.md)" in text


def _anchors(doc: Path) -> set[str]:
    """The anchors of ``doc``'s headings, as GitHub makes them."""
    headings = re.findall(r"^#+ (.*)$", doc.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = doc.parent / path if path else doc
            if not linked.exists() or (anchor and anchor not in _anchors(linked)):
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_module_map_lists_the_packages_modules() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "module_map.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_protocol_support_section_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "protocol_support.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    unused = _run(
        f"import sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); "
        "import protocol_support as p; print(p.unused_notes())"
    )
    assert unused == "[]", f"notes no row reads (stale): {unused}"
