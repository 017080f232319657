"""The file system a sandboxed program sees.

A fresh tmpfs becomes the root; the system's libraries and the interpreter's
standard library are bound into it read-only, every site-packages folder is
hidden (so no installed package, benchmark data or answer key is readable),
and /proc, /dev, /tmp are the sandbox's own. Nothing else of the host exists.
"""

from __future__ import annotations

import glob
import os
import site
import sys

from . import linux

# Read by the C library, the dynamic linker and Python itself; no secrets.
ETC_FILES = (
    "passwd", "group", "hosts", "nsswitch.conf", "localtime", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "ssl", "alternatives", "mime.types",
    "java-*-openjdk",  # the JDK's own settings (its conf/ links here): the JVM does not start without them
)
DEVICES = ("null", "zero", "full", "random", "urandom")
SCRATCH = ("/tmp", "/sandbox", "/dev/shm")
REBIND_DIR = "/.codeloop-binds"


class RootPlan:
    """What to bind into the sandbox root: host paths, all read-only.

    (A plain class: dataclasses would import inspect into every worker.)
    """

    def __init__(self) -> None:
        self.binds: list[str] = []
        self.symlinks: dict[str, str] = {}
        self.hidden: list[str] = []
        self.rebinds: dict[str, str] = {}  # host path under a scratch folder -> its kept copy


def site_package_dirs() -> list[str]:
    """Every folder this interpreter (and its base install) loads packages from."""
    found = set(site.getsitepackages())
    try:
        found.add(site.getusersitepackages())
    except AttributeError:
        pass
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/usr/local"}:
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages"):
            found.update(glob.glob(os.path.join(prefix, pattern)))
    return sorted(os.path.realpath(p) for p in found if os.path.isdir(p))


def plan_root(extra_binds: tuple[str, ...] = ()) -> RootPlan:
    """Decide the sandbox's view of the host file system."""
    plan = RootPlan()
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            plan.symlinks[top] = os.readlink(top)
        elif os.path.isdir(top):
            plan.binds.append(top)
    for name in ETC_FILES:
        plan.binds.extend(path for path in sorted(glob.glob(os.path.join("/etc", name))) if os.path.exists(path))
    for prefix in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))):
        real = os.path.realpath(prefix)
        if not any(real == b or real.startswith(b + "/") for b in plan.binds):
            plan.binds.append(real)
        if os.path.islink(prefix):
            plan.symlinks[prefix] = real
    plan.binds.extend(os.path.realpath(p) for p in extra_binds)
    plan.binds = sorted(set(plan.binds), key=lambda p: (p.count("/"), p))
    inside = lambda p: any(p == b or p.startswith(b + "/") for b in plan.binds)  # noqa: E731
    plan.hidden = [p for p in site_package_dirs() if inside(p) and p not in extra_binds]
    return plan


def _ensure_mountpoint(target: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()


def _staging_dir(plan: RootPlan) -> str:
    # Any existing directory will do, as this mount namespace is private, as
    # long as covering it does not hide a path that still has to be bound.
    for cand in ("/mnt", "/media", "/srv", "/opt", "/home", "/var", "/tmp", "/boot"):
        if os.path.isdir(cand) and not os.path.islink(cand) and not any(
            b == cand or b.startswith(cand + "/") for b in plan.binds
        ):
            return cand
    raise OSError("no directory to stage the sandbox root in")


def build_root(plan: RootPlan, tmpfs_mb: int) -> None:
    """Mount the planned root and pivot into it. Call inside new user + mount namespaces.

    Raises OSError naming the mount that failed.
    """
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    new_root = _staging_dir(plan)
    linux.mount("tmpfs", new_root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=16m,mode=0755")
    # The scratch folders first, so that a bind below one of them (an install
    # under /tmp, say) lands inside it instead of being covered by it.
    os.makedirs(new_root + "/tmp")
    linux.mount("tmpfs", new_root + "/tmp", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, f"size={tmpfs_mb}m,mode=1777")
    for src in plan.binds:
        targets = [new_root + src]
        if under_scratch(src):
            # Each candidate covers the scratch folders with fresh ones; it
            # binds this again from a copy kept outside them (see private_scratch).
            targets.append(new_root + plan.rebinds.setdefault(src, f"{REBIND_DIR}/{len(plan.rebinds)}"))
        for target in targets:
            _ensure_mountpoint(target, os.path.isdir(src))
            linux.mount(src, target, None, linux.MS_BIND | linux.MS_REC)
            linux.make_read_only(target)
    for link, dest in plan.symlinks.items():
        path = new_root + link
        if not os.path.lexists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(dest, path)
    for hidden in plan.hidden:
        targets = [new_root + hidden] + [new_root + kept + hidden[len(src):]
                                         for src, kept in plan.rebinds.items() if hidden.startswith(src + "/")]
        for target in targets:
            if os.path.isdir(target):
                linux.mount("tmpfs", target, "tmpfs", linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV, "size=4k")
    dev = new_root + "/dev"
    os.makedirs(dev)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            _ensure_mountpoint(f"{dev}/{name}", False)
            linux.mount("/dev/" + name, f"{dev}/{name}", None, linux.MS_BIND)
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, f"{dev}/{name}")
    os.makedirs(dev + "/shm")
    linux.mount("tmpfs", dev + "/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, f"size={tmpfs_mb}m,mode=1777")
    for d in ("/proc", "/sandbox"):
        os.makedirs(new_root + d, exist_ok=True)
    linux.mount("proc", new_root + "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    os.chdir(new_root)
    linux.pivot_root(".", ".")
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")
    linux.mount(None, "/", None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)
    # Candidates need no user namespaces of their own: forbid them in this one,
    # which closes that part of the kernel to them (best effort).
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as fh:
            fh.write("0")
    except OSError:
        pass


def private_scratch(tmpfs_mb: int, rebinds: dict[str, str] | None = None) -> None:
    """Give the calling process fresh /tmp, /sandbox and /dev/shm, and a /proc
    that shows only its own PID namespace. Call after unshare(CLONE_NEWNS).

    ``rebinds`` (host path -> kept copy) puts back read-only binds that the
    fresh scratch folders cover.
    """
    opts = f"size={tmpfs_mb}m,mode=1777"
    for target in SCRATCH:
        linux.mount("tmpfs", target, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, opts)
    for target, kept in (rebinds or {}).items():
        _ensure_mountpoint(target, os.path.isdir(kept))
        linux.mount(kept, target, None, linux.MS_BIND | linux.MS_REC)
        linux.make_read_only(target)
    linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)


def under_scratch(path: str) -> bool:
    """Whether a host path lies in a folder each candidate gets afresh."""
    return any(path == d or path.startswith(d + "/") for d in SCRATCH)
