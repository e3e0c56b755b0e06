/*
 * probe: prints what a process observes about its own credentials and
 * environment, one item per line, in a fixed order, so that two ways of
 * starting it (runc, launcher -> dmz) can be compared line by line.
 *
 * Built by launcher/tests/support/mod.rs with `gcc -static -O2`.
 * Plain C, libc only, no other dependencies.
 *
 * Output order:
 *   arg[i]=...            argv[1..]            (argv[0] differs between paths)
 *   Uid: ... Seccomp: ... selected /proc/self/status lines, whitespace collapsed
 *   rlimit N soft hard    N = 0..15, "inf" for RLIM_INFINITY
 *   umask=0022
 *   cwd=/...
 *   env=...               sorted (strcmp)
 *   stdio=U0 U1 U2        the owner uid of fds 0, 1 and 2 ("-" if closed)
 *   reopen1=ok|ERRNO      open("/proc/self/fd/1", O_WRONLY): what `/dev/stdout` does
 *   fd=N                  open fds, ascending, without the directory fd used to list them
 *   bind80=ok|ERRNO       socket(AF_INET, SOCK_STREAM) + bind 0.0.0.0:80
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char *const status_keys[] = {
    "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff",
    "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
};
#define NKEYS (sizeof status_keys / sizeof status_keys[0])

static const char *errno_name(int e)
{
    switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

/* Copy src to dst collapsing every run of spaces/tabs into one space and
 * dropping trailing whitespace ("Groups:\t \n" -> "Groups:"). */
static void collapse_ws(char *dst, const char *src, size_t cap)
{
    size_t n = 0;
    int pending_space = 0;
    for (; *src && *src != '\n' && n + 2 < cap; src++) {
        if (*src == ' ' || *src == '\t') {
            pending_space = 1;
            continue;
        }
        if (pending_space && n > 0)
            dst[n++] = ' ';
        pending_space = 0;
        dst[n++] = *src;
    }
    dst[n] = 0;
}

static void print_status(void)
{
    static char lines[NKEYS][1024];
    char buf[4096];
    FILE *f = fopen("/proc/self/status", "re");
    size_t i;

    if (!f) {
        printf("status=%s\n", errno_name(errno));
        return;
    }
    while (fgets(buf, sizeof buf, f)) {
        char *colon = strchr(buf, ':');
        if (!colon)
            continue;
        for (i = 0; i < NKEYS; i++) {
            size_t kl = strlen(status_keys[i]);
            if ((size_t)(colon - buf) == kl && memcmp(buf, status_keys[i], kl) == 0)
                collapse_ws(lines[i], buf, sizeof lines[i]);
        }
    }
    fclose(f);
    for (i = 0; i < NKEYS; i++) {
        if (lines[i][0])
            printf("%s\n", lines[i]);
        else
            printf("%s: <missing>\n", status_keys[i]);
    }
}

static void print_lim(rlim_t v)
{
    if (v == RLIM_INFINITY)
        printf("inf");
    else
        printf("%llu", (unsigned long long)v);
}

static void print_rlimits(void)
{
    int r;
    for (r = 0; r < 16; r++) {
        struct rlimit rl;
        if (getrlimit(r, &rl) != 0) {
            printf("rlimit %d %s\n", r, errno_name(errno));
            continue;
        }
        printf("rlimit %d ", r);
        print_lim(rl.rlim_cur);
        printf(" ");
        print_lim(rl.rlim_max);
        printf("\n");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_env(void)
{
    size_t n = 0, i;
    char **copy;
    while (environ && environ[n])
        n++;
    copy = calloc(n + 1, sizeof *copy);
    if (!copy) {
        printf("env=<ENOMEM>\n");
        return;
    }
    for (i = 0; i < n; i++)
        copy[i] = environ[i];
    qsort(copy, n, sizeof *copy, cmp_str);
    for (i = 0; i < n; i++)
        printf("env=%s\n", copy[i]);
    free(copy);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void print_fds(void)
{
    int fds[4096];
    size_t n = 0, i;
    struct dirent *de;
    DIR *d = opendir("/proc/self/fd");
    int self;

    if (!d) {
        printf("fd=<%s>\n", errno_name(errno));
        return;
    }
    self = dirfd(d);
    while ((de = readdir(d)) != NULL) {
        char *end;
        long v;
        if (de->d_name[0] == '.')
            continue;
        v = strtol(de->d_name, &end, 10);
        if (*end || v == self)
            continue;
        if (n < sizeof fds / sizeof fds[0])
            fds[n++] = (int)v;
    }
    closedir(d);
    qsort(fds, n, sizeof fds[0], cmp_int);
    for (i = 0; i < n; i++)
        printf("fd=%d\n", fds[i]);
}

static void print_bind80(void)
{
    struct sockaddr_in sa;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        printf("bind80=socket:%s\n", errno_name(errno));
        return;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(80);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) == 0)
        printf("bind80=ok\n");
    else
        printf("bind80=%s\n", errno_name(errno));
    close(s);
}

static void print_stdio(void)
{
    int fd;
    printf("stdio=");
    for (fd = 0; fd < 3; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0)
            printf(fd ? " %u" : "%u", (unsigned)st.st_uid);
        else
            printf(fd ? " -" : "-");
    }
    printf("\n");
    fd = open("/proc/self/fd/1", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("reopen1=%s\n", errno_name(errno));
    } else {
        printf("reopen1=ok\n");
        close(fd);
    }
}

int main(int argc, char **argv)
{
    int i;
    mode_t m;
    char cwd[4096];

    for (i = 1; i < argc; i++)
        printf("arg[%d]=%s\n", i, argv[i]);
    print_status();
    print_rlimits();
    m = umask(0);
    umask(m);
    printf("umask=%04o\n", (unsigned)m);
    if (getcwd(cwd, sizeof cwd))
        printf("cwd=%s\n", cwd);
    else
        printf("cwd=<%s>\n", errno_name(errno));
    print_env();
    print_stdio();
    /* Everything above opened and closed its own fds; list what is left
     * (stdio is a FILE buffer, no fd of its own beyond 1). */
    print_fds();
    print_bind80();
    return fflush(stdout) == 0 ? 0 : 1;
}
