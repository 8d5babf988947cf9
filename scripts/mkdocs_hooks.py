"""MkDocs hooks of the documentation site (mkdocs.yml ``hooks:``).

Every image is lazy-loaded: the diagram gallery and the model pages show SVG diagrams
(megabytes in all), and a browser should fetch only those scrolled into view.
"""

import re

_IMG = re.compile(r"<img\b(?![^>]*\bloading=)")


def on_page_content(html, page, config, files):
    return _IMG.sub('<img loading="lazy"', html)
