# Sphinx configuration of the docs site (`make docs` without Quarto: scripts/docs.py stages the pages in _docsrc/).
project = "clipood"
author = "clipood developers"
copyright = "clipood developers"
extensions = ["myst_nb", "sphinx-mathjax-offline"]  # MathJax is served from the site: maths typeset offline
source_suffix = {".ipynb": "myst-nb", ".md": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
nb_execution_mode = "off"        # scripts/docs.py runs the notebooks (as `make test` does) and stages their outputs
nb_output_stderr = "remove"
nb_merge_streams = True
html_theme = "furo"
html_title = "clipood"
html_copy_source = False
html_show_sourcelink = False
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
