"""Outputs that cannot be written at the end of a run (python3 -m ulma):
a full disk (/dev/full, and a real tmpfs filled up), an output directory
that went away while the program ran. Each time: the program's own
output and exit status are those of plain python3, stderr says which file
and why, the other outputs are still written, no segment is left, and
what was there before is never damaged (a full disk leaves the previous
profile whole: the file is replaced atomically). Files that are not
regular ones (/dev/stdout, a FIFO, /dev/full) are written in place,
never replaced by a regular file; a symbolic link is written through.
"""
import json
import os
import pstats
import shutil
import stat
import subprocess
import tempfile
import threading

import hooktest as H

PROG = os.path.join(H.HERE, "fault_prog.py")
TABLE = "function calls"
FORMATS = (("-o", "pstats"), ("--json", "json"), ("--collapsed", "txt"),
           ("--speedscope", "speedscope.json"), ("--pprof", "pb"), ("--svg", "svg"))


def launch(d, args, cwd=None):
    return H.run(["-m", "ulma"] + args, d.env(), cwd=cwd or d.path)


def plain(d, args):
    return H.run([PROG] + args, d.env(), cwd=d.path)


def same_program(r, p, what):
    """The program's own stdout and status, as without ulma."""
    H.check(r.returncode == p.returncode,
            "%s: the program's status %d, not %d" % (what, p.returncode, r.returncode))
    H.check(r.stdout.startswith(p.stdout),
            "%s: the program's output first and whole: %r" % (what, r.stdout[:200]))


def no_segments(d, what):
    H.check(not d.segments(), "%s: no segment left: %s" % (what, d.segments()))


def dev_kept(path):
    """Is /dev/full still the device, /dev/stdout still the link? If not
    (the bug this tests for), it is made again, so that a failure here
    harms nothing else."""
    st = os.lstat(path)
    if path == "/dev/full":
        if stat.S_ISCHR(st.st_mode):
            return True
        os.unlink(path)
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        os.chmod(path, 0o666)
    else:
        if stat.S_ISLNK(st.st_mode):
            return True
        os.unlink(path)
        os.symlink("/proc/self/fd/1", path)
    return False


with H.SegDir("out-fault") as d:
    dev_kept("/dev/full")
    dev_kept("/dev/stdout")
    # 1. /dev/full for each output: ENOSPC said, status and output untouched,
    #    /dev/full still the device
    for code in ("0", "3"):
        p = plain(d, [code])
        for opt, _ in FORMATS:
            r = launch(d, [opt, "/dev/full", PROG, code])
            what = "%s /dev/full, exit %s" % (opt, code)
            same_program(r, p, what)
            H.check("cannot write /dev/full: No space left on device" in r.stderr,
                    "%s: said why: %r" % (what, r.stderr))
            H.check(dev_kept("/dev/full"), "%s: /dev/full still a device" % what)
            no_segments(d, what)
    # the table is still printed when only a file failed
    r = launch(d, ["--json", "/dev/full", PROG, "0"])
    H.check(TABLE in r.stdout, "--json /dev/full: the table printed all the same")

    # 2. one output fails, the others are written
    good = os.path.join(d.path, "good.json")
    r = launch(d, ["-o", "/dev/full", "--json", good, PROG, "0"])
    H.check(r.returncode == 0 and "cannot write /dev/full" in r.stderr,
            "-o fails, --json given: reported, status 0 (%d)" % r.returncode)
    with open(good) as f:
        doc = json.load(f)
    H.check(any(fn.get("name") == "work" for fn in doc.get("functions", [])),
            "the other output written whole: 'work' in the JSON")
    os.unlink(good)

    # 3. a real full file system: a 256 KiB tmpfs holding an earlier profile,
    #    then filled; the new profile does not fit
    mnt = tempfile.mkdtemp(prefix="ulma-full-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], check=True)
    try:
        out = os.path.join(mnt, "prof.pstats")
        r = launch(d, ["-o", out, PROG, "0"])
        H.check(r.returncode == 0 and not r.stderr, "tmpfs with room: written (%r)" % r.stderr)
        with open(out, "rb") as f:
            before = f.read()
        H.check(any(k[2] == "work" for k in pstats.Stats(out).stats), "the earlier profile")
        filler = os.path.join(mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"x" * 512):
                pass
        except OSError:
            pass
        os.close(fd)
        p = plain(d, ["3"])
        r = launch(d, ["-o", out, PROG, "3"])
        same_program(r, p, "full tmpfs")
        H.check("cannot write %s: No space left on device" % out in r.stderr,
                "full tmpfs: said why: %r" % r.stderr)
        with open(out, "rb") as f:
            H.check(f.read() == before, "full tmpfs: the earlier profile is whole")
        H.check(sorted(os.listdir(mnt)) == ["filler", "prof.pstats"],
                "full tmpfs: no temporary file left: %s" % os.listdir(mnt))
        no_segments(d, "full tmpfs")
    finally:
        subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)

    # 4. the output's directory removed by the program while it ran
    gone = os.path.join(d.path, "gone")
    os.mkdir(gone)
    p = plain(d, ["0", "rmdir", gone])
    os.mkdir(gone)
    r = launch(d, ["--json", os.path.join(gone, "p.json"), PROG, "0", "rmdir", gone])
    same_program(r, p, "directory gone")
    H.check("cannot write %s/p.json: No such file or directory" % gone in r.stderr,
            "directory gone: said why: %r" % r.stderr)
    H.check(TABLE in r.stdout, "directory gone: the table printed")
    no_segments(d, "directory gone")

    # 5. not regular files: written in place, never replaced
    r = launch(d, ["--json", "/dev/stdout", PROG, "0"])
    at = r.stdout.find('{"format"')
    H.check(r.returncode == 0 and at >= 0 and json.loads(r.stdout[at:]).get("format")
            == "ulma-profile", "--json /dev/stdout: the document on standard output")
    H.check(dev_kept("/dev/stdout"), "/dev/stdout still a link")
    fifo = os.path.join(d.path, "fifo")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    r = launch(d, ["--collapsed", fifo, PROG, "0"])
    reader.join(30)
    H.check(r.returncode == 0 and got and b"work" in got[0],
            "--collapsed FIFO: the stacks through the pipe (%r)" % r.stderr)
    H.check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO is still a FIFO")
    os.unlink(fifo)

    # 6. a symbolic link: the file it points to is written, the link stays
    real = os.path.join(d.path, "real.json")
    link = os.path.join(d.path, "link.json")
    os.symlink(real, link)
    for time_ in ("first (the file made)", "second (the file replaced)"):
        r = launch(d, ["--json", link, PROG, "0"])
        H.check(r.returncode == 0 and os.path.islink(link) and os.path.isfile(real),
                "--json LINK, %s: written through the link (%r)" % (time_, r.stderr))
    with open(real) as f:
        H.check(json.load(f).get("format") == "ulma-profile", "the link's file is the profile")
    os.unlink(link)
    os.unlink(real)
    shutil.rmtree(os.path.join(d.path, "__pycache__"), ignore_errors=True)

H.finish()
