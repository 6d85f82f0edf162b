/* Internal to the CLI: one training run, shared by train and sweep. It
 * prints nothing: progress reaches the caller through on_step, and a
 * divergence through the result (the library's fit loop takes its place). */
#ifndef MN_CLI_TRAINER_H
#define MN_CLI_TRAINER_H

#include "cli/models.h"

struct mn_train_step;

typedef struct mn_train_opts {
    mn_model_spec model;
    const char *opt;         /* preset name */
    mn_param param;
    double lr, momentum;     /* NAN: the preset's default */
    bool nesterov;
    double wd;
    mn_schedule schedule;
    int64_t warmup;
    const char *method;      /* polar method name, NULL: ns5 */
    mn_precision precision;  /* of the polar iteration's products */
    int64_t steps;           /* 0: from epochs */
    double epochs;
    int64_t batch;
    uint64_t seed;
    int threads;
    struct {
        int atom;            /* 0-based, forward order */
        const char *norm;
    } atom_norms[64];        /* norm overrides */
    int n_atom_norms;
    /* Called after every step (NULL: not called). */
    void (*on_step)(void *ctx, const struct mn_train_step *s);
    void *ctx;
} mn_train_opts;

/* One finished step, as on_step sees it. */
typedef struct mn_train_step {
    int64_t step, total;     /* 1-based: step `total` is the last */
    double epoch;            /* steps done / steps per epoch */
    double loss, lr;         /* the step's batch loss and learning rate */
    double elapsed;          /* seconds since the first step started */
} mn_train_step;

typedef struct mn_train_result {
    double test_acc, test_loss;
    double train_loss;       /* mean over the last 20% of steps */
    double initial_loss;
    int64_t steps;
    double seconds, ms_per_step;
    bool diverged;
    int64_t diverged_at;     /* the 1-based step whose loss was non-finite (0: none) */
} mn_train_result;

/* The polar method training uses unless told otherwise. */
#define MN_TRAIN_DEFAULT_METHOD "polar-express"

mn_status mn_cli_train(const mn_train_opts *o, const mn_dataset *train, const mn_dataset *test,
                       mn_train_result *res);
/* Accuracy and mean loss of the network on a dataset, in batches. */
mn_status mn_cli_evaluate(mn_network *net, const mn_dataset *d, double *acc, double *loss);

#endif
