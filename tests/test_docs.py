"""The Sphinx documentation in docs/ builds without a warning, and its code runs."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
# pages whose ``.. code-block:: python`` blocks form one script each (run in order)
SCRIPT_PAGES = ["index.rst", "tutorial.rst", "results.rst", "sensitivity.rst"]


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    # run outside the repository, so that the installed pyoptgra (with its engine) is documented
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d",
         str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WARNING" not in out.stderr, out.stderr
    for page in ["index", "tutorial", "results", "sensitivity", "migration", "api"]:
        assert (tmp_path / "html" / f"{page}.html").is_file()
    api = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    for name in ["pyoptgra.optgra.solve", "pyoptgra.Result", "pyoptgra.Status", "pyoptgra.ForcedStop",
                 "pyoptgra.IterationRecord", "pyoptgra.SensitivityState", "pyoptgra.SensitivityMatrices",
                 "pyoptgra.khan_function_sin"]:
        assert f'id="{name}"' in api, name
    assert 'id="pyoptgra._core' not in api  # the compiled bridge is private


def python_blocks(text):
    """The contents of the ``.. code-block:: python`` directives of an rst text, dedented."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: python\s*$", lines[i])
        i += 1
        if not match:
            continue
        indent = len(match.group(1))
        body = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        code = textwrap.dedent("\n".join(body))
        code = "\n".join(line for line in code.splitlines() if not re.match(r"^:\w[\w-]*:", line))
        blocks.append(code.strip("\n"))
    return blocks


def test_python_blocks_are_found():
    blocks = python_blocks(".. code-block:: python\n\n   x = 1\n\n   y = x\ntext\n\n  .. code-block:: python\n     :caption: c\n\n     z = 2\n")
    assert blocks == ["x = 1\n\ny = x", "z = 2"]


def test_code_of_the_pages_runs(tmp_path):
    """Each page's Python blocks run, in order, as one script (in a fresh process, outside the tree)."""
    scripts = {}
    for page in SCRIPT_PAGES:
        blocks = python_blocks((DOCS / page).read_text(encoding="utf-8"))
        assert blocks, page
        scripts[page] = "\n\n".join(blocks)
    driver = textwrap.dedent(
        """
        import contextlib, io, json, sys, traceback
        scripts = json.loads(sys.stdin.read())
        failures = []
        for page, code in scripts.items():
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(code, page, "exec"), {"__name__": "__main__"})
            except BaseException:
                failures.append(page + ":\\n" + traceback.format_exc())
        print("\\n".join(failures))
        sys.exit(1 if failures else 0)
        """
    )
    import json

    out = subprocess.run([sys.executable, "-c", driver], input=json.dumps(scripts), cwd=tmp_path,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
