/*
 * seccomp_dump PID: prints the seccomp filters installed in process PID, as the kernel
 * holds them, newest first, one line per filter:
 *   filter N: CODE:JT:JF:K CODE:JT:JF:K ...      (hex)
 *
 * Uses PTRACE_SECCOMP_GET_FILTER (Linux 4.4, CONFIG_CHECKPOINT_RESTORE): the caller needs
 * CAP_SYS_ADMIN and must not itself run under seccomp; the target is seized and stopped
 * for the read, then detached (it continues unharmed).
 *
 * Built by launcher/tests/support/mod.rs (build_c) with `gcc -static -O2`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

static int die(const char *what)
{
    fprintf(stderr, "seccomp_dump: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    pid_t pid;
    int status;
    long i, n;

    if (argc != 2) {
        fprintf(stderr, "usage: seccomp_dump PID\n");
        return 2;
    }
    pid = (pid_t)atol(argv[1]);
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0)
        return die("PTRACE_SEIZE");
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0)
        return die("PTRACE_INTERRUPT");
    if (waitpid(pid, &status, __WALL) != pid)
        return die("waitpid");
    for (i = 0;; i++) {
        struct sock_filter *f;
        long k;
        n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)i, NULL);
        if (n < 0) {
            if (errno == ENOENT)
                break; /* no more filters */
            return die("PTRACE_SECCOMP_GET_FILTER");
        }
        f = calloc((size_t)n, sizeof *f);
        if (!f || ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)i, f) != n)
            return die("PTRACE_SECCOMP_GET_FILTER (read)");
        printf("filter %ld:", i);
        for (k = 0; k < n; k++)
            printf(" %x:%x:%x:%x", f[k].code, f[k].jt, f[k].jf, f[k].k);
        printf("\n");
        free(f);
    }
    if (ptrace(PTRACE_DETACH, pid, 0, 0) != 0)
        return die("PTRACE_DETACH");
    return fflush(stdout) == 0 ? 0 : 1;
}
