/* Unit tests for paths.c (the home directory, `~`, the default config file
 * and state directory) and for the one rule as its users see it: cli.c's
 * default state directory and conf.c's `~` when HOME is not set. */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "paths.h"
#include "unit.h"

/* ---- helpers -------------------------------------------------------------- */

static const char *const vars[] = {"HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"};
static char *saved[3];

/* Keep the environment the runner had; every test here puts it back. */
static void env_save(void)
{
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? strdup(v) : NULL;
    }
}

static void env_restore(void)
{
    for (size_t i = 0; i < 3; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        free(saved[i]);
        saved[i] = NULL;
    }
}

/* The password database's home for us (what HOME falls back to). */
static const char *pw_home(void)
{
    static char dir[4096];
    struct passwd *pw = getpwuid(getuid());

    if (!pw || !pw->pw_dir || !*pw->pw_dir) return NULL;
    snprintf(dir, sizeof dir, "%s", pw->pw_dir);
    return dir;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);

    if (fd >= 0) close(fd);
}

/* ---- the rule ------------------------------------------------------------- */

TEST(paths_home_is_HOME_else_the_password_database_else_none)
{
    char buf[64];
    struct err e;

    CHECK(paths_pick_home("/h/env", "/h/pw", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/h/env");
    CHECK(paths_pick_home("", "/h/pw", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/h/pw");
    CHECK(paths_pick_home(NULL, "/h/pw", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/h/pw");
    /* no home at all: never "/", "" or "." */
    CHECK(paths_pick_home(NULL, NULL, buf, sizeof buf, &e) == -1);
    CHECK(e.kind == ERR_USAGE && strstr(e.msg, "no home directory") && strstr(e.msg, "HOME"));
    CHECK(strstr(e.hint, "set HOME") && strstr(e.hint, "--state-dir"));
    CHECK(paths_pick_home("", "", buf, sizeof buf, &e) == -1 && e.kind == ERR_USAGE);
    CHECK(paths_pick_home("/a/home/far/too/long/for/the/buffer", NULL, buf, 8, &e) == -1);
    CHECK(e.kind == ERR_USAGE && strstr(e.msg, "too long"));
}

TEST(paths_home_reads_HOME_then_the_password_database)
{
    const char *pw = pw_home();
    char buf[4096];
    struct err e;
    int rc;

    env_save();
    setenv("HOME", "/some/where", 1);
    rc = paths_home(buf, sizeof buf, &e);
    CHECK(rc == 0 && strcmp(buf, "/some/where") == 0);
    unsetenv("HOME");
    rc = paths_home(buf, sizeof buf, &e);
    if (pw) CHECK(rc == 0 && strcmp(buf, pw) == 0);
    setenv("HOME", "", 1);
    rc = paths_home(buf, sizeof buf, &e);
    if (pw) CHECK(rc == 0 && strcmp(buf, pw) == 0);
    env_restore();
}

TEST(paths_expand_home_only_a_leading_tilde)
{
    char buf[64];
    struct err e;

    env_save();
    setenv("HOME", "/h", 1);
    CHECK(paths_expand_home("~", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/h");
    CHECK(paths_expand_home("~/Mail", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/h/Mail");
    CHECK(paths_expand_home("~bob/Mail", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "~bob/Mail");
    CHECK(paths_expand_home("/x/~/y", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/x/~/y");
    CHECK(paths_expand_home("rel", buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "rel");
    CHECK(paths_expand_home("~/a/long/one", buf, 8, &e) == -1);
    CHECK(e.kind == ERR_USAGE && strstr(e.msg, "~/a/long/one") && strstr(e.msg, "too long"));
    env_restore();
}

TEST(paths_default_config_xdg_then_dot_config_then_popfetchrc)
{
    char home[512], xdg[512], want[1024], buf[1024];
    const char *dir = unit_tmpdir();
    struct err e;

    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    CHECK(mkdir(home, 0700) == 0 && mkdir(xdg, 0700) == 0);
    env_save();
    setenv("HOME", home, 1);
    unsetenv("XDG_CONFIG_HOME");
    /* nothing exists: ~/.popfetchrc (named in the error that follows) */
    CHECK(paths_default_config(buf, sizeof buf, &e) == 0);
    snprintf(want, sizeof want, "%s/.popfetchrc", home);
    CHECK_STR(buf, want);
    /* ~/.config/popfetch/config once it exists */
    snprintf(want, sizeof want, "%s/.config", home);
    mkdir(want, 0700);
    snprintf(want, sizeof want, "%s/.config/popfetch", home);
    mkdir(want, 0700);
    snprintf(want, sizeof want, "%s/.config/popfetch/config", home);
    touch(want);
    CHECK(paths_default_config(buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, want);
    /* $XDG_CONFIG_HOME replaces ~/.config: missing there, ~/.popfetchrc */
    setenv("XDG_CONFIG_HOME", xdg, 1);
    CHECK(paths_default_config(buf, sizeof buf, &e) == 0);
    snprintf(want, sizeof want, "%s/.popfetchrc", home);
    CHECK_STR(buf, want);
    snprintf(want, sizeof want, "%s/popfetch", xdg);
    mkdir(want, 0700);
    snprintf(want, sizeof want, "%s/popfetch/config", xdg);
    touch(want);
    CHECK(paths_default_config(buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, want);
    env_restore();
}

TEST(paths_default_state_xdg_else_under_home)
{
    char buf[1024];
    struct err e;

    env_save();
    setenv("HOME", "/h", 1);
    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    CHECK(paths_default_state(buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/xdg/state/popfetch");
    setenv("XDG_STATE_HOME", "", 1);
    CHECK(paths_default_state(buf, sizeof buf, &e) == 0);
    CHECK_STR(buf, "/h/.local/state/popfetch");
    env_restore();
}

/* ---- its users ------------------------------------------------------------ */

/* Without HOME (cron, `env -i`), the state directory is the user's own,
 * from the password database: never ./.local/state under whatever the
 * current directory happens to be (a second run elsewhere would have lost
 * the seen-state and fetched everything again). */
TEST(cli_default_state_without_HOME_is_under_the_password_database_home)
{
    const char *pw = pw_home();
    char *argv[] = {"popfetch", NULL}, want[4200];
    struct cli_options o;
    struct err e;

    if (!pw) return; /* a user the password database does not know */
    env_save();
    unsetenv("HOME");
    unsetenv("XDG_STATE_HOME");
    optind = 0;
    CHECK(cli_parse(1, argv, &o, &e) == CLI_RUN);
    snprintf(want, sizeof want, "%s/.local/state/popfetch", pw);
    CHECK_STR(o.default_state, want);
    env_restore();
}

TEST(conf_tilde_without_HOME_is_the_password_database_home)
{
    const char *pw = pw_home();
    static const char text[] = "account a\nhost h\nuser u\ndelivery maildir ~/Mail\n";
    char want[4200];
    struct config cfg;
    struct err e;

    if (!pw) return;
    memset(&cfg, 0, sizeof cfg);
    env_save();
    unsetenv("HOME");
    CHECK(conf_parse("rc", text, sizeof text - 1, 1, &cfg, &e) == 0);
    snprintf(want, sizeof want, "%s/Mail", pw);
    CHECK_STR(cfg.accounts[0].delivery.arg, want);
    conf_free(&cfg);
    env_restore();
}
