"""Landlock: the kernel's own file-access rules for a process, here "write only in these folders".

``child.py`` calls ``restrict_writes(["/tmp", "/dev"])`` before it runs a submission's code. From
then on that process and everything it starts may write files only under those folders: not
``/proc/self/oom_score_adj`` (so a sandbox cannot make itself less likely than the grader to be
chosen by the out-of-memory killer), nor any other file of /proc. The rule cannot be lifted.
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
PR_SET_NO_NEW_PRIVS = 38


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def restrict_writes(folders):
    """Let this process and its children write files only under ``folders``.

    Returns:
        None when the rule is in force, else why not (a short sentence).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION) < 1:
        return f"this kernel has no Landlock (errno {ctypes.get_errno()})"
    attribute = _RulesetAttr(ACCESS_FS_WRITE_FILE)
    ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attribute), ctypes.sizeof(attribute), 0)
    if ruleset < 0:
        return f"a Landlock rule set could not be made (errno {ctypes.get_errno()})"
    try:
        for folder in folders:
            descriptor = os.open(folder, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(ACCESS_FS_WRITE_FILE, descriptor)
                if libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
                    return f"Landlock refused the rule for {folder} (errno {ctypes.get_errno()})"
            finally:
                os.close(descriptor)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"no_new_privs could not be set (errno {ctypes.get_errno()})"
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) < 0:
            return f"Landlock could not restrict this process (errno {ctypes.get_errno()})"
    finally:
        os.close(ruleset)
    return None
