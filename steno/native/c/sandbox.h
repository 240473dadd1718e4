/*
 * sandbox.h -- stenotype's seccomp allow-list (--seccomp).
 *
 * stenotype parses hostile packets, so once its sockets exist and privileges
 * are dropped it confines itself to the system calls capture, indexing and
 * sealing need.  The list lives here, next to the kernel's syscall numbers,
 * so the compiler checks every name; it covers CPython, trio and this C core
 * after start-up (no socket(), bind(), execve(), ptrace(), mount(), ...).
 *
 * Modes (upstream's flag values):
 *   none  -- no filter;
 *   trace -- allow everything, but the kernel logs each call outside the list
 *            (SECCOMP_RET_LOG; read them with dmesg or journalctl -k), the way
 *            to find what a new distribution needs before enforcing;
 *   kill  -- a call outside the list kills the whole process
 *            (SECCOMP_RET_KILL_PROCESS).  Upstream killed only the offending
 *            thread, which then hung until a watchdog noticed.
 */
#ifndef STENO_SANDBOX_H
#define STENO_SANDBOX_H

enum steno_sandbox_mode {
    STENO_SANDBOX_NONE = 0,
    STENO_SANDBOX_TRACE = 1,
    STENO_SANDBOX_KILL = 2,
};

/* Applies the filter to every thread of the process.  0 or -errno
 * (-ENOSYS on an architecture without an allow-list). */
int steno_sandbox_apply(int mode);

#endif
