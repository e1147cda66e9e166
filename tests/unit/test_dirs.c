/* Unit tests for dirs.c (unit_tmpdir() makes a new directory each call: each
 * test takes one) and textfile_read_fd: directories made with their
 * parents at 0700 (existing ones left alone), a failure naming what could
 * not be made; a whole file read from a descriptor, bounded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"
#include "err.h"
#include "textfile.h"
#include "unit.h"

TEST(dirs_make_creates_parents_0700_and_leaves_existing_ones)
{
    char p[4096];
    const char *d = unit_tmpdir();
    struct stat st;
    struct err e;

    snprintf(p, sizeof p, "%s/old", d);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/old/a/b/c", d);
    CHECK(dirs_make(p, "state directory", &e) == 0);
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
    snprintf(p, sizeof p, "%s/old/a", d);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0700);
    snprintf(p, sizeof p, "%s/old", d);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
    snprintf(p, sizeof p, "%s/old/a/b/c", d);
    CHECK(dirs_make(p, "state directory", &e) == 0); /* again: nothing to do */
    CHECK(dirs_fsync(p) == 0);
}

TEST(dirs_make_names_the_directory_it_could_not_make)
{
    char p[4096];
    const char *d = unit_tmpdir();
    struct err e;
    int fd;

    snprintf(p, sizeof p, "%s/file", d);
    CHECK((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0);
    close(fd);
    snprintf(p, sizeof p, "%s/file/sub", d);
    CHECK(dirs_make(p, "status directory", &e) < 0);
    CHECK(e.kind == ERR_LOCAL && strstr(e.msg, "cannot create the status directory") &&
          strstr(e.msg, "/file/sub"));
    CHECK(dirs_make("", "status directory", &e) < 0);
    CHECK(dirs_fsync(p) < 0 && errno == ENOTDIR);
}

TEST(textfile_read_fd_reads_a_whole_bounded_regular_file)
{
    char p[4096], *text;
    const char *d = unit_tmpdir();
    size_t len;
    struct stat st;
    struct err e;
    int fd;

    snprintf(p, sizeof p, "%s/f", d);
    CHECK((fd = open(p, O_RDWR | O_CREAT, 0600)) >= 0);
    CHECK(write(fd, "ab\0cd", 5) == 5);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK(textfile_read_fd(fd, p, 5, "state file", ERR_LOCAL, &text, &len, &st, &e) == 0);
    CHECK(len == 5 && memcmp(text, "ab\0cd", 6) == 0 && st.st_size == 5);
    textfile_free(text, len);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK(textfile_read_fd(fd, p, 4, "state file", ERR_LOCAL, &text, &len, NULL, &e) < 0);
    CHECK(e.kind == ERR_LOCAL && strstr(e.msg, "state file") && strstr(e.msg, "at most 4 bytes"));
    CHECK(text == NULL && len == 0);
    close(fd);
    CHECK((fd = open(d, O_RDONLY)) >= 0);
    CHECK(textfile_read_fd(fd, d, 100, "token store", ERR_LOCAL, &text, &len, NULL, &e) < 0);
    CHECK(strstr(e.msg, "not a regular file"));
    close(fd);
}
