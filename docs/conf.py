"""Sphinx configuration of the pyoptgra documentation.

Build with ``python -m sphinx -W --keep-going -b html docs <output>``.  The API pages are read
from the *installed* package (its compiled engine ``pyoptgra._core`` is not in the source tree),
so install pyoptgra first (``pip install .``).  No network access is needed.
"""

import datetime
import sys
from pathlib import Path

# ``python -m sphinx`` run from the repository root puts the root on ``sys.path``, where the
# ``pyoptgra`` source folder lacks the compiled engine: document the installed package instead.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _ROOT]

import pyoptgra  # noqa: E402

project = "pyoptgra"
author = "the pyoptgra authors"
copyright = f"{datetime.date.today().year}, {author}"
release = pyoptgra.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

root_doc = "index"
exclude_patterns = ["_build"]
templates_path = []

# autodoc: document what is in the docstrings, in source order, with signatures from the code.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

# napoleon: the docstrings use the Google style ("Args:", "Attributes:", "Raises:", "Returns:").
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

html_theme = "alabaster"
html_static_path = []
html_title = f"pyoptgra {release}"


# numpy's ``ArrayLike`` and ``NDArray`` aliases are expanded by autodoc into long unions; show the
# names used in the source instead (the Khan helpers are annotated with them).
def _short_numpy_aliases(text):
    if text is None:
        return None
    import re

    text = re.sub(r"_Buffer \| .*?_NestedSequence\[complex \| bytes \| str\]", "ArrayLike", text)
    text = re.sub(r"~?(?:numpy\.)?ndarray\[tuple\[~?(?:typing\.)?Any, \.\.\.\], "
                  r"~?(?:numpy\.)?dtype\[~?(?:numpy\.)?(\w+)\]\]", r"NDArray[\1]", text)
    return text


def _process_signature(app, what, name, obj, options, signature, return_annotation):
    return _short_numpy_aliases(signature), _short_numpy_aliases(return_annotation)


def setup(app):
    app.connect("autodoc-process-signature", _process_signature)
