/* modnorm/study.h — transfer studies: sweeps of one named size parameter
 * (width, depth, …) × learning rate × seed, their summary, and the shared
 * model factory. The coordinate check is in modnorm/coordcheck.h. */
#ifndef MODNORM_STUDY_H
#define MODNORM_STUDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modnorm/data.h"
#include "modnorm/export.h"
#include "modnorm/module.h"
#include "modnorm/status.h"
#include "modnorm/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the network a study trains at one value of its size parameter:
 * `param` is the parameter's name ("width", "depth", "channels", …), `value`
 * its value. On success *out is a new tree the caller owns; on failure
 * return a status with a message (mn_last_error) naming the problem, e.g. a
 * parameter the model does not have. Called from several threads at once
 * when a sweep runs jobs side by side: it must be thread-safe. */
typedef mn_status (*mn_model_factory)(void *ctx, const char *param, int64_t value,
                                      mn_module **out);

/* ---- the built-in MLP -------------------------------------------------------- */

/* The MLP of mn_mlp: d_in → width (× depth−1) → d_out, ReLU between. */
typedef struct mn_mlp_spec {
    int64_t d_in, width, d_out;
    int depth;
} mn_mlp_spec;

/* A model factory; ctx is a const mn_mlp_spec *. Param "width" (value in
 * [1, 65536]; the spec's depth must be >= 2, or there is no hidden width)
 * or "depth" (value in [1, 1000]) replaces that field of the spec. Any
 * other param, or a value out of range, is MN_ERR_ARG. Thread-safe. */
MN_API mn_status mn_mlp_factory(void *ctx, const char *param, int64_t value, mn_module **out);
/* The lines that name the MLP's fixed sizes in a sweep over `param`, for
 * mn_study_sweep.model_text: "model=mlp\ndepth=D\n" over width,
 * "model=mlp\nwidth=W\n" over depth. */
MN_API mn_status mn_mlp_describe(const mn_mlp_spec *spec, const char *param, char *buf,
                                 size_t cap);

/* ---- grids ----------------------------------------------------------------------- */

#define MN_STUDY_MAX_LRS 64
#define MN_STUDY_MAX_VALUES 32
#define MN_STUDY_MAX_PARAM 32 /* bytes of a parameter name with its NUL */

/* Learning rates: "A:B" is A, 2A, 4A, … up to B (one octave apart; B
 * included when it is a whole number of octaves above A); "a,b,c" is a
 * list. A number is a plain float ("0.001", "1e-3") or a power of two
 * ("2^-10", exponent in [-200, 200]); every rate is positive and finite. A
 * list that names a rate twice (mn_study_same_lr: "0.125,2^-3") is refused.
 * The result is ascending, at most MN_STUDY_MAX_LRS rates; free(*out).
 * MN_ERR_ARG with a message that quotes the text ("'2^x:1': …"; the caller
 * prefixes its option's name). */
MN_API mn_status mn_study_parse_lrs(const char *text, double **out, int *n);
/* Values of a size parameter: a comma list of integers in [lo, hi], at most
 * MN_STUDY_MAX_VALUES, returned ascending; free(*out). An integer is
 * decimal digits with an optional sign ("64") or a power of two "2^K", K a
 * whole number ("2^6"); "1e3", "2^-1" and "1.5" are not integers. A value listed twice
 * is MN_ERR_ARG ("'16,16': 16 is listed twice"), as are malformed lists. */
MN_API mn_status mn_study_parse_values(const char *text, int64_t lo, int64_t hi, int64_t **out,
                                       int *n);
/* "NAME=LIST" (e.g. "depth=2,4,8,16"): copies NAME, an identifier of at most
 * MN_STUDY_MAX_PARAM − 1 characters ([A-Za-z_][A-Za-z0-9_]*), into param
 * and points *list at LIST (inside text) for mn_study_parse_values with
 * the parameter's own range. */
MN_API mn_status mn_study_parse_over(const char *text, char param[MN_STUDY_MAX_PARAM],
                                     const char **list);
/* Whether `param` is a valid parameter name (see mn_study_parse_over). */
MN_API bool mn_study_param_valid(const char *param);
/* Two learning rates are the same grid point (relative 1e-9). */
MN_API bool mn_study_same_lr(double a, double b);

/* A quick sweep: MN_STUDY_QUICK_LRS rates an octave apart centred on the
 * best rate of a MN_STUDY_QUICK_STEPS-step run of preset `opt` under
 * `param`, measured at width 64, depth 3, batch 128 on Fashion-MNIST (short
 * runs prefer larger rates than the presets' defaults, which are tuned for
 * 5 epochs): muon 2^-2 (sp 2^-4), sgd 2^1 (2^0), sign 2^-7 (2^-9), adam
 * 2^-7 (2^-6). MN_ERR_ARG for an unknown preset. */
