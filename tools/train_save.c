// SPDX-License-Identifier: MIT
/* train_save.c: when and where `mlpcl train` saves: a model file of the trainer's weights,
 * velocity, progress and settings (--save, --checkpoint), checked writable before training and
 * the checkpoint locked for the run; what is kept at the end, after a stop signal or after
 * divergence. The checkpoint cadence itself is the modes' (cmd_train.c). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signals.h"
#include "train.h"
#include "train_mpi.h"

int save_model(session *s, const char *path)
{
    if (train_mpi_rank()) return 0; /* under mpirun, rank 0 alone saves */
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
    info.adam_s = s->info.adam_s;
    info.adam_step = s->info.adam_step;
    info.run = s->ctx ? s->run : s->info.run; /* before training: --resume's, unchanged */
    double *v = NULL, *as = NULL;
    if (s->tr) {
        /* Adam's second moments and step count too, when it trains with Adam or AdamW */
        int adam = s->o->optimizer != MLPCL_OPT_SGD;
        if (!(v = malloc(n * sizeof *v)) || (adam && !(as = malloc(n * sizeof *as)))) {
            free(v);
            return failf(EXIT_DEVICE, "out of host memory");
        }
        if ((st = mlpcl_trainer_params(s->tr, s->net)) != MLPCL_OK ||
            (st = mlpcl_trainer_velocity(s->tr, v)) != MLPCL_OK ||
            (adam && (st = mlpcl_trainer_adam_state(s->tr, as, &info.adam_step)) != MLPCL_OK)) {
            free(v);
            free(as);
            return lib_fail(st);
        }
        info.velocity = v;
        info.adam_s = as;
    }
    st = mlpcl_model_save(path, s->net, &info);
    free(v);
    free(as);
    return st == MLPCL_OK ? 0 : lib_fail(st);
}

int save_final(session *s)
{
    const char *paths[2] = {s->o->save, s->o->checkpoint};
    int rc = 0;
    for (int i = 0; i < 2; ++i) /* both, whatever befalls the first */
        if (paths[i] && (i == 0 || !paths[0] || strcmp(paths[0], paths[1]))) {
            int r = save_model(s, paths[i]);
            if (!rc) rc = r;
        }
    return rc;
}

int save_stopped(session *s, const char *kept)
{
    if (train_mpi_rank()) return EXIT_INTERRUPTED; /* rank 0 saves, and says so */
    const train_cli *o = s->o;
    const char *path = o->checkpoint ? o->checkpoint : o->save;
    int rc;
    report_clear_bar(&s->rep);
    if (!path)
        return failf(EXIT_INTERRUPTED,
                     "interrupted by %s: %s. Nothing was saved: give --checkpoint FILE (or "
                     "--save FILE) to keep an interrupted run's progress, then --resume FILE to "
                     "continue it",
                     stop_cause(), kept);
    if ((rc = save_model(s, path))) {
        /* The checkpoint failed: --save, if another file, keeps the work instead. */
        if (path == o->save || !o->save || !strcmp(o->save, path) || save_model(s, o->save))
            return rc;
        path = o->save;
    }
    return failf(EXIT_INTERRUPTED,
                 "interrupted by %s: %s; saved to %s. To continue, run the same command with "
                 "--resume %s",
                 stop_cause(), kept, path, path);
}

/* Creates and removes a temporary file beside path, as the save will, so that a path that
 * cannot be written is found before training rather than after. */
static int probe(const char *opt, const char *path)
{
    static const char suffix[] = ".tmp.XXXXXX";
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return failf(EXIT_USAGE, "train: %s %s is a folder; give a file name (nothing was trained)",
                     opt, path);
    size_t n = strlen(path);
    char *tmp = malloc(n + sizeof suffix);
    if (!tmp) return failf(EXIT_DEVICE, "out of host memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, suffix, sizeof suffix);
    int fd = mkstemp(tmp), err = errno;
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    if (fd < 0)
        return failf(EXIT_USAGE,
                     "train: %s %s cannot be written: a file cannot be created in its folder "
                     "(%s); nothing was trained",
                     opt, path, strerror(err));
    return 0;
}

int save_check_paths(session *s)
{
    if (train_mpi_rank()) return 0;
    const train_cli *o = s->o;
    int rc = 0;
    if (o->save && (rc = probe("--save", o->save))) return rc;
    if (o->checkpoint && (rc = probe("--checkpoint", o->checkpoint))) return rc;
    if (!o->checkpoint) return 0;
    /* The lock is on FILE.lock, not FILE: each save renames a new file over FILE, and a lock
     * goes with the file it was taken on. */
    size_t n = strlen(o->checkpoint);
    if (!(s->lock_path = malloc(n + 6))) return failf(EXIT_DEVICE, "out of host memory");
    memcpy(s->lock_path, o->checkpoint, n);
    memcpy(s->lock_path + n, ".lock", 6);
    for (int attempt = 0; attempt < 100; ++attempt) {
        int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            rc = failf(EXIT_USAGE, "train: cannot create %s to lock --checkpoint %s: %s",
                       s->lock_path, o->checkpoint, strerror(errno));
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB)) {
            int err = errno;
            close(fd);
            if (err == EWOULDBLOCK)
                rc = failf(EXIT_USAGE,
                           "train: another run is using --checkpoint %s (it holds the lock on "
                           "%s); wait for it to end, or give another --checkpoint",
                           o->checkpoint, s->lock_path);
            else
                rc = failf(EXIT_USAGE, "train: cannot lock %s: %s", s->lock_path, strerror(err));
            break;
        }
        /* The run before may have removed the file between our open and flock: then the lock
         * is on a file nobody else will see; take it again on the one at the path. */
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(s->lock_path, &named) == 0 &&
            held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
            s->lock_fd = fd;
            return 0;
        }
        close(fd);
    }
    if (!rc) rc = failf(EXIT_USAGE, "train: cannot lock %s", s->lock_path);
    free(s->lock_path);
    s->lock_path = NULL;
    return rc;
}

void save_unlock(session *s)
{
    if (!s->lock_path) return;
    /* Removed while still held, so that no other run can lock the file being removed unseen
     * (it checks the file it locked is the one at the path). */
    unlink(s->lock_path);
    close(s->lock_fd);
    free(s->lock_path);
    s->lock_path = NULL;
}

const char *save_diverged(session *s)
{
    report_clear_bar(&s->rep); /* the message starts its own line */
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
