import sys, threading
calls = []
def prof(frame, event, arg):
    if event == "call":
        calls.append(frame.f_code.co_name)
def traced(frame, event, arg):
    return None
def f(n): return n if n < 2 else f(n - 1) + f(n - 2)
sys.setprofile(prof)
f(10)
sys.setprofile(None)
sys.settrace(traced)
f(5)
sys.settrace(None)
print("own profiler saw", calls.count("f"), "calls of f")