#define MN_STUDY_QUICK_LRS 5
#define MN_STUDY_QUICK_STEPS 200
MN_API mn_status mn_study_quick_lrs(const char *opt, mn_param param,
                                    double lrs[MN_STUDY_QUICK_LRS]);

/* ---- results ------------------------------------------------------------------------- */

/* One finished run: one line of DIR/results.csv, whose header is
 * "PARAM,lr,seed,train_loss,test_loss,test_acc,diverged" (for width exactly
 * what `modnorm sweep` always wrote). Losses are nats (train: the mean of
 * the last 20% of steps; +inf when diverged), test_acc a fraction. */
typedef struct mn_study_row {
    int64_t value; /* the size parameter's value, >= 1 */
    double lr;
    int seed;
    double train_loss, test_loss, test_acc;
    bool diverged;
} mn_study_row;

/* The header line for `param` (no newline); MN_ERR_ARG for an invalid name
 * or a buffer too small. */
MN_API mn_status mn_study_csv_header(const char *param, char *buf, size_t cap);
/* One CSV line without the newline; every number %.17g (exact round trip).
 * A NULL row writes ""; a NULL buf or cap 0, nothing. */
MN_API void mn_study_format_row(char *buf, size_t cap, const mn_study_row *r);
/* Parse one CSV line (a trailing newline is allowed); false if malformed. */
MN_API bool mn_study_parse_row(const char *line, mn_study_row *r);
/* Read a results CSV of a sweep over `param`. A missing or empty file gives
 * 0 rows; another header is MN_ERR_FORMAT; malformed lines (a sweep killed
 * mid-write) are skipped and counted in *bad (may be NULL). Two rows of the
 * same run (value, lr (mn_study_same_lr), seed) are MN_ERR_FORMAT naming the
 * file, both line numbers and the run: a sweep writes a run once, so the file
 * was edited or corrupted, and averaging them as two seeds would be wrong.
 * free(*rows). */
MN_API mn_status mn_study_read_csv(const char *path, const char *param, mn_study_row **rows,
                                   size_t *n, int *bad);

/* ---- the summary ----------------------------------------------------------------------- */

/* The vertex x of the parabola through (x0,f0), (x1,f1), (x2,f2), clamped to
 * [min x, max x]; x1 when the points are collinear or it opens downward. */
MN_API double mn_study_parabola_vertex(double x0, double f0, double x1, double f1, double x2,
                                       double f2);

/* One value of the size parameter. */
typedef struct mn_study_point {
    int64_t value;
    int best;               /* index into lrs of the argmin; -1 when every LR diverged */
    double best_lr;         /* η* on the grid; NAN when best < 0 */
    double best_lr_refined; /* the vertex of a parabola in log2 η through the argmin and its
                             * neighbours (when both are finite), else best_lr */
    double loss;            /* seed-mean train loss at best_lr */
    bool at_edge;           /* the argmin is the smallest or largest LR tried at this value
                             * (the grid's end, or a neighbour with no run) */
    double regret;          /* L(v, grid LR nearest η*(smallest v)) − L(v, η*(v)) */
} mn_study_point;

typedef struct mn_study_summary {
    char param[MN_STUDY_MAX_PARAM];
    int n_values, n_lrs;
    int64_t *values;        /* ascending */
    double *lrs;            /* ascending */
    double *loss;           /* [i*n_lrs + j]: seed-mean train loss at values[i], lrs[j];
                             * +INF when any seed diverged, NAN when no run is there */
    int *runs;              /* [i*n_lrs + j]: runs averaged */
    mn_study_point *per_value;
    int anchor;             /* index into lrs nearest η*(smallest value); -1: none */
    double slope;           /* least squares of log2 η* (refined) on log2 value: octaves of
                             * η* per doubling of the parameter (NAN: < 2 values with an η*) */
    double spread;          /* max − min log2 η* (octaves; NAN: < 2 values with an η*) */
    bool monotone;          /* L(v, anchor) falls strictly as v grows (false with one value:
                             * nothing is compared, and the JSON has null) */
} mn_study_summary;

/* Summarize `rows` on the grid values × lrs, averaging seeds 0..n_seeds−1
 * (n_seeds <= 0: every seed). Rows off the grid are ignored. A diverged run
 * counts as +∞ (so does its cell's mean); a cell with no run counts as +∞
 * in argmins. Free with mn_study_summary_free. */
MN_API mn_status mn_study_summarize(const char *param, const mn_study_row *rows, size_t n,
                                    const int64_t *values, int n_values, const double *lrs,
                                    int n_lrs, int n_seeds, mn_study_summary *out);
MN_API void mn_study_summary_free(mn_study_summary *s);
/* The summary as JSON (jansson, numbers %.17g, non-finite as null):
 * {"per_PARAM": [{"PARAM": v, "best_lr", "best_lr_refined", "loss",
 * "at_edge"}, …], "slope", "spread", "regret": {"v": nats, …}, "monotone"};
 * with one value "monotone" is null, as are "slope" and "spread" (NAN).
 * *text is malloc'd; free() it. */
