"""Landlock: the kernel's own file-access rules for a process, here "write only in these folders".

``child.py`` calls ``restrict_writes(["/tmp", "/dev/shm"], files=["/dev/null"])`` before it runs a
submission's code. From then on that process and everything it starts may make, write and remove
files only under those folders, and write those files: not ``/proc/self/oom_score_adj`` (so a
sandbox cannot make itself less likely than the grader to be chosen by the out-of-memory
killer), nor any other file of /proc, nor the rest of /dev (a tmpfs without a size limit when
bubblewrap runs without root). The rule cannot be lifted.
Landlock is in Linux since 5.13; where the kernel lacks it, ``restrict_writes`` says so and
changes nothing (the sandbox's other walls still stand).
"""

import ctypes
import os

SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every Linux architecture
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
ACCESS_FS_WRITE_FILE = 1 << 1
# Making and removing entries of every kind (Landlock ABI 1): allowed beneath the folders only.
ACCESS_FS_MAKE = sum(1 << bit for bit in (4, 5, 6, 7, 8, 9, 10, 11, 12))  # remove dir/file, make char..sym
ACCESS_FS_TRUNCATE = 1 << 14  # Landlock ABI 3
PR_SET_NO_NEW_PRIVS = 38


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def restrict_writes(folders, files=()):
    """Let this process and its children make, write and remove files only under ``folders``, and
    write the existing ``files``.

    Returns:
        None when the rule is in force, else why not (a short sentence).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 1:
        return f"this kernel has no Landlock (errno {ctypes.get_errno()})"
    handled = ACCESS_FS_WRITE_FILE | ACCESS_FS_MAKE | (ACCESS_FS_TRUNCATE if abi >= 3 else 0)
    attribute = _RulesetAttr(handled)
    ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attribute), ctypes.sizeof(attribute), 0)
    if ruleset < 0:
        return f"a Landlock rule set could not be made (errno {ctypes.get_errno()})"
    try:
        rules = [(folder, handled) for folder in folders] + [
            (path, ACCESS_FS_WRITE_FILE | (ACCESS_FS_TRUNCATE if abi >= 3 else 0)) for path in files]
        for path, allowed in rules:
            if not os.path.exists(path):
                continue
            descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(allowed, descriptor)
                if libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
                    return f"Landlock refused the rule for {path} (errno {ctypes.get_errno()})"
            finally:
                os.close(descriptor)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"no_new_privs could not be set (errno {ctypes.get_errno()})"
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) < 0:
            return f"Landlock could not restrict this process (errno {ctypes.get_errno()})"
    finally:
        os.close(ruleset)
    return None
