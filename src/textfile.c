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

static int fail(struct err *e, const char *what, const char *path)
{
    int saved = errno;

    err_set(e, ERR_USAGE, "cannot read %s %s: %s", what, path, strerror(saved));
    errno = saved;
    return -1;
}

int textfile_read(const char *path, size_t max, const char *what, char **text, size_t *len,
                  struct stat *stp, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    ssize_t r = 0;
    size_t n = 0;
    char *buf;

    *text = NULL;
    *len = 0;
    if (fd < 0) return fail(e, what, path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        return err_set(e, ERR_USAGE, "%s %s is not a regular file of at most %zu bytes", what, path,
                       max);
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    while (n < (size_t)st.st_size && (r = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
        n += (size_t)r;
    if (r < 0) {
        fail(e, what, path);
        close(fd);
        textfile_free(buf, n);
        return -1;
    }
    close(fd);
    buf[n] = '\0';
    if (stp) *stp = st;
    *text = buf;
    *len = n;
    return 0;
}

void textfile_free(char *text, size_t len)
{
    if (!text) return;
    OPENSSL_cleanse(text, len);
    free(text);
}
