"""Thin ctypes wrappers over the Linux calls the sandbox needs.

Python 3.11 has no ``os.unshare`` or ``os.mount``; these helpers call libc
directly and raise ``OSError`` with the failing call named, so a missing
kernel feature surfaces as a readable message rather than a silent fallback.
Linux only: importing this module elsewhere works, but every call fails.
"""

from __future__ import annotations

import ctypes
import os

CLONE_PARENT = 0x00008000
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

MNT_DETACH = 2

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
AT_RECURSIVE = 0x8000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

_SYS_PIVOT_ROOT = 155
_SYS_CAPSET = 126
_SYS_MOUNT_SETATTR = 442

# The running interpreter already links libc: no library search (and no
# ctypes.util, which would pull subprocess into every sandbox worker).
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (see unshare(2)).

    Raises OSError (EPERM, EINVAL, ENOSPC...) when the kernel refuses; a
    multi-threaded caller cannot create a user namespace.
    """
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2); raises OSError naming the target on failure."""
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {source} on {target}",
    )


def umount(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    _check(_libc.syscall(_SYS_PIVOT_ROOT, new_root.encode(), put_old.encode()), "pivot_root")


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def make_read_only(path: str) -> None:
    """Make the mount at ``path`` and every mount below it read-only and nosuid.

    Uses mount_setattr(2) (Linux 5.12+), which keeps flags the kernel locked
    when the mount was inherited into a user namespace; an older kernel falls
    back to a remount of the top mount only.
    """
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    res = _libc.syscall(
        _SYS_MOUNT_SETATTR, ctypes.c_int(-100), path.encode(), ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if res == 0:
        return
    if ctypes.get_errno() != 38:  # ENOSYS: old kernel
        _check(res, f"mount_setattr read-only {path}")
    mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)


def prctl(option: int, arg: int = 0) -> None:
    """prctl(2) with one argument."""
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def drop_capabilities() -> None:
    """Drop every capability (bounding, effective, permitted, inheritable) and
    forbid regaining privileges through exec (no_new_privs)."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) < 0:
            break  # EINVAL past the last capability the kernel knows
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.syscall(_SYS_CAPSET, header, data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


_SYS_CLONE = 56
_SIGCHLD = 17


def fork_into(flags: int) -> int:
    """Fork, with the child placed in the new namespaces ``flags`` names.

    Like ``os.fork()`` (the interpreter's before/after-fork hooks run), but
    through clone(2) so that a CLONE_NEWPID child is itself PID 1 of its new
    namespace, without an intermediate process. The caller must be
    single-threaded. Returns 0 in the child, the child's pid in the parent.
    """
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _libc.syscall(_SYS_CLONE, ctypes.c_ulong(flags | _SIGCHLD), 0, 0, 0, 0)
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone({flags:#x}): {os.strerror(err)}")
    return pid


ADDR_NO_RANDOMIZE = 0x0040000


def personality(persona: int) -> None:
    """personality(2): with ADDR_NO_RANDOMIZE, the next exec gets a fixed memory layout."""
    _check(_libc.personality(ctypes.c_ulong(persona)), "personality")
