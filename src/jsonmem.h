/*
 * jsonmem — jansson's memory comes from here: every block jansson frees is
 * wiped first (OPENSSL_cleanse), so the tokens, codes and secrets that pass
 * through a parsed or dumped JSON document (OAuth2 responses, the token
 * store) do not linger in freed memory.
 *
 * jsonmem_install() must run before the first jansson call of the process
 * (main.c does it first thing); jansson's allocator is process-wide and
 * every module that uses jansson gets the wiping for free. Blocks come from
 * plain malloc(), so what jansson hands out (json_dumps) may still be given
 * to free(); only jansson's own frees wipe, over malloc_usable_size().
 */
#ifndef POPFETCH_JSONMEM_H
#define POPFETCH_JSONMEM_H

void jsonmem_install(void);

#endif
