/*
 * textfile — see textfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "textfile.h"

static int fail(struct err *e, enum err_kind kind, const char *what, const char *path)
{
    int saved = errno;

    err_set(e, kind, "cannot read %s %s: %s", what, path, strerror(saved));
    errno = saved;
    return -1;
}

int textfile_read_fd(int fd, const char *path, size_t max, const char *what, enum err_kind kind,
                     char **text, size_t *len, struct stat *stp, struct err *e)
{
    struct stat st;
    size_t n = 0;
    char *buf;

    *text = NULL;
    *len = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
        return err_set(e, kind, "%s %s is not a regular file of at most %zu bytes", what, path,
                       max);
    if (!(buf = malloc((size_t)st.st_size + 1))) return err_set(e, ERR_INTERNAL, "out of memory");
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fail(e, kind, what, path);
            textfile_free(buf, n);
            return -1;
        }
        if (r == 0) break; /* it shrank meanwhile: what is there */
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (stp) *stp = st;
    *text = buf;
    *len = n;
    return 0;
}

int textfile_read(const char *path, size_t max, const char *what, char **text, size_t *len,
                  struct stat *stp, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc, saved;

    *text = NULL;
    *len = 0;
    if (fd < 0) return fail(e, ERR_USAGE, what, path);
    rc = textfile_read_fd(fd, path, max, what, ERR_USAGE, text, len, stp, e);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

void textfile_free(char *text, size_t len)
{
    if (!text) return;
    OPENSSL_cleanse(text, len);
    free(text);
}
