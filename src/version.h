/* version — the release number, shown by --version. */
#ifndef POPFETCH_VERSION_H
#define POPFETCH_VERSION_H
#define POPFETCH_VERSION "0.1.0"
#endif
