"""python3 -m ulma [options] script.py [args] | -m module [args]: see --help."""
import sys

from ulma._launch import main

sys.exit(main(sys.argv[1:]))
