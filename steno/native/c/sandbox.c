/*
 * sandbox.c -- the seccomp allow-list as a classic BPF program (see sandbox.h).
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define STENO_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define STENO_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif

#ifdef STENO_AUDIT_ARCH

/* What stenotype calls after set-up, grouped by who needs it. */
static const int allowed[] = {
    /* memory (CPython's allocator, glibc, cffi) */
    __NR_brk, __NR_mmap, __NR_munmap, __NR_mremap, __NR_mprotect, __NR_madvise,
    /* threads: trio's worker threads, the index-flush thread */
#ifdef __NR_clone3
    __NR_clone3,
#endif
    __NR_clone, __NR_futex, __NR_set_robust_list, __NR_set_tid_address,
#ifdef __NR_rseq
    __NR_rseq,
#endif
    __NR_exit, __NR_exit_group, __NR_gettid, __NR_getpid, __NR_tgkill, __NR_sched_yield,
    __NR_sched_getaffinity, __NR_getpriority, __NR_setpriority, __NR_prctl,
    /* signals (trio's SIGTERM/SIGINT handling, abort) */
    __NR_rt_sigaction, __NR_rt_sigprocmask, __NR_rt_sigreturn, __NR_sigaltstack,
    /* trio's event loop and wake-ups */
#ifdef __NR_epoll_wait
    __NR_epoll_wait,
#endif
    __NR_epoll_pwait, __NR_epoll_ctl, __NR_epoll_create1, __NR_eventfd2, __NR_socketpair,
    __NR_sendto, __NR_recvfrom, __NR_getsockname, __NR_getpeername, __NR_ppoll,
#ifdef __NR_poll
    __NR_poll,
#endif
    /* the capture loop: ring statistics, block writes */
    __NR_getsockopt, __NR_io_setup, __NR_io_destroy, __NR_io_submit, __NR_io_getevents,
    /* files: packet and index files, directories, recovery */
    __NR_openat, __NR_close, __NR_read, __NR_write, __NR_pread64, __NR_pwrite64, __NR_lseek,
    __NR_fstat, __NR_newfstatat,
#ifdef __NR_statx
    __NR_statx,
#endif
#ifdef __NR_stat
    __NR_stat, __NR_lstat, __NR_access, __NR_readlink, __NR_rename, __NR_unlink, __NR_mkdir,
#endif
    __NR_faccessat,
#ifdef __NR_faccessat2
    __NR_faccessat2,
#endif
    __NR_readlinkat, __NR_renameat, __NR_renameat2, __NR_unlinkat, __NR_mkdirat,
    __NR_getdents64, __NR_fcntl, __NR_dup, __NR_dup3, __NR_pipe2, __NR_ioctl, __NR_fsync,
    __NR_fdatasync, __NR_ftruncate, __NR_fallocate, __NR_statfs, __NR_fstatfs, __NR_getcwd,
#ifdef __NR_close_range
    __NR_close_range,
#endif
    __NR_writev,
    /* time, randomness, identity, limits */
    __NR_clock_gettime, __NR_clock_nanosleep, __NR_nanosleep, __NR_gettimeofday,
    __NR_getrandom, __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid, __NR_uname,
    __NR_sysinfo, __NR_prlimit64, __NR_restart_syscall,
};

#define N_ALLOWED (sizeof allowed / sizeof allowed[0])

/* The low 32 bits of argument i (the ABIs here are little-endian). */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ARG_LO assumes little-endian");

int steno_sandbox_apply(int mode)
{
    if (mode == STENO_SANDBOX_NONE)
        return 0;
    if (mode != STENO_SANDBOX_TRACE && mode != STENO_SANDBOX_KILL)
        return -EINVAL;
    unsigned int deny = mode == STENO_SANDBOX_KILL ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_LOG;

    /*
     * load arch; wrong arch → kill; load nr;
     * setsockopt: only SOL_SOCKET SO_RCVBUF/SO_SNDBUF (trio's wake-up
     * socketpair); any other option fails with EPERM rather than killing, so
     * callers that tolerate failure (trio's TCP_NODELAY attempt) still work,
     * and the locked packet filter cannot be touched;
     * then one compare per allowed call.
     */
    struct sock_filter prog[4 + 8 + N_ALLOWED + 2];
    unsigned n = 0;
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, arch));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, STENO_AUDIT_ARCH, 1, 0);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, nr));

    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, 7);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 3);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_RCVBUF, 2, 0);
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_SNDBUF, 1, 0);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    for (unsigned i = 0; i < N_ALLOWED; i++) {
        /* Jump to the ALLOW return at the end when equal. */
        unsigned char to_allow = (unsigned char)(N_ALLOWED - i);
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                 (unsigned)allowed[i], to_allow, 0);
    }
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0)
        return errno ? -errno : -ESRCH; /* a positive return names a thread that could not sync */
    return 0;
}

#else

int steno_sandbox_apply(int mode)
{
    return mode == STENO_SANDBOX_NONE ? 0 : -ENOSYS;
}

#endif
