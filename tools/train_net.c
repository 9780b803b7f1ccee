// SPDX-License-Identifier: MIT
/* train_net.c: `mlpcl train`'s network: --resume's, checked against the data and against any
 * --layers, --activation, --output and --loss given, or a new one from --layers, --activation,
 * --output, --loss and --init, with defaults taken from the data and the mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static int parse_widths(const char *s, size_t *widths, size_t *n_layers)
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000 || n >= MAX_LAYERS + 1 || (*end && *end != ','))
            return failf(EXIT_USAGE,
                         "train: --layers expects 2 to %d widths from 1 to 1000000 separated "
                         "by commas (inputs,hidden…,outputs), not '%s'",
                         MAX_LAYERS + 1, s);
        widths[n++] = (size_t)v;
        if (!*end) break;
        p = end + 1;
    }
    if (n < 2)
        return failf(EXIT_USAGE,
                     "train: --layers needs at least the inputs and the outputs, not '%s'", s);
    *n_layers = n - 1;
    return 0;
}

static int parse_acts(const char *s, size_t L, mlpcl_act *acts)
{
    static const char *const names[] = {"sigmoid", "tanh", "relu", "linear", NULL};
    mlpcl_act list[MAX_LAYERS + 1];
    size_t n = 0;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; names[i]; ++i)
            if (strlen(names[i]) == len && !strncmp(p, names[i], len)) found = i;
        if (found < 0 || n > MAX_LAYERS)
            return failf(EXIT_USAGE,
                         "train: --activation expects sigmoid, tanh, relu or linear, or a "
                         "list of them separated by commas, not '%s'",
                         s);
        list[n++] = (mlpcl_act)found;
        if (!p[len]) break;
        p += len + 1;
    }
    if (n == 1) { /* every hidden layer; the outputs stay sigmoid */
        for (size_t l = 1; l < L; ++l) acts[l] = list[0];
        return 0;
    }
    if (n != L - 1 && n != L)
        return failf(EXIT_USAGE,
                     "train: --activation lists %zu activations; the network has %zu "
                     "hidden layers (give one, %zu, or %zu with the outputs')",
                     n, L - 1, L - 1, L);
    for (size_t l = 1; l <= n; ++l) acts[l] = list[l - 1];
    return 0;
}

/* --output's names, and the activation each but softmax (the loss's) gives the outputs. */
static const char *const output_names[] = {"sigmoid", "tanh", "linear", "softmax"};
static int output_act(int output)
{
    static const mlpcl_act acts[] = {MLPCL_ACT_SIGMOID, MLPCL_ACT_TANH, MLPCL_ACT_LINEAR};
    return output >= 0 && output < 3 ? (int)acts[output] : -1;
}

/* A note (not an error: the user may mean it) when bounded outputs meet targets they cannot
 * reach: sigmoid's (0, 1), tanh's (−1, 1). */
static void note_targets(const mlpcl_net *net, const mlpcl_dataset *d)
{
    size_t L = mlpcl_net_layers(net);
    mlpcl_act out = mlpcl_net_act(net, L);
    if (mlpcl_net_loss(net) != MLPCL_LOSS_MSE ||
        (out != MLPCL_ACT_SIGMOID && out != MLPCL_ACT_TANH) || !d->n)
        return;
    double lo = d->Y[0], hi = d->Y[0], bound = out == MLPCL_ACT_SIGMOID ? 0.0 : -1.0;
    for (size_t i = 1; i < d->n * d->n_out; ++i) {
        lo = d->Y[i] < lo ? d->Y[i] : lo;
        hi = d->Y[i] > hi ? d->Y[i] : hi;
    }
    if (lo < bound || hi > 1.0)
        fprintf(stderr,
                "mlpcl: note: the targets range over [%g, %g] but %s outputs stay within "
                "(%g, 1); for regression try --output linear\n",
                lo, hi, out == MLPCL_ACT_SIGMOID ? "sigmoid" : "tanh", bound);
}

/* --resume takes the network from its file: --layers, --activation and --loss may be given
 * (so that the command that was interrupted runs again as it is) when they describe that
 * network. */
