"""docutils: render a reStructuredText document (sections, lists, tables,
inline markup, literal blocks) to HTML (a real program from
python3-docutils)."""
import sys

from docutils.core import publish_string

SECTION = """
Section {i}
===========

Some *emphasised* text, **strong** text, ``literal`` text and a link to
`Python <https://www.python.org/>`_ in paragraph {i}. Footnote [#]_.

.. [#] The footnote of section {i}.

- item one of {i}
- item two with a nested list:

  1. first
  2. second

=====  =====  ======
A      B      A or B
=====  =====  ======
False  False  False
True   False  True
=====  =====  ======

::

    def f(x):
        return x * {i}

.. note:: A note in section {i}.
"""
n = int(sys.argv[1]) if len(sys.argv) > 1 else 25
text = "Title\n#####\n\n.. contents::\n" + "".join(SECTION.format(i=i) for i in range(n))
html = publish_string(text, writer_name="html",
                      settings_overrides={"report_level": 5, "_disable_config": True})
print(len(html))
