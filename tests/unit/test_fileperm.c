/* Unit tests for the trust rule on files and directories (fileperm). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileperm.h"
#include "unit.h"

TEST(fileperm_verdict_is_ssh_rule)
{
    CHECK(fileperm_verdict(1000, 0600, 1000) == FILEPERM_OK);
    CHECK(fileperm_verdict(1000, 0755, 1000) == FILEPERM_OK);
    CHECK(fileperm_verdict(0, 0644, 1000) == FILEPERM_OK); /* root's files are fine */
    CHECK(fileperm_verdict(1001, 0600, 1000) == FILEPERM_OWNER);
    CHECK(fileperm_verdict(1000, 0620, 1000) == FILEPERM_GROUP_W);
    CHECK(fileperm_verdict(1000, 0602, 1000) == FILEPERM_OTHERS_W);
    CHECK(fileperm_verdict(0, 0666, 1000) == (FILEPERM_GROUP_W | FILEPERM_OTHERS_W));
    CHECK(fileperm_verdict(1001, 01777, 1000) ==
          (FILEPERM_OWNER | FILEPERM_GROUP_W | FILEPERM_OTHERS_W));
}

/* The words of cmd, joined by '|'. */
static void words(const char *cmd, char *out, size_t len)
{
    char w[64];
    size_t pos = 0, o = 0;
    int cut;

    out[0] = '\0';
    while (fileperm_next_word(cmd, &pos, w, sizeof w, &cut))
        o += (size_t)snprintf(out + o, len - o, "%s%s%s", o ? "|" : "", w, cut ? "(cut)" : "");
}

TEST(fileperm_words_split_like_sh)
{
    char out[512];

    words("gpg -d ~/.pw.gpg", out, sizeof out);
    CHECK_STR(out, "gpg|-d|~/.pw.gpg");
    words("sh '/home/u/my scripts/pw.sh'", out, sizeof out);
    CHECK_STR(out, "sh|/home/u/my scripts/pw.sh");
    words("cat \"/a b\"/c\\ d;head -1</etc/x|tr -d x", out, sizeof out);
    CHECK_STR(out, "cat|/a b/c d|head|-1|/etc/x|tr|-d|x");
    words("echo $(cat /p/q)`cat /r` # cat /not/this\ncat /s", out, sizeof out);
    CHECK_STR(out, "echo|$|cat|/p/q|cat|/r|cat|/s");
    words("x \"a\\\"b\\q\" 'c\\d'", out, sizeof out);
    CHECK_STR(out, "x|a\"b\\q|c\\d");
    words("  \t", out, sizeof out);
    CHECK_STR(out, "");
    words("'unterminated", out, sizeof out);
    CHECK_STR(out, "unterminated");
    words("trailing\\", out, sizeof out);
    CHECK_STR(out, "trailing\\");
    words("x aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa y", out,
          sizeof out);
    CHECK_STR(out, "x|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa(cut)|y");
}

static void make_file(const char *path, mode_t mode)
{
    FILE *f = fopen(path, "w");

    if (f) fclose(f);
    chmod(path, mode);
}

TEST(fileperm_command_checks_the_files_it_names)
{
    const char *d = unit_tmpdir();
    char pw[256], cmd[600], home[256];
    struct err e;

    snprintf(pw, sizeof pw, "%s/pw.sh", d);
    snprintf(home, sizeof home, "%s", d);
    make_file(pw, 0700);
    snprintf(cmd, sizeof cmd, "sh %s", pw);
    CHECK(fileperm_check_command(cmd, home, &e) == 0);
    CHECK(fileperm_check_command("sh ~/pw.sh --no /such/file", home, &e) == 0);

    chmod(pw, 0722);
    CHECK(fileperm_check_command(cmd, home, &e) < 0);
    CHECK(e.kind == ERR_CONFIG_PERM);
    CHECK(strstr(e.msg, pw) && strstr(e.msg, "writable by its group and others"));
    snprintf(cmd, sizeof cmd, "run `chmod go-w %s`", pw);
    CHECK_STR(e.hint, cmd);
    /* reached through ~/ and through quotes, after other words */
    CHECK(fileperm_check_command("gpg -d ~/pw.sh", home, &e) < 0);
    snprintf(cmd, sizeof cmd, "echo x | sh \"%s\"", pw);
    CHECK(fileperm_check_command(cmd, home, &e) < 0);
    /* a directory or a device named by the command is not judged */
    snprintf(cmd, sizeof cmd, "sh -c 'cd %s' 2>/dev/null", d);
    chmod(d, 0777);
    CHECK(fileperm_check_command(cmd, home, &e) == 0);
    chmod(d, 0700);
}

TEST(fileperm_owner_must_be_us_or_root)
{
    const char *d = unit_tmpdir();
    char p[256];
    struct stat st;
    struct err e;

    snprintf(p, sizeof p, "%s/f", d);
    make_file(p, 0600);
    CHECK(stat(p, &st) == 0);
    CHECK(fileperm_check_stat(&st, "config file", p, &e) == 0);
    st.st_uid = geteuid() + 1;
    if (st.st_uid == 0) st.st_uid = 2;
    CHECK(fileperm_check_stat(&st, "config file", p, &e) < 0);
    CHECK(e.kind == ERR_CONFIG_PERM && strstr(e.msg, "config file") && strstr(e.msg, p));
    CHECK(strstr(e.hint, "`chown ") && !strstr(e.hint, "chmod"));
    st.st_mode |= S_IWOTH;
    CHECK(fileperm_check_stat(&st, "config file", p, &e) < 0);
    CHECK(strstr(e.hint, "`chown ") && strstr(e.hint, "`chmod go-w "));
    st.st_uid = 0;
    st.st_mode &= (mode_t)~S_IWOTH;
    CHECK(fileperm_check_stat(&st, "config file", p, &e) == 0);
    CHECK(fileperm_check_path("/no/such/file", "x", &e) == 0);
}
