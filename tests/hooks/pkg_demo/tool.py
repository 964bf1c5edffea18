import sys
print("tool", __name__, sys.argv[1:], __package__)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
