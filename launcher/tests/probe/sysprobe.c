/*
 * sysprobe: tries syscalls and prints what the seccomp filter (and then the kernel) made of
 * each, so that two ways of starting it (runc, launcher -> dmz) can be compared line by line.
 *
 *   sysprobe [--wait MARKER] CALL...
 *
 * Output:
 *   Seccomp: N / Seccomp_filters: N / NoNewPrivs: N     from /proc/self/status
 *   CALL=RESULT                                         one line per CALL, in order
 *   waiting                                             with --wait, then sleeps until killed
 *
 * CALL is NAME[:ARG...]: NAME is a syscall from the table below (the libc headers name it),
 * `nrN` for raw number N of this ABI, or (x86_64 only) `i386.N` for number N of the i386 ABI
 * through `int $0x80` (five arguments at most). Up to six ARGs, integers as strtoll/strtoull read them ("-1", "0x20000").
 * RESULT is `ok` (returned >= 0), the errno name (`EPERM`), or `signal SIGSYS` when the
 * call killed the process. Each call runs in a child of its own (fork), so a KILL or TRAP
 * action ends only that child; the child reports through its exit status (so errnos above
 * 255 cannot be told apart). The probe refuses to run calls unless RLIMIT_CORE is 0: a
 * SIGSYS death must not write core files.
 *
 * Built by launcher/tests/support/mod.rs (build_c) with `gcc -static -O2`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sc {
    const char *name;
    long nr;
};

#define S(n) {#n, SYS_##n}
static const struct sc table[] = {
    S(read), S(write), S(close), S(getpid), S(getppid), S(getuid), S(uname), S(lseek),
    S(dup), S(dup3), S(fchdir), S(fchown), S(flock), S(ftruncate), S(fsync), S(fdatasync),
    S(syncfs), S(socket), S(personality), S(clone), S(clone3), S(unshare), S(setns),
    S(mount), S(umount2), S(ptrace), S(bpf), S(perf_event_open), S(keyctl), S(add_key),
    S(userfaultfd), S(reboot), S(kexec_load), S(init_module), S(acct), S(syslog), S(chroot),
    S(open_by_handle_at), S(swapon), S(swapoff), S(sethostname), S(setdomainname),
    S(io_uring_setup), S(pivot_root), S(quotactl), S(kcmp), S(pidfd_getfd), S(mbind),
    S(getpgrp), S(getsid), S(getcwd), S(nanosleep), S(vhangup), S(settimeofday),
    S(clock_settime), S(iopl), S(ioperm), S(futex_waitv),
    S(memfd_secret), S(openat2), S(close_range), S(pidfd_open), S(process_madvise),
#ifdef SYS_arch_prctl
    S(arch_prctl),
#endif
#ifdef SYS_modify_ldt
    S(modify_ldt),
#endif
#ifdef SYS_open
    S(open),
#endif
};

static long lookup(const char *name)
{
    size_t i;
    if (strncmp(name, "nr", 2) == 0 && name[2] >= '0' && name[2] <= '9')
        return strtol(name + 2, NULL, 0);
    for (i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].nr;
    fprintf(stderr, "sysprobe: unknown syscall name %s (add it to the table)\n", name);
    exit(2);
}

/* i386 ABI from a 64-bit process: int $0x80 with ebx, ecx, edx, esi, edi (five arguments;
 * the sixth, ebp, is not passed). */
static long i386_call(long nr, const long *a)
{
#ifdef __x86_64__
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                     : "memory");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
#else
    (void)nr;
    (void)a;
    errno = ENOSYS;
    return -1;
#endif
}

/* Runs CALL in a child; prints CALL=RESULT. */
static void probe(const char *call)
{
    char buf[256], *name, *save = NULL, *tok;
    long args[6] = {0};
    int n = 0, status;
    pid_t pid;

    snprintf(buf, sizeof buf, "%s", call);
    name = strtok_r(buf, ":", &save);
    while ((tok = strtok_r(NULL, ":", &save)) != NULL && n < 6)
        args[n++] = tok[0] == '-' ? strtoll(tok, NULL, 0) : (long)strtoull(tok, NULL, 0);
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        printf("%s=fork:%s\n", call, strerrorname_np(errno));
        return;
    }
    if (pid == 0) {
        long r;
        if (strncmp(name, "i386.", 5) == 0)
            r = i386_call(strtol(name + 5, NULL, 0), args);
        else
            r = syscall(lookup(name), args[0], args[1], args[2], args[3], args[4], args[5]);
        _exit(r < 0 ? (errno & 0xff) : 0);
    }
    if (waitpid(pid, &status, 0) != pid) {
        printf("%s=waitpid:%s\n", call, strerrorname_np(errno));
        return;
    }
    if (WIFSIGNALED(status))
        printf("%s=signal SIG%s\n", call, sigabbrev_np(WTERMSIG(status)));
    else if (WEXITSTATUS(status) == 0)
        printf("%s=ok\n", call);
    else
        printf("%s=%s\n", call, strerrorname_np(WEXITSTATUS(status)));
}

static void print_status(void)
{
    static const char *keys[] = {"Seccomp:", "Seccomp_filters:", "NoNewPrivs:"};
    char line[256];
    size_t i;
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        printf("status=%s\n", strerrorname_np(errno));
        return;
    }
    while (fgets(line, sizeof line, f))
        for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strncmp(line, keys[i], strlen(keys[i])) == 0) {
                char *v = line + strlen(keys[i]);
                v += strspn(v, " \t");
                printf("%s %s", keys[i], v);
            }
    fclose(f);
}

int main(int argc, char **argv)
{
    struct rlimit core;
    const char *marker = NULL;
    int i = 1;

    if (argc > 2 && strcmp(argv[1], "--wait") == 0) {
        marker = argv[2];
        i = 3;
    }
    print_status();
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0) {
        printf("sysprobe: RLIMIT_CORE must be 0 (set it in the config's rlimits)\n");
        return 1;
    }
    for (; i < argc; i++)
        probe(argv[i]);
    if (marker) {
        struct timespec t = {1, 0};
        int s;
        printf("waiting %s\n", marker);
        fflush(stdout);
        for (s = 0; s < 120; s++)
            nanosleep(&t, NULL);
        return 1; /* nobody came: the test kills us once it has read the filter */
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
