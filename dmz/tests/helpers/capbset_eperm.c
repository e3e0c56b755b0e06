/*
 * capbset_eperm PROGRAM [ARGS...]: runs PROGRAM under a seccomp filter that makes
 * prctl(PR_CAPBSET_READ, ...) fail with EPERM and allows everything else, as a caller's own
 * filter or an LSM might. Sets no_new_privs first (needed without CAP_SYS_ADMIN).
 * Used by dmz/tests/limits.rs: dmz must fail the config, not take the error for the end of
 * the kernel's capabilities.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_CAPBSET_READ, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof code / sizeof code[0], code };

    if (argc < 2) {
        fprintf(stderr, "usage: capbset_eperm PROGRAM [ARGS...]\n");
        return 2;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
        perror("capbset_eperm: seccomp");
        return 2;
    }
    if (prctl(PR_CAPBSET_READ, 0, 0, 0, 0) != -1 || errno != EPERM) {
        fprintf(stderr, "capbset_eperm: the filter does not make PR_CAPBSET_READ fail\n");
        return 2;
    }
    execv(argv[1], argv + 1);
    perror("capbset_eperm: execv");
    return 2;
}
