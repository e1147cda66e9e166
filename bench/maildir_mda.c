/*
 * maildir_mda — the smallest honest Maildir delivery agent, for fetchmail in
 * bench/run (fetchmail has no Maildir delivery of its own; it hands each
 * message to an MDA on stdin).
 *
 *   maildir_mda DIR      read one message on stdin, deliver it into DIR/new
 *
 * It does what a Maildir MDA must (maildir(5), as maildrop and dovecot-lda
 * do): write DIR/tmp/UNIQUE, fsync it, rename it into DIR/new.  No header
 * rewriting, no filtering, no locking: anything more would be overhead that
 * fetchmail itself is not responsible for.  Exit 0 only when the message is
 * in new/, 75 (EX_TEMPFAIL) otherwise, so fetchmail keeps it on the server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define EX_TEMPFAIL 75

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "maildir_mda: %s %s: %s\n", what, path, strerror(errno));
    return EX_TEMPFAIL;
}

int main(int argc, char **argv)
{
    char host[256], name[512], tmp[4096], dst[4096], buf[65536];
    struct timeval tv;
    ssize_t r;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: maildir_mda DIR < message\n");
        return EX_TEMPFAIL;
    }
    if (gethostname(host, sizeof host) < 0) strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (*p == '/' || *p == ':') *p = '_';
    gettimeofday(&tv, NULL);
    snprintf(name, sizeof name, "%lld.M%ldP%ld.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
             (long)getpid(), host);
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", argv[1], name);
    snprintf(dst, sizeof dst, "%s/new/%s", argv[1], name);

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fail("cannot create", tmp);
    while ((r = read(0, buf, sizeof buf)) != 0) {
        if (r < 0) {
            if (errno == EINTR) continue;
            unlink(tmp);
            return fail("cannot read the message for", tmp);
        }
        for (ssize_t o = 0; o < r;) {
            ssize_t w = write(fd, buf + o, (size_t)(r - o));
            if (w < 0) {
                if (errno == EINTR) continue;
                unlink(tmp);
                return fail("cannot write", tmp);
            }
            o += w;
        }
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        unlink(tmp);
        return fail("cannot sync", tmp);
    }
    if (rename(tmp, dst) < 0) {
        unlink(tmp);
        return fail("cannot rename into", dst);
    }
    return 0;
}
