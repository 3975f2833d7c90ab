"""examples.ipynb runs top to bottom headless, with no key, on the embedded local server, with
or without matplotlib and Pillow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _outputs(notebook: nbformat.NotebookNode) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise AssertionError(f"cell failed: {output['ename']}: {output['evalue']}")
            texts.append(output.get("text", ""))
            texts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def _execute(tmp_path: Path, **environment: str) -> str:
    """The text examples.ipynb printed, run headless with no key and ``environment`` added."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "REALTIME_WIDGET_URL")
    }
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env.update(environment)
    executed = tmp_path / "executed.ipynb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            str(ROOT / "examples.ipynb"),
            "--output",
            str(executed),
            "--ExecutePreprocessor.timeout=120",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return _outputs(nbformat.read(executed, as_version=4))


def test_examples_notebook_runs_headless(tmp_path: Path) -> None:
    text = _execute(tmp_path)
    assert "talking to ws://127.0.0.1:" in text
    assert "'connected'" in text
    assert "calculate returned 14." in text
    assert "We are open from nine to five, Monday to Friday." in text
    assert "I see an image of" in text
    assert "function_call_output" in text
    assert "IPython.lib.display.Audio" in text
    assert "matplotlib is not installed" not in text


def test_examples_notebook_runs_without_matplotlib_or_pillow(tmp_path: Path) -> None:
    """The runtime dependencies are enough: the image cell draws its chart as pixels."""
    hidden = tmp_path / "hidden"
    for name in ("matplotlib", "PIL"):
        (hidden / name).mkdir(parents=True)
        (hidden / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    text = _execute(tmp_path, PYTHONPATH=str(hidden))
    assert "matplotlib is not installed: sending the chart drawn as an array of pixels" in text
    assert "I see an image of" in text
    assert "calculate returned 14." in text
