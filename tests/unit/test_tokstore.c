/* Unit tests for the OAuth2 token store (tokstore). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokstore.h"
#include "unit.h"

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int exists(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

TEST(tokstore_round_trip_private_file)
{
    const char *dir = unit_tmpdir();
    struct tokstore t = {0}, r;
    struct err e;
    struct stat st;
    char path[512];
    int found;

    CHECK(tokstore_load(dir, "k", &r, &found, &e) == 0 && !found);
    CHECK(tokstore_set(&t.client_id, "cid") == 0 && tokstore_set(&t.token_url, "https://t/") == 0);
    CHECK(tokstore_set(&t.access_token, "AT.1") == 0 &&
          tokstore_set(&t.refresh_token, "RT/1") == 0);
    t.expires_at = 1900000000;
    CHECK(tokstore_save(dir, "k", &t, &e) == 0);
    CHECK(t.generation == 1);
    CHECK(tokstore_save(dir, "k", &t, &e) == 0);
    snprintf(path, sizeof path, "%s/k.oauth2", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(!exists(dir, "k.oauth2.new"));
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == 0 && found);
    CHECK(r.generation == 2 && r.expires_at == 1900000000);
    CHECK_STR(r.access_token, "AT.1");
    CHECK_STR(r.refresh_token, "RT/1");
    CHECK_STR(r.client_id, "cid");
    CHECK(r.refused == NULL);
    tokstore_free(&r);
    tokstore_free(&t);
}

TEST(tokstore_crash_leftovers)
{
    const char *dir = unit_tmpdir();
    struct tokstore r;
    struct err e;
    int found;

    /* a whole, newer .new wins and becomes the store */
    put_file(dir, "k.oauth2", "{\"popfetch_oauth2\":1,\"generation\":4,\"refresh_token\":\"OLD\"}");
    put_file(dir, "k.oauth2.new",
             "{\"popfetch_oauth2\":1,\"generation\":5,\"refresh_token\":\"NEW\"}\n");
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == 0 && found);
    CHECK_STR(r.refresh_token, "NEW");
    CHECK(!exists(dir, "k.oauth2.new"));
    tokstore_free(&r);
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == 0 && found);
    CHECK_STR(r.refresh_token, "NEW");
    tokstore_free(&r);
    /* a torn .new is dropped */
    put_file(dir, "k.oauth2.new", "{\"popfetch_oauth2\":1,\"generation\":6,\"refresh_tok");
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == 0 && found);
    CHECK_STR(r.refresh_token, "NEW");
    CHECK(r.generation == 5);
    CHECK(!exists(dir, "k.oauth2.new"));
    tokstore_free(&r);
    /* an older .new is dropped */
    put_file(dir, "k.oauth2.new",
             "{\"popfetch_oauth2\":1,\"generation\":3,\"refresh_token\":\"X\"}");
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == 0 && found);
    CHECK_STR(r.refresh_token, "NEW");
    tokstore_free(&r);
    /* only a .new (the crash came before the first store's rename) */
    unlink("/nonexistent");
    {
        char path[512];
        snprintf(path, sizeof path, "%s/k.oauth2", dir);
        unlink(path);
    }
    put_file(dir, "k.oauth2.new",
             "{\"popfetch_oauth2\":1,\"generation\":1,\"refresh_token\":\"F\"}");
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == 0 && found);
    CHECK_STR(r.refresh_token, "F");
    tokstore_free(&r);
}

TEST(tokstore_refuses_bad_files)
{
    const char *dir = unit_tmpdir();
    struct tokstore r;
    struct err e;
    char target[512], link[512];
    int found;

    put_file(dir, "k.oauth2", "{\"popfetch_oauth2\":1,\"refresh_token\":\"bad token\"}");
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == -1);
    CHECK(e.kind == ERR_LOCAL && strstr(e.msg, "damaged") != NULL);
    CHECK(strstr(e.msg, "bad token") == NULL);
    put_file(dir, "k.oauth2", "{\"popfetch_oauth2\":2,\"refresh_token\":\"t\"}");
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == -1);
    CHECK(strstr(e.msg, "newer popfetch") != NULL);
    put_file(dir, "k.oauth2", "not json");
    CHECK(tokstore_load(dir, "k", &r, &found, &e) == -1);
    /* a symbolic link at the store's name is never followed */
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    snprintf(link, sizeof link, "%s/l.oauth2", dir);
    put_file(dir, "elsewhere", "{\"popfetch_oauth2\":1}");
    CHECK(symlink(target, link) == 0);
    CHECK(tokstore_load(dir, "l", &r, &found, &e) == -1);
    CHECK(e.kind == ERR_CONFIG_PERM);
    snprintf(link, sizeof link, "%s/m.oauth2.new", dir);
    CHECK(symlink(target, link) == 0);
    {
        struct tokstore t = {0};
        CHECK(tokstore_save(dir, "m", &t, &e) == 0); /* the stale link is removed, not followed */
        tokstore_free(&t);
    }
    {
        char buf[64] = "";
        FILE *f = fopen(target, "r");
        CHECK(f != NULL);
        CHECK(fgets(buf, sizeof buf, f) != NULL);
        fclose(f);
        CHECK_STR(buf, "{\"popfetch_oauth2\":1}"); /* the link's target is untouched */
    }
}
