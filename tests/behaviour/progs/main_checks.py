import sys, __main__
print(__name__, __main__.__file__ == __file__, sys.argv, sys.path[0].endswith("progs"))
print(type(__builtins__).__name__ if not isinstance(__builtins__, dict) else "dict")
print(__spec__ is None, __package__)
