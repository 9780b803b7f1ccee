// SPDX-License-Identifier: MIT
/* signals.h: how the command stops cleanly: SIGINT, SIGTERM and SIGHUP raise a flag that the
 * library polls (mlpcl_train_opts.interrupt), and a second one ends the process at once; a
 * write error on standard output or the log raises the same flag (SIGPIPE is ignored). */
#ifndef MLPCL_SIGNALS_H
#define MLPCL_SIGNALS_H

#include <signal.h>

/* Set by SIGINT, SIGTERM or SIGHUP once catch_stop_signals has run, or by stop_for_write. */
extern volatile sig_atomic_t stop_flag;

/* Catches SIGINT, SIGTERM and SIGHUP (except one the process started deaf to) and ignores
 * SIGPIPE, so that a closed pipe is a write error the command sees. */
void catch_stop_signals(void);
/* Stops training as a signal would, because writing `what` ("standard output", "the log") named
 * path (or NULL) failed with errno err (0: unknown). The first cause is kept. */
void stop_for_write(const char *what, const char *path, int err);
/* Whether stop_for_write stopped training (rather than a signal). */
int stopped_for_write(void);
/* Why stop_flag is set, for messages: "SIGINT", "SIGTERM", "SIGHUP", or "a write error on
 * standard output (Broken pipe)". */
const char *stop_cause(void);

#endif
