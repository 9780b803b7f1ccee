/* train_save.c: when and where `mlpcl train` saves: a model file of the trainer's weights,
 * velocity and progress (--save, --checkpoint), and what is kept after a stop signal or
 * divergence. The checkpoint cadence itself is the modes' (cmd_train.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signals.h"
#include "train.h"

int save_model(session *s, const char *path)
{
    int st;
    size_t n = mlpcl_net_n_params(s->net);
    mlpcl_model_info info = {0};
    info.dtype = s->prec;
    info.norm = s->d.norm;
    info.class_names = s->d.train.class_names;
    info.seed = (uint64_t)s->o->seed;
    snprintf(info.device, sizeof info.device, "%s",
             s->ctx ? mlpcl_ctx_device(s->ctx)->name : s->info.device);
    info.epoch = s->epochs_done;
    info.batch = s->batch_pos;
    info.iteration = s->updates;
    info.velocity = s->info.velocity;
    double *v = NULL;
    if (s->tr) {
        if (!(v = malloc(n * sizeof *v))) return failf(EXIT_DEVICE, "out of host memory");
        if ((st = mlpcl_trainer_params(s->tr, s->net)) != MLPCL_OK ||
            (st = mlpcl_trainer_velocity(s->tr, v)) != MLPCL_OK) {
            free(v);
            return lib_fail(st);
        }
        info.velocity = v;
    }
    st = mlpcl_model_save(path, s->net, &info);
    free(v);
    return st == MLPCL_OK ? 0 : lib_fail(st);
}

int save_stopped(session *s, const char *kept)
{
    const train_cli *o = s->o;
    const char *path = o->checkpoint ? o->checkpoint : o->save;
    int rc;
    report_clear_bar(&s->rep);
    if (!path)
        return failf(EXIT_INTERRUPTED,
                     "interrupted by %s: %s. Nothing was saved: give --checkpoint FILE (or "
                     "--save FILE) to keep an interrupted run's progress, then --resume FILE to "
                     "continue it",
                     stop_signal_name(), kept);
    if ((rc = save_model(s, path))) return rc;
    return failf(EXIT_INTERRUPTED,
                 "interrupted by %s: %s; saved to %s. To continue, run the same command with "
                 "--resume %s",
                 stop_signal_name(), kept, path, path);
}

const char *save_diverged(session *s)
{
    const char *paths[2] = {s->o->save, s->o->checkpoint};
    int saved = 0, failed = 0;
    for (int i = 0; i < 2; ++i)
        if (paths[i] && (i == 0 || !paths[0] || strcmp(paths[0], paths[1]))) {
            if (save_model(s, paths[i]))
                failed = 1;
            else
                saved = 1;
        }
    return failed ? " (saving them failed, as said above)" : saved ? " and saved them" : "";
}
