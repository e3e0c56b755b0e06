/*
 * landlock_probe: tries each access named on its command line and prints one line per try,
 * "<arg>=ok" or "<arg>=<ERRNO>", so a test can see what a Landlock domain allows:
 *   r:PATH   open(PATH, O_RDONLY)
 *   l:PATH   opendir(PATH)
 *   w:PATH   open(PATH, O_WRONLY|O_CREAT|O_TRUNC, 0644)
 *   b:PORT   socket(AF_INET, SOCK_STREAM) + bind 0.0.0.0:PORT
 *   c:PORT   socket(AF_INET, SOCK_STREAM) + connect 127.0.0.1:PORT
 *   nnp      prints the NoNewPrivs line of /proc/self/status (needs read access to /proc)
 *
 * Built by launcher/tests/support/mod.rs with `gcc -static -O2` (static: exec needs no
 * loader or libraries, only the execute right on the probe itself).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *name(int e)
{
    switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EADDRINUSE: return "EADDRINUSE";
    case ENETUNREACH: return "ENETUNREACH";
    default: return "other";
    }
}

static int inet(int port, int do_connect)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(do_connect ? INADDR_LOOPBACK : INADDR_ANY);
    int r = do_connect ? connect(s, (void *)&a, sizeof a) : bind(s, (void *)&a, sizeof a);
    int e = errno;
    close(s);
    errno = e;
    return r;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = a + 2;
        int r = -1;
        if (strcmp(a, "nnp") == 0) {
            FILE *f = fopen("/proc/self/status", "r");
            char line[256];
            if (!f) {
                printf("nnp=%s\n", name(errno));
                continue;
            }
            while (fgets(line, sizeof line, f))
                if (strncmp(line, "NoNewPrivs:", 11) == 0)
                    printf("nnp=%d\n", atoi(line + 11));
            fclose(f);
            continue;
        }
        switch (a[0]) {
        case 'r': r = open(v, O_RDONLY); break;
        case 'w': r = open(v, O_WRONLY | O_CREAT | O_TRUNC, 0644); break;
        case 'l': {
            DIR *d = opendir(v);
            r = d ? 0 : -1;
            if (d)
                closedir(d);
            break;
        }
        case 'b': r = inet(atoi(v), 0); break;
        case 'c': r = inet(atoi(v), 1); break;
        }
        if (r >= 0)
            printf("%s=ok\n", a);
        else
            printf("%s=%s\n", a, name(errno));
    }
    return 0;
}
