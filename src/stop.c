/*
 * stop — see stop.h.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

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

int stop_poll(struct pollfd *p, nfds_t n, int timeout_ms)
{
    sigset_t stops, old;
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    int r, saved;

    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGHUP);
    sigprocmask(SIG_BLOCK, &stops, &old);
    if (stop_requested()) {
        r = -1;
        saved = EINTR;
    } else {
        r = ppoll(p, n, timeout_ms < 0 ? NULL : &ts, &old);
        saved = errno;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return r;
}
