/* Internal to the CLI: one training run, shared by train (and later sweep
 * and bench). */
#ifndef MN_CLI_TRAINER_H
#define MN_CLI_TRAINER_H

#include <stdio.h>

#include "cli/models.h"

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
    int64_t steps;           /* 0: from epochs */
    double epochs;
    int64_t batch;
    uint64_t seed;
    int threads;
    const char *atom_norms[64];
    int n_atom_norms;
    bool progress;           /* a progress bar on stderr */
    bool quiet;              /* no message on stderr when the loss becomes non-finite (sweep) */
    FILE *json;              /* JSON lines (NULL: none) */
    int64_t log_every;       /* steps between JSON progress lines (0: 10 per run) */
} mn_train_opts;

typedef struct mn_train_result {
    double test_acc, test_loss;
    double train_loss;       /* mean over the last 20% of steps */
    double initial_loss;
    int64_t steps;
    double seconds, ms_per_step;
    bool diverged;
} mn_train_result;

/* The polar method training uses unless told otherwise. */
#define MN_TRAIN_DEFAULT_METHOD "polar-express"

mn_status mn_cli_train(const mn_train_opts *o, const mn_dataset *train, const mn_dataset *test,
                       mn_train_result *res);
/* Accuracy and mean loss of the network on a dataset, in batches. */
mn_status mn_cli_evaluate(mn_network *net, const mn_dataset *d, double *acc, double *loss);
void mn_cli_print_result_json(FILE *f, const mn_train_result *r);

#endif
