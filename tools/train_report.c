// SPDX-License-Identifier: MIT
/* train_report.c: what `mlpcl train` tells as it goes: the tutorial's cost lines and each
 * epoch's line (stdout), the progress line or bar (stderr, on a terminal only, so that stdout is
 * the same wherever it goes), the JSON-lines log (--log: the settings, then the records) and the
 * closing device line with its times. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

const char *report_duration(double s, char buf[32])
{
    if (!(s >= 0)) s = 0;
    if (s < 1e-3)
        snprintf(buf, 32, "%.2f µs", 1e6 * s);
    else if (s < 1)
        snprintf(buf, 32, "%.2f ms", 1e3 * s);
    else if (s < 60)
        snprintf(buf, 32, "%.2f s", s);
    else
        snprintf(buf, 32, "%.1f min", s / 60);
    return buf;
}

void report_clear_bar(report *r)
{
    if (!r->drawn) return;
    fputs("\r\033[K", stderr); /* back to the line's start, erase it */
    fflush(stderr);
    r->drawn = 0;
}

static void draw_notice(report *r)
{
    fflush(stdout); /* its lines first, where both are the same terminal */
    fprintf(stderr, "\rcompiling kernels for %s…\033[K", r->compiling);
    fflush(stderr);
    r->drawn = 1;
}

void report_build_notice(void *user, mlpcl_build_phase phase, const char *device, double seconds)
{
    report *r = user;
    (void)seconds;
    if (phase == MLPCL_BUILD_START) {
        snprintf(r->compiling, sizeof r->compiling, "%s", device);
        draw_notice(r);
    } else {
        r->compiling[0] = '\0';
        report_clear_bar(r);
    }
}

/* The tutorial's progress line: iteration, cost, iterations/s, drawn at most 10 times a second
 * while no cost line has gone to stdout for a second (printing off or sparse). */
static void tutorial_progress(report *r, long g, double cost)
{
    double t = now_seconds();
    if (r->t0 == 0) r->t0 = t, r->g0 = g, r->last_print = t;
    if (r->compiling[0]) return; /* the notice holds the line */
    if (t - r->last_draw < 0.1 || (r->print_every > 0 && t - r->last_print < 1.0)) return;
    r->last_draw = t;
    char el[32];
    fprintf(stderr, "\riteration %ld cost ", g);
    fprintf(stderr, r->fmt, cost);
    fprintf(stderr, " · %.0f iterations/s · %s\033[K",
            t > r->t0 ? (double)(g - r->g0) / (t - r->t0) : 0.0, report_duration(t - r->t0, el));
    fflush(stderr);
    r->drawn = 1;
}

static void log_cost(report *r, long g, double cost)
{
    if (!r->log) return;
    fprintf(r->log, "{\"iteration\": %ld, ", g);
    log_number(r->log, "cost", cost, 1);
    flush_log(r);
    r->logged = g;
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
    if (r->bar) tutorial_progress(r, g, cost);
    int line = iter == 0 || (r->print_every > 0 && (g - 1) % r->print_every == 0);
    if (!line) return;
    report_clear_bar(r); /* stdout may be the same terminal */
    r->last_print = now_seconds();
    if (iter == 0 && g > 0) {
        fputs("resume: ", stdout);
        printf(r->fmt, cost);
        printf(" at iteration %ld\n", g);
        check_stdout();
        return;
    }
    fputs(iter == 0 ? "start: " : "cost: ", stdout);
    printf(r->fmt, cost);
    putchar('\n');
    check_stdout();
    log_cost(r, g, cost);
    if (r->compiling[0]) draw_notice(r); /* below the start line, until the kernels have run */
}

void report_final(report *r, long iteration, double cost)
{
    report_clear_bar(r);
    if (r->logged != iteration) log_cost(r, iteration, cost);
}

void report_progress(void *user, size_t done, size_t total, double cost)
{
    report *r = user;
    if (isfinite(cost)) r->last_finite = cost;
    if (!r->bar) return;
    double t = now_seconds();
    if (done >= total) {
        report_clear_bar(r);
        return;
    }
    if (t - r->last_draw < 0.1) return;
    r->last_draw = t;
    int width = 30, fill = (int)((double)width * (double)done / (double)total);
    double el = t - r->epoch_t0, here = done > r->first ? (double)(done - r->first) : 0;
    size_t rows = done * r->batch < r->rows ? done * r->batch : r->rows;
    size_t first_rows = r->first * r->batch < r->rows ? r->first * r->batch : r->rows;
    char a[32], b[32];
    fprintf(stderr, "\repoch %ld/%ld [%.*s%*s] %3d%% %zu/%zu loss %.4g · %s, ETA %s, ",
            r->epoch + 1, r->epochs, fill, "==============================", width - fill, "",
            (int)(100.0 * (double)done / (double)total), done, total, cost, report_duration(el, a),
            here > 0 ? report_duration(el / here * (double)(total - done), b) : "?");
    fprintf(stderr, "%.0f samples/s\033[K", el > 0 ? (double)(rows - first_rows) / el : 0.0);
    fflush(stderr);
    r->drawn = 1;
}

