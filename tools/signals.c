// SPDX-License-Identifier: MIT
/* signals.c: SIGINT, SIGTERM and SIGHUP for the command: the first raises stop_flag, which the
 * library polls after each cost read so that training stops cleanly and saves; the second ends
 * the process the default way. A failed write of the output stops training the same way. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "signals.h"

#define N_SIGS 3

volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stop_signal;
static struct sigaction default_action; /* SIG_DFL, made before any handler can run */
static const int sigs[N_SIGS] = {SIGINT, SIGTERM, SIGHUP};
static int caught[N_SIGS]; /* whether we catch each */
static char write_cause[300];

static void on_stop_signal(int sig)
{
    stop_flag = 1;
    if (!stop_signal && !write_cause[0]) stop_signal = sig;
    /* The next stop signal ends the process at once, the default way (sigaction is
     * async-signal-safe). */
    for (int i = 0; i < N_SIGS; ++i)
        if (caught[i]) sigaction(sigs[i], &default_action, NULL);
}

/* A signal ignored when the process started stays so (a shell starts background jobs so, deaf
 * to Ctrl-C; nohup starts a command deaf to SIGHUP). SA_RESTART: a write to the terminal or a
 * model file that the signal lands in goes on instead of failing with EINTR. SIGPIPE is
 * ignored: a reader that went away (`mlpcl train | head -1`) is then a write error, which
 * stops training and saves, instead of killing the process with the run's work unsaved. */
void catch_stop_signals(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_SIGS; ++i) sigaddset(&sa.sa_mask, sigs[i]);
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int i = 0; i < N_SIGS; ++i)
        caught[i] = sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN &&
                    sigaction(sigs[i], &sa, NULL) == 0;
    signal(SIGPIPE, SIG_IGN);
}

void stop_for_write(const char *what, const char *path, int err)
{
    if (!stop_signal && !write_cause[0])
        snprintf(write_cause, sizeof write_cause, "a write error on %s%s%s (%s)", what,
                 path ? " " : "", path ? path : "", err ? strerror(err) : "write error");
    stop_flag = 1;
}

int stopped_for_write(void)
{
    return !stop_signal && write_cause[0];
}

const char *stop_cause(void)
{
    if (stop_signal == SIGTERM) return "SIGTERM";
    if (stop_signal == SIGHUP) return "SIGHUP";
    if (stop_signal == SIGINT || !write_cause[0]) return "SIGINT";
    return write_cause;
}
