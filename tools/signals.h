/* signals.h: how the command stops cleanly: SIGINT and SIGTERM raise a flag that the library
 * polls (mlpcl_train_opts.interrupt), and a second one ends the process at once. */
#ifndef MLPCL_SIGNALS_H
#define MLPCL_SIGNALS_H

#include <signal.h>

/* Set by SIGINT or SIGTERM once catch_stop_signals has run. */
extern volatile sig_atomic_t stop_flag;

/* Catches SIGINT and SIGTERM (except one the process started deaf to). */
void catch_stop_signals(void);
/* "SIGINT" or "SIGTERM": which set stop_flag, for messages. */
const char *stop_signal_name(void);

#endif
