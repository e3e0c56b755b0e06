/*
 * runclike: applies the seed configuration the way runc 1.1.5 does in its init
 * (libcontainer/init_linux.go finalizeNamespace + setupUser), then execve's
 * argv[optind..]. Used by tests/seed.rs to show, without runc, where the
 * capabilities get lost when an exec-only trampoline sits in between.
 *
 *   runclike [--nnp] PROGRAM [ARGS...]
 *
 * Steps (all fatal on error, exit 125):
 *   PR_CAPBSET_DROP every cap except CAP_NET_BIND_SERVICE (10)
 *   PR_SET_KEEPCAPS 1; setgroups(0); setresgid(1000); setresuid(1000); PR_SET_KEEPCAPS 0
 *   capset v3: effective = permitted = {CAP_NET_BIND_SERVICE}, inheritable = {}
 *   PR_SET_NO_NEW_PRIVS 1 if --nnp
 *   execve(PROGRAM, [PROGRAM, ARGS...], environ)
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#define CAP_NBS 10
#define ID 1000

static void die(const char *what)
{
    perror(what);
    exit(125);
}

static int last_cap(void)
{
    int v = -1;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (!f || fscanf(f, "%d", &v) != 1)
        die("read /proc/sys/kernel/cap_last_cap");
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    int i = 1, nnp = 0, c, last;
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];

    if (i < argc && strcmp(argv[i], "--nnp") == 0) {
        nnp = 1;
        i++;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: runclike [--nnp] PROGRAM [ARGS...]\n");
        return 125;
    }
    last = last_cap();
    for (c = 0; c <= last; c++)
        if (c != CAP_NBS && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
            die("PR_CAPBSET_DROP");
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        die("PR_SET_KEEPCAPS 1");
    if (setgroups(0, NULL) != 0)
        die("setgroups");
    if (setresgid(ID, ID, ID) != 0)
        die("setresgid");
    if (setresuid(ID, ID, ID) != 0)
        die("setresuid");
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
        die("PR_SET_KEEPCAPS 0");
    memset(&hdr, 0, sizeof hdr);
    memset(data, 0, sizeof data);
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    data[0].effective = data[0].permitted = 1u << CAP_NBS;
    if (syscall(SYS_capset, &hdr, data) != 0)
        die("capset");
    if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die("PR_SET_NO_NEW_PRIVS");
    execve(argv[i], argv + i, environ);
    die("execve");
    return 125;
}
