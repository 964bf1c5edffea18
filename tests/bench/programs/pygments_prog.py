"""Pygments: highlight Python sources of the standard library as HTML (a
real program from python3-pygments)."""
import os
import sys

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

LIB = os.path.dirname(os.__file__)
FILES = ["typing.py", "argparse.py", "inspect.py"]
source = "".join(open(os.path.join(LIB, f), encoding="utf-8").read() for f in FILES)
times = int(sys.argv[1]) if len(sys.argv) > 1 else 1
out = 0
for _ in range(times):
    out += len(highlight(source, PythonLexer(), HtmlFormatter(linenos=True)))
print(out)
