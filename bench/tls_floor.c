/*
 * tls_floor — the least a POP3S client built on OpenSSL can be: connect to
 * HOST PORT, verify the server against CAFILE, complete the TLS handshake,
 * read the greeting, send QUIT, exit. bench/run times nothing here; it
 * reports this program's peak RSS beside the tools', as the floor that
 * dynamic OpenSSL alone sets for every client in the table.
 *
 * Usage: tls_floor HOST PORT CAFILE   (exit 0 when the greeting was +OK)
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

static int tcp_connect(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int fd = -1;

    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int main(int argc, char **argv)
{
    char buf[512];
    int fd, n, ok;
    SSL_CTX *ctx;
    SSL *ssl;

    if (argc != 4) {
        fprintf(stderr, "usage: tls_floor HOST PORT CAFILE\n");
        return 2;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1) return 1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if ((fd = tcp_connect(argv[1], argv[2])) < 0) return 1;
    ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) return 1;
    n = SSL_read(ssl, buf, (int)sizeof buf - 1);
    ok = n > 3 && memcmp(buf, "+OK", 3) == 0;
    SSL_write(ssl, "QUIT\r\n", 6);
    SSL_read(ssl, buf, (int)sizeof buf - 1);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return ok ? 0 : 1;
}
