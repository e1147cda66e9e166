/*
 * stop — see stop.h.
 */
#include <signal.h>
#include <string.h>

#include "stop.h"

static volatile sig_atomic_t requested, reload, poll_now, daemon_mode;

static void on_signal(int sig)
{
    if (daemon_mode && sig == SIGHUP)
        reload = 1;
    else if (sig == SIGUSR1)
        poll_now = 1;
    else
        requested = sig;
}

void stop_install(int daemon)
{
    struct sigaction sa;

    daemon_mode = daemon;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (daemon) sigaction(SIGUSR1, &sa, NULL);
}

int stop_requested(void)
{
    return (int)requested;
}

int stop_take_reload(void)
{
    int r = reload;

    reload = 0;
    return r;
}

int stop_take_poll(void)
{
    int r = poll_now;

    poll_now = 0;
    return r;
}
