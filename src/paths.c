/*
 * paths — the home directory and the default places under it. See paths.h.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

#define PATHS_PWBUF 16384
#define PATHS_MAX   4096

static int too_long(struct err *e, const char *what)
{
    return err_set(e, ERR_USAGE, "%s: the path is too long", what);
}

int paths_pick_home(const char *env_home, const char *pw_dir, char *buf, size_t len, struct err *e)
{
    const char *home = env_home && *env_home ? env_home : pw_dir && *pw_dir ? pw_dir : NULL;

    if (!home) {
        err_set(e, ERR_USAGE,
                "there is no home directory: HOME is not set and the password database "
                "has none for user id %ld",
                (long)getuid());
        err_hint(e, "set HOME, or name the place (-f FILE, --state-dir DIR, a path without ~)");
        return -1;
    }
    if ((size_t)snprintf(buf, len, "%s", home) >= len) return too_long(e, "the home directory");
    return 0;
}

int paths_home(char *buf, size_t len, struct err *e)
{
    const char *env_home = getenv("HOME");
    struct passwd pw, *res = NULL;
    char *tmp;
    int rc;

    if (env_home && *env_home) return paths_pick_home(env_home, NULL, buf, len, e);
    if (!(tmp = malloc(PATHS_PWBUF))) return err_set(e, ERR_INTERNAL, "out of memory");
    if (getpwuid_r(getuid(), &pw, tmp, PATHS_PWBUF, &res) != 0) res = NULL;
    rc = paths_pick_home(NULL, res ? res->pw_dir : NULL, buf, len, e);
    free(tmp);
    return rc;
}

/* home + rest into buf; an error names `what`. */
static int under_home(const char *rest, char *buf, size_t len, const char *what, struct err *e)
{
    char home[PATHS_MAX];

    if (paths_home(home, sizeof home, e) < 0) {
        err_prefix(e, "%s", what);
        return -1;
    }
    if ((size_t)snprintf(buf, len, "%s%s", home, rest) >= len) return too_long(e, what);
    return 0;
}

int paths_expand_home(const char *path, char *buf, size_t len, struct err *e)
{
    if (path[0] == '~' && (path[1] == '\0' || path[1] == '/'))
        return under_home(path + 1, buf, len, path, e);
    if ((size_t)snprintf(buf, len, "%s", path) >= len) return too_long(e, path);
    return 0;
}

/* $var + rest when var is set and not empty: 1 (written), 0 (unset), -1. */
static int from_xdg(const char *var, const char *rest, char *buf, size_t len, struct err *e)
{
    const char *dir = getenv(var);

    if (!dir || !*dir) return 0;
    if ((size_t)snprintf(buf, len, "%s%s", dir, rest) >= len) return too_long(e, var);
    return 1;
}

int paths_default_config(char *buf, size_t len, struct err *e)
{
    const char *what = "the default config file";
    char rc_path[PATHS_MAX];
    struct stat st;
    struct err why;
    int xdg = from_xdg("XDG_CONFIG_HOME", "/popfetch/config", buf, len, e);

    if (xdg < 0) return -1;
    if (!xdg && under_home("/.config/popfetch/config", buf, len, what, e) < 0) return -1;
    if (stat(buf, &st) == 0) return 0;
    /* ~/.popfetchrc; without a home, the XDG path stays (opening it will fail, naming it) */
    if (under_home("/.popfetchrc", rc_path, sizeof rc_path, what, xdg ? &why : e) < 0)
        return xdg ? 0 : -1;
    if ((size_t)snprintf(buf, len, "%s", rc_path) >= len) return too_long(e, what);
    return 0;
}

int paths_no_config(struct err *e)
{
    char xdg[PATHS_MAX], rc[PATHS_MAX];
    struct err why;
    int x = from_xdg("XDG_CONFIG_HOME", "/popfetch/config", xdg, sizeof xdg, e);

    if (x < 0) return -1;
    if (!x && under_home("/.config/popfetch/config", xdg, sizeof xdg, "", &why) < 0)
        snprintf(xdg, sizeof xdg, "~/.config/popfetch/config");
    if (under_home("/.popfetchrc", rc, sizeof rc, "", &why) < 0)
        snprintf(rc, sizeof rc, "~/.popfetchrc");
    err_set(e, ERR_USAGE, "no config file: neither %s nor %s exists", xdg, rc);
    err_hint(e, "create one (see `man popfetchrc`; --import-fetchmailrc converts a fetchmail "
                "rc file), or name one with -f FILE");
    return -1;
}

int paths_default_state(char *buf, size_t len, struct err *e)
{
    int xdg = from_xdg("XDG_STATE_HOME", "/popfetch", buf, len, e);

    if (xdg != 0) return xdg < 0 ? -1 : 0;
    return under_home("/.local/state/popfetch", buf, len, "the default state directory", e);
}
