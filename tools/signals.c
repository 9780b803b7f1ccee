/* signals.c: SIGINT and SIGTERM for the command: the first raises stop_flag, which the library
 * polls after each cost read so that training stops cleanly and saves; the second ends the
 * process the default way. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "signals.h"

volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stop_signal;
static struct sigaction default_action; /* SIG_DFL, made before any handler can run */
static int caught[2];                   /* SIGINT, SIGTERM: whether we catch it */

static void on_stop_signal(int sig)
{
    stop_flag = 1;
    stop_signal = sig;
    /* The next SIGINT or SIGTERM ends the process at once, the default way (sigaction is
     * async-signal-safe). */
    if (caught[0]) sigaction(SIGINT, &default_action, NULL);
    if (caught[1]) sigaction(SIGTERM, &default_action, NULL);
}

/* A signal ignored when the process started stays so (a shell starts background jobs so, deaf
 * to Ctrl-C). SA_RESTART: a write to the terminal or a model file that the signal lands in goes
 * on instead of failing with EINTR. */
void catch_stop_signals(void)
{
    static const int sigs[2] = {SIGINT, SIGTERM};
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int i = 0; i < 2; ++i)
        caught[i] = sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN &&
                    sigaction(sigs[i], &sa, NULL) == 0;
}

const char *stop_signal_name(void)
{
    return stop_signal == SIGTERM ? "SIGTERM" : "SIGINT";
}
