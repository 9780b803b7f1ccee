// SPDX-License-Identifier: MIT
/* tutorial.c: the tutorial's network trained through mlpcl's public API alone: 2 inputs, 3
 * sigmoid hidden units, 2 sigmoid outputs, every weight and bias 1.0, 10 random samples, least
 * squares, gradient descent with step 0.01 until the cost is below 0.1. Prints the device, then
 * `end: COST` and `cnt: ITERATIONS` as `mlpcl train` does. Usage: tutorial [DEVICE], DEVICE as
 * `mlpcl train --device` takes it (default: $MLPCL_DEVICE, else the first GPU, else CPU). */
#include <mlpcl.h>
#include <stdio.h>

/* Prints what failed and returns the exit status for it. */
static int fail(const char *call, mlpcl_status st)
{
    fprintf(stderr, "tutorial: %s: %s: %s\n", call, mlpcl_status_str(st), mlpcl_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *device = argc > 1 ? argv[1] : NULL;
    const size_t widths[] = {2, 3, 2};
    double X[10 * 2], Y[10 * 2];
    mlpcl_tutorial_data(10, 1, X, Y); /* seed 1: `mlpcl train`'s default data */

    mlpcl_ctx *ctx = NULL;
    mlpcl_net *net = NULL;
    mlpcl_trainer *tr = NULL;
    mlpcl_status st;
    int rc = 0;
    if ((st = mlpcl_ctx_create(device, 0, &ctx)) != MLPCL_OK) return fail("mlpcl_ctx_create", st);
    const mlpcl_device_info *dev = mlpcl_ctx_device(ctx);
    /* Float on OpenCL devices, as `mlpcl train` chooses; the host trainer is double only. */
    mlpcl_precision prec = dev->platform < 0 ? MLPCL_PRECISION_DOUBLE : MLPCL_PRECISION_FLOAT;
    printf("device: %s (%s), precision: %s\n", dev->name, dev->platform_name,
           prec == MLPCL_PRECISION_DOUBLE ? "double" : "float");

    /* Every layer sigmoid and the loss least squares are the defaults of a new network. */
    if ((st = mlpcl_net_create(2, widths, &net)) != MLPCL_OK) {
        rc = fail("mlpcl_net_create", st);
    } else if ((st = mlpcl_net_init(net, MLPCL_INIT_ONES, 0)) != MLPCL_OK) {
        rc = fail("mlpcl_net_init", st);
    } else if ((st = mlpcl_trainer_create(ctx, net, X, Y, 10, prec, 0, &tr)) != MLPCL_OK) {
        rc = fail("mlpcl_trainer_create", st);
    } else {
        mlpcl_train_opts opts;
        mlpcl_train_opts_default(&opts); /* lr 0.01, target 0.1: the tutorial's */
        mlpcl_train_result res;
        if ((st = mlpcl_trainer_run(tr, &opts, &res)) != MLPCL_OK) {
            rc = fail("mlpcl_trainer_run", st);
        } else {
            printf("start: %.9g\nend: %.9g\ncnt: %ld\n", res.start_cost, res.cost, res.iterations);
            if (res.stop != MLPCL_STOP_CONVERGED) {
                fprintf(stderr, "tutorial: not converged (stop %d)\n", (int)res.stop);
                rc = 1;
            }
        }
    }
    mlpcl_trainer_free(tr);
    mlpcl_net_free(net);
    mlpcl_ctx_free(ctx);
    return rc;
}
