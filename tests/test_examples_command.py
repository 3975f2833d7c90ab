"""The example notebook reaches an installed package: the wheel carries examples.ipynb, and
``python -m realtime_widget examples`` copies it out, keeping a file already there unless told.

The wheel is built from this checkout (``pip wheel``, with the build backend of the
environment: no download) and installed into a folder of its own, whose package is then the
one the command runs from."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples.ipynb"
IN_WHEEL = "realtime_widget/notebooks/examples.ipynb"


def command(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime_widget", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="the build backend (the dev extra brings it)")
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run(
        [*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "--wheel-dir", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("realtime_widget-*.whl")
    return built


def test_the_wheel_carries_the_notebook_and_the_short_readme(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(IN_WHEEL) == NOTEBOOK.read_bytes()
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        description = email.message_from_bytes(archive.read(metadata)).get_payload()
    assert isinstance(description, str)
    assert description.strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
    assert "pip install realtime_widget" in description


def test_the_installed_package_copies_its_own_notebook_out(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    env = {"PYTHONPATH": str(site), "PATH": "", "HOME": str(tmp_path)}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "from realtime_widget.examples import examples_notebook as e\nprint(e())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    assert Path(where.stdout.strip()) == site / IN_WHEEL
    done = command("examples", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {tmp_path / 'examples.ipynb'}\n"
    assert (tmp_path / "examples.ipynb").read_bytes() == NOTEBOOK.read_bytes()


def test_the_notebook_is_copied_into_a_folder_or_to_a_named_file(tmp_path: Path) -> None:
    done = command("examples", "notebooks/new", cwd=tmp_path)
    written = tmp_path / "notebooks" / "new" / "examples.ipynb"
    assert (done.returncode, done.stdout, done.stderr) == (0, f"wrote {written}\n", "")
    assert written.read_bytes() == NOTEBOOK.read_bytes()
    done = command("examples", str(tmp_path / "mine.ipynb"), cwd=ROOT)
    assert done.stdout == f"wrote {tmp_path / 'mine.ipynb'}\n"
    assert (tmp_path / "mine.ipynb").read_bytes() == NOTEBOOK.read_bytes()


def test_a_file_already_there_is_kept_unless_forced(tmp_path: Path) -> None:
    mine = tmp_path / "examples.ipynb"
    mine.write_text("my own notes")
    refused = command("examples", cwd=tmp_path)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == f"error: {mine} exists: pass --force to overwrite it\n"
    assert mine.read_text() == "my own notes"
    forced = command("examples", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and mine.read_bytes() == NOTEBOOK.read_bytes()


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    done = command(cwd=tmp_path)
    assert done.returncode == 2 and "COMMAND" in done.stderr