MN_API mn_status mn_study_summary_json(const mn_study_summary *s, char **text);
/* The same written atomically to `path` (a temporary file renamed). */
MN_API mn_status mn_study_write_summary(const char *path, const mn_study_summary *s);

/* ---- sweeps ------------------------------------------------------------------------------- */

/* A sweep: every (value, lr, seed) of the grid is one training run
 * (mn_train with the settings, the run's lr and seed, one BLIS thread),
 * judged by mn_fit_judge with MN_FIT_DIVERGENCE_FACTOR and appended to
 * DIR/results.csv the moment it finishes. DIR/sweep.cfg holds model_text
 * and mn_train_settings_text: a directory holds runs of one setting only,
 * and a rerun trains only the runs its CSV lacks. Nothing is written to DIR
 * (not even the directory) before the first run finishes; then DIR alone is
 * created, not its parents (a missing parent fails the sweep, MN_ERR_IO). */
typedef struct mn_study_sweep {
    const char *param;       /* the size parameter, e.g. "width" (mn_study_param_valid) */
    const int64_t *values;   /* its values, >= 1, any order (duplicates count once) */
    int n_values;            /* 1 … MN_STUDY_MAX_VALUES */
    const double *lrs;       /* learning rates, > 0 and finite */
    int n_lrs;               /* 1 … MN_STUDY_MAX_LRS */
    int seeds;               /* seeds 0 … seeds−1 per cell, 1 … 1000 */
    int jobs;                /* runs trained at once, 1 … 256 */
    mn_model_factory factory;
    void *factory_ctx;
    mn_train_settings train; /* lr, seed and threads are set per run */
    const mn_dataset *train_data, *test_data; /* needed when a run is to be trained */
    const char *dir;         /* the results directory */
    const char *model_text;  /* "key=value\n" lines naming the data and the model's fixed
                              * sizes, written first in DIR/sweep.cfg (NULL: none) */
} mn_study_sweep;

/* The grid against what DIR holds. */
typedef struct mn_study_plan {
    int total;    /* runs of the grid: values × lrs × seeds */
    int done;     /* of them already in DIR/results.csv */
    int to_train; /* total − done */
    int jobs;     /* runs that will train at once: min(jobs, to_train) */
} mn_study_plan;

/* What a progress callback sees. */
typedef struct mn_study_progress {
    int done;                /* runs finished in this call (diverged ones included) */
    int to_train;            /* runs this call trains */
    int diverged;            /* of those done */
    const mn_study_row *row; /* the run that just finished (NULL on a tick) */
    double run_seconds;      /* its wall time (0 on a tick) */
    double elapsed;          /* seconds since training began */
    double eta;              /* seconds left (a cost model of the runs left, fitted to the
                              * measured ones); -1 before the first run finished */
} mn_study_progress;

/* Optional hooks for printing (any may be NULL). They run one at a time
 * (under the sweep's lock), from any of its threads: keep them short. */
typedef struct mn_study_callbacks {
    void *ctx;
    void (*on_start)(void *ctx, const mn_study_plan *plan); /* before the first run */
    void (*on_run)(void *ctx, const mn_study_progress *p);  /* a run finished */
    void (*on_tick)(void *ctx, const mn_study_progress *p); /* about every second */
} mn_study_callbacks;

/* Check the sweep (grid, settings, every value through the factory,
 * DIR/sweep.cfg and the CSV's header when they exist) and count what DIR
 * holds, writing nothing. MN_ERR_ARG when DIR holds runs of other
 * settings (the message names the first line that differs). */
MN_API mn_status mn_study_sweep_plan(const mn_study_sweep *sw, mn_study_plan *plan);
/* Train the runs DIR lacks, `jobs` at a time (the calling thread is one of
 * them), largest value first. A run that diverges is recorded; a run that
 * fails stops the sweep once the runs in flight finish, and the status is
 * returned with a message naming the run. DIR is locked while runs train
 * (flock on the directory itself): a second sweep into it gets MN_ERR_IO.
 * *plan (may be NULL) is what on_start saw. */
MN_API mn_status mn_study_sweep_run(const mn_study_sweep *sw, const mn_study_callbacks *cb,
                                    mn_study_plan *plan);
/* Read DIR/results.csv (a missing file: no rows) and summarize it on the
 * sweep's grid and seeds (the sweep is checked as for a plan, each value
 * through the factory; sweep.cfg is not read and nothing is written).
 * *bad_lines (may be NULL): malformed lines skipped; *missing (may be
 * NULL): runs of the grid not in the CSV. Free with mn_study_summary_free. */
MN_API mn_status mn_study_sweep_summarize(const mn_study_sweep *sw, mn_study_summary *out,
                                          int *bad_lines, int *missing);

#ifdef __cplusplus
}
#endif
#endif
