// SPDX-License-Identifier: MIT
/* train_report.c: what `mlpcl train` tells as it goes: the tutorial's cost lines, the progress
 * bar of an epoch on a terminal, each epoch's line, the JSON-lines log (--log) and the closing
 * device line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "signals.h"
#include "train.h"

/* A write that failed stops training as a signal would (signals.c): the state is saved and
 * the command exits non-zero, instead of training on with its output lost. Called right after
 * the writes, so that errno is still theirs. */
static void check_stdout(void)
{
    if (ferror(stdout)) stop_for_write("standard output", NULL, errno);
}

static void flush_log(const report *r)
{
    errno = 0;
    if (fflush(r->log) || ferror(r->log)) stop_for_write("the log", r->log_path, errno);
}

static void log_number(FILE *f, const char *key, double v, int last)
{
    if (isnan(v) || isinf(v))
        fprintf(f, "\"%s\": null%s", key, last ? "}\n" : ", ");
    else
        fprintf(f, "\"%s\": %.17g%s", key, v, last ? "}\n" : ", ");
}

/* Prints what the tutorial prints, when it prints it: the start, then after iterations 1,
 * 1 + every, 1 + 2·every, … counted from the first run, so that a resumed run prints the same
 * lines as the run it continues would have. */
void report_cost(void *user, long iter, double cost)
{
    report *r = user;
    long g = r->base + iter;
    if (iter == 0 && r->runs > 1) return; /* read already, at the end of the previous run */
    if (isfinite(cost)) r->last_finite = cost;
    if (iter == 0 && g > 0) {
        fputs("resume: ", stdout);
        printf(r->fmt, cost);
        printf(" at iteration %ld\n", g);
        check_stdout();
        return;
    }
    if (iter == 0) {
        fputs("start: ", stdout);
    } else if (r->print_every > 0 && (g - 1) % r->print_every == 0) {
        fputs("cost: ", stdout);
    } else {
        return;
    }
    printf(r->fmt, cost);
    putchar('\n');
    check_stdout();
    if (r->log) {
        fprintf(r->log, "{\"iteration\": %ld, ", g);
        log_number(r->log, "cost", cost, 1);
        flush_log(r);
    }
}

void report_progress(void *user, size_t done, size_t total, double cost)
{
    report *r = user;
    if (isfinite(cost)) r->last_finite = cost;
    double t = now_seconds();
    if (!r->bar || (done < total && t - r->last_draw < 0.1)) return;
    r->last_draw = t;
    int width = 30, fill = (int)((double)width * (double)done / (double)total);
    printf("\repoch %ld/%ld [%.*s%*s] %3d%% %zu/%zu loss %.4g ", r->epoch + 1, r->epochs, fill,
           "==============================", width - fill, "",
           (int)(100.0 * (double)done / (double)total), done, total, cost);
    fflush(stdout);
    if (done == total) printf("\r%*s\r", 80, "");
    check_stdout();
}

void report_clear_bar(const report *r)
{
    if (r->bar) printf("\r%*s\r", 80, "");
}

static void print_held_out(const char *name, double loss, double acc)
{
    printf(", %s loss %.4f", name, loss);
    if (!isnan(acc)) printf(" accuracy %.2f%%", 100.0 * acc);
}

void report_epoch(const report *r, const epoch_line *e)
{
    printf("epoch %ld/%ld: train loss %.4f", e->epoch, r->epochs, e->loss);
    if (e->first > 0) printf(" (batches %zu-%zu, resumed)", e->first + 1, e->batches);
    if (e->val) print_held_out("validation", e->val_loss, e->val_acc);
    if (e->test) print_held_out("test", e->test_loss, e->test_acc);
    if (e->show_lr) printf(", lr %.6g", e->lr);
    printf(", %.2f s, %.0f samples/s\n", e->seconds, e->samples_per_second);
    fflush(stdout);
    check_stdout();
    if (r->log) {
        FILE *f = r->log;
        fprintf(f, "{\"epoch\": %ld, ", e->epoch);
        log_number(f, "train_loss", e->loss, 0);
        log_number(f, "validation_loss", e->val_loss, 0);
        log_number(f, "validation_accuracy", e->val_acc, 0);
        log_number(f, "test_loss", e->test_loss, 0);
        log_number(f, "test_accuracy", e->test_acc, 0);
        log_number(f, "lr", e->lr, 0);
        log_number(f, "seconds", e->seconds, 0);
        log_number(f, "samples_per_second", e->samples_per_second, 1);
        flush_log(r);
    }
}

void report_device(const mlpcl_ctx *ctx, mlpcl_precision prec, double train_seconds,
                   long iterations, double setup)
{
    const mlpcl_device_info *dev = mlpcl_ctx_device(ctx);
    char where[32];
    if (dev->platform < 0)
        snprintf(where, sizeof where, "host");
    else
        snprintf(where, sizeof where, "%d:%d", dev->platform, dev->device);
    printf("device: %s (%s, %s), precision: %s, time: %.3f ms training (%.2f us/iteration), "
           "%.3f ms setup\n",
           dev->name, where, dev->platform_name,
           prec == MLPCL_PRECISION_DOUBLE ? "double" : "float", 1e3 * train_seconds,
           1e6 * train_seconds / (double)(iterations > 0 ? iterations : 1), 1e3 * setup);
}
