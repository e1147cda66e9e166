/*
 * atomicfile — whole-file replacement and bounded reads. See atomicfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"
#include "textfile.h"
#include "atomicfile.h"
#include "fdio.h"
#include "fileperm.h"

int atomicfile_opendir(const char *dir, const char *what, int flags, struct err *e)
{
    int fd;

    if ((flags & ATOMICFILE_CREATE) && dirs_make(dir, what, e) < 0) return -1;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, ERR_LOCAL, "cannot open the %s %s: %s", what, dir, strerror(errno));
    if ((flags & ATOMICFILE_OURS) && fileperm_check_fd(fd, what, dir, e) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int atomicfile_write(int dirfd, const char *dir, const char *name, const void *data, size_t len,
                     mode_t mode, struct err *e)
{
    char tmp[512];
    int fd, ok;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", name) >= sizeof tmp)
        return err_set(e, ERR_LOCAL, "the file name %s is too long", name);
    if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
        return err_set(e, ERR_LOCAL, "cannot remove the stale %s/%s: %s", dir, tmp,
                       strerror(errno));
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        char path[4700];
        snprintf(path, sizeof path, "%s/%s", dir, tmp);
        return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, "temporary file", path);
    }
    /* the mode asked for, whatever the umask; not flushed (atomicfile.h
     * says why losing the update in a crash is harmless) */
    ok = fchmod(fd, mode) == 0 && fdio_write_full(fd, data, len) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || renameat(dirfd, tmp, dirfd, name) < 0) {
        int saved = errno;
        unlinkat(dirfd, tmp, 0);
        return err_set(e, ERR_LOCAL, "cannot write %s/%s: %s", dir, name, strerror(saved));
    }
    return 0;
}

int atomicfile_read(int dirfd, const char *dir, const char *name, size_t max, char **text,
                    size_t *len, struct err *e)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc;
    char path[4700];

    *text = NULL;
    *len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, "file", path);
    }
    rc = textfile_read_fd(fd, path, max, "file", ERR_LOCAL, text, len, NULL, e);
    close(fd);
    return rc;
}
