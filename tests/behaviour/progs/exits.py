import sys
print("argv", sys.argv)
code = sys.argv[1] if len(sys.argv) > 1 else "3"
sys.stdout.flush()
if code == "str":
    sys.exit("a message on stderr")
sys.exit(int(code))
