/*
 * dirs — see dirs.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"

int dirs_make(const char *dir, const char *what, struct err *e)
{
    char buf[4096];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof buf) return err_set(e, ERR_LOCAL, "the %s path is too long", what);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return err_set(e, ERR_LOCAL, "cannot create the %s %s: %s", what, buf, strerror(errno));
        buf[i] = i == n ? '\0' : '/';
    }
    return 0;
}

int dirs_fsync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc, saved;

    if (fd < 0) return -1;
    rc = fsync(fd);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
