/* Internal to the CLI: the pure parts of `modnorm sweep` — grids, the
 * results CSV, and the summary of a learning-rate × width sweep (argmin,
 * parabola refinement, slope, spread, regret, monotone). No training and no
 * plotting here, so tests/test_sweep.c can call every function directly. */
#ifndef MN_CLI_SWEEP_SUMMARY_H
#define MN_CLI_SWEEP_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modnorm/status.h"

#define MN_SWEEP_CSV_HEADER "width,lr,seed,train_loss,test_loss,test_acc,diverged"
#define MN_SWEEP_MAX_LRS 64
#define MN_SWEEP_MAX_WIDTHS 32

/* One finished run, one line of DIR/results.csv. */
typedef struct mn_sweep_row {
    int64_t width;
    double lr;
    int seed;
    double train_loss, test_loss, test_acc;
    bool diverged;
} mn_sweep_row;

/* --lrs: "A:B" is A, 2A, 4A, … up to B (one octave apart, B included when
 * it is a whole number of octaves above A); "a,b,c" is a list. A number is
 * a plain float ("0.001", "1e-3") or a power of two ("2^-10"). The result is
 * sorted ascending without duplicates; free(*out). On error returns false
 * with a message in err. */
bool mn_sweep_parse_lrs(const char *text, double **out, int *n, char *err, size_t cap);
/* --widths: a comma list of integers in [1, 65536], sorted ascending,
 * duplicates dropped; free(*out). */
bool mn_sweep_parse_widths(const char *text, int64_t **out, int *n, char *err, size_t cap);

/* Two learning rates are the same grid point (relative 1e-9). */
bool mn_sweep_same_lr(double a, double b);

/* One CSV line without the newline (lr printed exactly, %.17g). */
void mn_sweep_format_row(char *buf, size_t cap, const mn_sweep_row *r);
/* Parse one CSV line (a trailing newline is allowed); false if malformed. */
bool mn_sweep_parse_row(const char *line, mn_sweep_row *r);
/* Read DIR/results.csv. A missing file gives 0 rows; a header other than
 * MN_SWEEP_CSV_HEADER is MN_ERR_FORMAT; malformed lines (a sweep killed
 * mid-write) are skipped and counted in *bad (may be NULL). free(*rows). */
mn_status mn_sweep_read_csv(const char *path, mn_sweep_row **rows, size_t *n, int *bad);

/* The vertex x of the parabola through (x0,f0), (x1,f1), (x2,f2), clamped to
 * [min x, max x]; x1 when the three points are collinear or the parabola
 * opens downward. */
double mn_sweep_parabola_vertex(double x0, double f0, double x1, double f1, double x2, double f2);

typedef struct mn_sweep_width {
    int64_t width;
    int best;                /* index into lrs of the argmin; -1 when every LR diverged */
    double best_lr;          /* NAN when best < 0 */
    double best_lr_refined;  /* parabola in log2 space through the argmin and its neighbours */
    double loss;             /* seed-mean train loss at best_lr */
    bool at_edge;            /* the argmin is the smallest or largest LR tried at this width
                              * (the grid's end, or a neighbour with no run) */
    double regret;           /* L(w, grid LR nearest η*(w_smallest)) − L(w, η*(w)) */
} mn_sweep_width;

typedef struct mn_sweep_summary {
    int n_widths, n_lrs;
    int64_t *widths;         /* ascending */
    double *lrs;             /* ascending */
    double *loss;            /* [i*n_lrs + j]: seed-mean train loss of widths[i], lrs[j];
                              * +INF when any seed diverged, NAN when no run is there */
    int *runs;               /* [i*n_lrs + j]: runs averaged */
    mn_sweep_width *per_width;
    int anchor;              /* index into lrs nearest η*(w_smallest) (-1: none) */
    double slope;            /* least squares of log2 η* on log2 width (NAN: < 2 widths) */
    double spread;           /* max − min log2 η* (octaves) */
    bool monotone;           /* L(w, anchor) falls strictly as w grows */
} mn_sweep_summary;

/* Summarize `rows` on the grid widths × lrs, averaging seeds 0..n_seeds−1
 * (n_seeds <= 0: every seed). Rows off the grid are ignored. A diverged
 * run counts as +∞ (so does its cell's mean); a cell with no run counts as
 * +∞ in argmins. Free with mn_sweep_summary_free. */
mn_status mn_sweep_summarize(const mn_sweep_row *rows, size_t n, const int64_t *widths,
                             int n_widths, const double *lrs, int n_lrs, int n_seeds,
                             mn_sweep_summary *out);
void mn_sweep_summary_free(mn_sweep_summary *s);

/* {"per_width": [...], "slope", "spread", "regret": {"W": nats}, "monotone"}.
 * Non-finite numbers are written as null. */
void mn_sweep_summary_json(FILE *f, const mn_sweep_summary *s);
/* The same, written atomically to `path` (a temporary file renamed). */
mn_status mn_sweep_write_summary(const char *path, const mn_sweep_summary *s);

#endif
