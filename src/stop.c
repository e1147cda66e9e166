/*
 * stop — see stop.h.
 */
#include <signal.h>
#include <string.h>

#include "stop.h"

static volatile sig_atomic_t requested;

static void on_signal(int sig)
{
    requested = sig;
}

void stop_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int stop_requested(void)
{
    return (int)requested;
}