static void print_held_out(const char *name, double loss, double acc)
{
    printf(", %s loss %.4f", name, loss);
    if (!isnan(acc)) printf(" accuracy %.2f%%", 100.0 * acc);
}

void report_epoch(report *r, const epoch_line *e)
{
    char d[32];
    report_clear_bar(r);
    printf("epoch %ld/%ld: train loss %.4f", e->epoch, r->epochs, e->loss);
    if (e->first > 0) printf(" (batches %zu-%zu, resumed)", e->first + 1, e->batches);
    if (e->val) print_held_out("validation", e->val_loss, e->val_acc);
    if (e->test) print_held_out("test", e->test_loss, e->test_acc);
    if (e->show_lr) printf(", lr %.6g", e->lr);
    printf(", %s, %.0f samples/s\n", report_duration(e->seconds, d), e->samples_per_second);
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

/* s as a JSON string (or null), escaped. */
static void json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    putc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            putc(*p, f);
    }
    putc('"', f);
}

static void json_key(FILE *f, const char *key, const char *value, int first)
{
    fprintf(f, "%s\"%s\": ", first ? "" : ", ", key);
    json_string(f, value);
}

void report_settings(report *r, const train_cli *o, const mlpcl_ctx *ctx, const mlpcl_net *net,
                     mlpcl_precision prec, size_t samples)
{
    FILE *f = r->log;
    if (!f) return;
    static const char *const acts[] = {[MLPCL_ACT_SIGMOID] = "sigmoid",
                                       [MLPCL_ACT_TANH] = "tanh",
                                       [MLPCL_ACT_RELU] = "relu",
                                       [MLPCL_ACT_LINEAR] = "linear"};
    size_t L = mlpcl_net_layers(net);
    char layers[1024] = "", act[512] = "";
    for (size_t l = 0, n = 0; l <= L && n < sizeof layers - 24; ++l)
        n += (size_t)snprintf(layers + n, sizeof layers - n, l ? ",%zu" : "%zu",
                              mlpcl_net_width(net, l));
    /* With cross-entropy the output layer is a softmax, whatever its activation slot holds */
    int ce = mlpcl_net_loss(net) == MLPCL_LOSS_CE;
    for (size_t l = 1, n = 0; l <= L && n < sizeof act - 12; ++l)
        n += (size_t)snprintf(act + n, sizeof act - n, l > 1 ? ",%s" : "%s",
                              l == L && ce ? "softmax" : acts[mlpcl_net_act(net, l)]);
    fputs("{\"settings\": {", f);
    json_key(f, "mode", o->epoch_mode ? "epochs" : "tutorial", 1);
    json_key(f, "device", mlpcl_ctx_device(ctx)->name, 0);
    json_key(f, "precision", prec == MLPCL_PRECISION_DOUBLE ? "double" : "float", 0);
    json_key(f, "layers", layers, 0);
    json_key(f, "activations", act, 0);
    json_key(f, "loss", ce ? "ce" : "mse", 0);
    json_key(f, "data", o->data ? o->data : o->x_path, 0);
    json_key(f, "resume", o->resume, 0);
    fprintf(f, ", \"samples\": %zu, \"lr\": %.17g, \"momentum\": %.17g, \"seed\": %ld", samples,
            o->lr, o->momentum, o->seed);
    if (o->epoch_mode)
        fprintf(f, ", \"batch\": %ld, \"epochs\": %ld", o->batch, o->epochs);
    else
        fprintf(f, ", \"target\": %.17g, \"max_iter\": %ld, \"print_every\": %ld", o->target,
                o->max_iter, o->print_every);
    fputs("}}\n", f);
}

double report_new_builds(report *r, const mlpcl_trainer *tr)
{
    double b = mlpcl_trainer_build_seconds(tr), d = b - r->built;
    r->built = b;
    return d > 0 ? d : 0;
}

void report_device(const mlpcl_ctx *ctx, mlpcl_precision prec, double train_seconds,
                   long iterations, double setup, double builds, double loading)
{
    const mlpcl_device_info *dev = mlpcl_ctx_device(ctx);
    char where[32], t[4][32];
    if (dev->platform < 0)
        snprintf(where, sizeof where, "host");
    else
        snprintf(where, sizeof where, "%d:%d", dev->platform, dev->device);
    printf("device: %s (%s, %s), precision: %s, time: %s training (%s/iteration), %s setup, ",
           dev->name, where, dev->platform_name,
           prec == MLPCL_PRECISION_DOUBLE ? "double" : "float",
           report_duration(train_seconds, t[0]),
           report_duration(train_seconds / (double)(iterations > 0 ? iterations : 1), t[1]),
           report_duration(setup, t[2]));
    if (builds > 0)
        printf("%s kernel builds, ", report_duration(builds, t[3]));
    else
        fputs("no kernel builds, ", stdout); /* the host trainer, or all cached */
    printf("%s data loading\n", report_duration(loading, t[0]));
}
