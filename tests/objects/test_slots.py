"""Install/uninstall round trips leave every wedged pointer (the slots of the
builtins, of `type`, of every class, and the object allocator) exactly as
before (with CPython's reference tracer, 3.13, no slot changes at all);
install/uninstall are idempotent; objects made while installed and freed
after uninstall (and the reverse) are freed safely; off writes nothing."""
import gc

from objtest import FREE, NEW, O, check, finish, obj_events, read

TYPES = [int, float, str, bytes, list, dict, tuple, set, type, object]


class Early:
    pass


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    pass


def snapshot():
    classes = set()
    todo = [object]
    while todo:
        t = todo.pop()
        if t in classes:
            continue
        classes.add(t)
        todo.extend(type.__subclasses__(t) if t is not type else type.__subclasses__(type))
    return O._allocator(), {t: O._slots(t) for t in classes}


before_alloc, before_slots = snapshot()
for round_ in range(3):
    O.install()
    O.install()  # idempotent
    check(O._allocator() != before_alloc, "allocator wrapped while installed")
    if O.MECHANISM == "wedges":
        check(O._slots(list)[2] != before_slots[list][2], "list tp_dealloc wedged")
        check(O._slots(Early)[0] != before_slots[Early][0], "class tp_alloc wedged")
    else:
        # the reference tracer: no slot of any class is touched
        _, during = snapshot()
        touched = [t.__name__ for t, v in before_slots.items() if during.get(t, v) != v]
        check(O.MECHANISM == "reftracer" and not touched,
              "%s: no slot changed while installed: %s" % (O.MECHANISM, touched[:5]))
    survivors = [Early(), [1, 2], {"k": round_}, (round_, 2), WithMeta()]

    class Late(Early):
        pass

    survivors += [Late(), Late]
    O.uninstall()
    O.uninstall()  # idempotent
    alloc, slots = snapshot()
    check(alloc == before_alloc, "allocator restored exactly (round %d)" % round_)
    changed = [t.__name__ for t, v in before_slots.items() if slots.get(t, v) != v]
    check(not changed, "slots restored exactly (round %d): %s" % (round_, changed[:5]))
    late_slots = O._slots(Late)
    check(late_slots[0] == before_slots[Early][0] and late_slots[1] == before_slots[Early][1],
          "a class made while installed gets the original tp_alloc/tp_free back")
    del survivors, Late
    gc.collect()

# objects born before install and dying while installed, and the reverse
pre = [Early() for _ in range(10)] + [[i] for i in range(10)]
O.install()
during = [Early() for _ in range(10)] + [[i] for i in range(10)] + [float(i) for i in range(10)]
del pre
gc.collect()
O.uninstall()
del during
gc.collect()

# off: nothing written
read()
x = [Early() for _ in range(100)] + [[i] * 2 for i in range(100)]
del x
seg = read()
check(not obj_events(seg), "no object record while off (%d)" % len(obj_events(seg)))
finish()
