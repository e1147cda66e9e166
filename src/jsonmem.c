/*
 * jsonmem — a wiping allocator for jansson. See jsonmem.h.
 */
#include <malloc.h>
#include <stdlib.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "jsonmem.h"

/* The whole block as the C library sized it: what jansson wrote is in it. */
static void wiping_free(void *p)
{
    if (!p) return;
    OPENSSL_cleanse(p, malloc_usable_size(p));
    free(p);
}

void jsonmem_install(void)
{
    json_set_alloc_funcs(malloc, wiping_free);
}
