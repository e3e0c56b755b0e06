/*
 * spawn-loop ROUNDS WARMUP NAME CMD [ARGS...] [:: NAME CMD [ARGS...]]...
 *
 * Runs each command ROUNDS times (after WARMUP unmeasured rounds), interleaved: every round
 * runs every command once, starting one further along the list each round, so drift on the
 * machine spreads over all of them. Each run is fork + execv + wait4, timed on
 * CLOCK_MONOTONIC from before fork to after wait4; the minor page faults are the child's
 * own (wait4's rusage: the whole exec chain, as it is one process). stdout and stderr go to
 * /dev/null; a command that exits non-zero stops the benchmark.
 *
 * A NAME ending in @N expects exit status N instead of 0 (for a run that fails on purpose).
 *
 * Prints one line per command: name, median / p10 / p90 microseconds, median minor faults.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct chain {
    const char *name;
    int status;
    char **argv;
    double *us;
    long *faults;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: spawn-loop ROUNDS WARMUP NAME CMD [ARGS...] [:: NAME CMD...]...\n");
        return 2;
    }
    int rounds = atoi(argv[1]), warmup = atoi(argv[2]);
    struct chain chains[32];
    int n = 0;
    for (int i = 3; i < argc && n < 32;) {
        chains[n].name = argv[i++];
        char *at = strrchr(chains[n].name, '@');
        chains[n].status = at ? (*at = 0, atoi(at + 1)) : 0;
        chains[n].argv = &argv[i];
        while (i < argc && strcmp(argv[i], "::") != 0)
            i++;
        if (i < argc)
            argv[i++] = NULL; /* ends this command's argv */
        chains[n].us = calloc(rounds, sizeof(double));
        chains[n].faults = calloc(rounds, sizeof(long));
        n++;
    }
    int devnull = open("/dev/null", O_WRONLY);
    for (int r = 0; r < warmup + rounds; r++) {
        for (int j = 0; j < n; j++) {
            struct chain *c = &chains[(r + j) % n];
            double t0 = now_us();
            pid_t pid = fork();
            if (pid == 0) {
                dup2(devnull, 1);
                dup2(devnull, 2);
                execv(c->argv[0], c->argv);
                _exit(127);
            }
            int status;
            struct rusage ru;
            if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
                perror("spawn-loop");
                return 1;
            }
            double t1 = now_us();
            if (!WIFEXITED(status) || WEXITSTATUS(status) != c->status) {
                fprintf(stderr, "spawn-loop: %s: exit status %d\n", c->name, status);
                return 1;
            }
            if (r >= warmup) {
                c->us[r - warmup] = t1 - t0;
                c->faults[r - warmup] = ru.ru_minflt;
            }
        }
    }
    for (int j = 0; j < n; j++) {
        struct chain *c = &chains[j];
        qsort(c->us, rounds, sizeof(double), cmp_double);
        qsort(c->faults, rounds, sizeof(long), cmp_long);
        printf("%s\t%.1f\t%.1f\t%.1f\t%ld\n", c->name, c->us[rounds / 2], c->us[rounds / 10],
               c->us[rounds * 9 / 10], c->faults[rounds / 2]);
    }
    return 0;
}