static int same_net(const train_cli *o, const mlpcl_net *net)
{
    static const char *const act_names[] = {"sigmoid", "tanh", "relu", "linear"};
    size_t L = mlpcl_net_layers(net), widths[MAX_LAYERS + 1], n = 0;
    char have[512] = "", *p = have;
    int rc;
    if (o->layers) {
        if ((rc = parse_widths(o->layers, widths, &n))) return rc;
        int same = n == L;
        for (size_t l = 0; same && l <= L; ++l) same = widths[l] == mlpcl_net_width(net, l);
        for (size_t l = 0; l <= L && p < have + sizeof have - 24; ++l)
            p += sprintf(p, l ? ",%zu" : "%zu", mlpcl_net_width(net, l));
        if (!same)
            return failf(EXIT_USAGE,
                         "train: --resume takes the network from %s, whose layers are %s, not "
                         "--layers %s; leave --layers out or give the file's",
                         o->resume, have, o->layers);
    }
    if (o->activation) {
        mlpcl_act acts[MAX_LAYERS + 1] = {0};
        if (L > MAX_LAYERS) return failf(EXIT_USAGE, "train: %s has %zu layers", o->resume, L);
        if ((rc = parse_acts(o->activation, L, acts))) return rc;
        if (output_act(o->output) >= 0) acts[L] = (mlpcl_act)output_act(o->output);
        int same = 1;
        /* The outputs' entry stays 0 (sigmoid) when not listed, as for a new network. */
        for (size_t l = 1; l <= L; ++l) same &= acts[l] == mlpcl_net_act(net, l);
        p = have;
        for (size_t l = 1; l <= L && p < have + sizeof have - 16; ++l)
            p += sprintf(p, l > 1 ? ",%s" : "%s", act_names[mlpcl_net_act(net, l)]);
        if (!same)
            return failf(EXIT_USAGE,
                         "train: --resume takes the network from %s, whose activations are %s "
                         "(hidden layers, then outputs), not --activation %s; leave it out or "
                         "give the file's",
                         o->resume, have, o->activation);
    }
    mlpcl_act out = mlpcl_net_act(net, L);
    if (o->output >= 0 && (o->output == 3 ? mlpcl_net_loss(net) != MLPCL_LOSS_CE
                                          : mlpcl_net_loss(net) == MLPCL_LOSS_CE ||
                                                (int)out != output_act(o->output)))
        return failf(EXIT_USAGE,
                     "train: --resume takes the network from %s, whose outputs are %s, not "
                     "--output %s; leave it out or give the file's",
                     o->resume, mlpcl_net_loss(net) == MLPCL_LOSS_CE ? "softmax" : act_names[out],
                     output_names[o->output]);
    if (o->loss_given && (mlpcl_loss)o->loss != mlpcl_net_loss(net))
        return failf(EXIT_USAGE,
                     "train: --resume takes the network from %s, whose loss is %s, not --loss "
                     "%s; leave it out or give the file's",
                     o->resume, mlpcl_net_loss(net) == MLPCL_LOSS_CE ? "ce" : "mse",
                     o->loss == MLPCL_LOSS_CE ? "ce" : "mse");
    return 0;
}

/* The network: from --resume's file (already loaded into *net), or from --layers, --activation,
 * --loss and --init. */
int train_make_net(const train_cli *o, const train_data *d, mlpcl_net **net)
{
    int st, rc;
    size_t n_in = d->train.n_in, n_out = d->train.n_out;
    if (o->resume) {
        if ((rc = same_net(o, *net))) return rc;
        if (mlpcl_net_width(*net, 0) != n_in ||
            mlpcl_net_width(*net, mlpcl_net_layers(*net)) != n_out)
            return failf(EXIT_USAGE,
                         "train: %s has %zu inputs and %zu outputs but the data has "
                         "%zu and %zu",
                         o->resume, mlpcl_net_width(*net, 0),
                         mlpcl_net_width(*net, mlpcl_net_layers(*net)), n_in, n_out);
        note_targets(*net, &d->train);
        return 0;
    }
    size_t widths[MAX_LAYERS + 1] = {n_in, o->epoch_mode && o->data ? 256 : 3, n_out}, L = 2;
    if (o->layers && (rc = parse_widths(o->layers, widths, &L))) return rc;
    const char *xs = o->data ? o->data : o->x_path ? o->x_path : "the generated X";
    const char *ys = o->data ? o->data : o->y_path ? o->y_path : "the generated Y";
    if (widths[0] != n_in)
        return failf(EXIT_USAGE, "train: --layers %s starts with %zu inputs but %s has %zu %s",
                     o->layers, widths[0], xs, n_in, o->data ? "features" : "columns");
    if (widths[L] != n_out)
        return failf(EXIT_USAGE, "train: --layers %s ends with %zu outputs but %s has %zu %s",
                     o->layers, widths[L], ys, n_out, o->data ? "targets" : "columns");
    mlpcl_act acts[MAX_LAYERS + 1] = {0};
    if (o->activation && (rc = parse_acts(o->activation, L, acts))) return rc;
    if (output_act(o->output) >= 0) {
        /* --activation's list may name the outputs' too: then they must agree */
        if (o->activation && strchr(o->activation, ',') &&
            acts[L] != (mlpcl_act)output_act(o->output) && acts[L] != MLPCL_ACT_SIGMOID)
            return failf(EXIT_USAGE,
                         "train: --activation %s gives the outputs %s but --output says %s",
                         o->activation,
                         output_names[acts[L] == MLPCL_ACT_TANH     ? 1
                                      : acts[L] == MLPCL_ACT_LINEAR ? 2
                                                                    : 0],
                         output_names[o->output]);
        acts[L] = (mlpcl_act)output_act(o->output);
    }
    if (o->loss == MLPCL_LOSS_CE && n_out < 2)
        return failf(EXIT_USAGE, "train: --loss ce needs at least 2 outputs (classes)");
    /* A network too big to index (its parameters overflow) is bad input, exit 2, not a
     * device's failure. */
    if ((st = mlpcl_net_create(L, widths, net)) != MLPCL_OK)
        return st == MLPCL_ERR_TOO_BIG ? failf(EXIT_USAGE, "%s", mlpcl_last_error()) : lib_fail(st);
    for (size_t l = 1; l <= L; ++l)
        if ((st = mlpcl_net_set_act(*net, l, acts[l])) != MLPCL_OK) return lib_fail(st);
    if ((st = mlpcl_net_set_loss(*net, (mlpcl_loss)o->loss)) != MLPCL_OK) return lib_fail(st);
    mlpcl_init init =
        o->init_given ? (mlpcl_init)o->init : (o->data ? MLPCL_INIT_UNIFORM : MLPCL_INIT_ONES);
    if ((st = mlpcl_net_init(*net, init, (uint64_t)o->seed)) != MLPCL_OK) return lib_fail(st);
    note_targets(*net, &d->train);
    return 0;
}
