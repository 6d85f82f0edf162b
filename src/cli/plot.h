/* Internal to the CLI: line plots drawn with PLplot (pngcairo, svg), used by
 * sweep (loss against learning rate) and coordcheck (coordinates against
 * width). plot.c with PLplot, plot_stub.c without. Not thread-safe: PLplot has one global state; plot from one
 * thread. */
#ifndef MN_CLI_PLOT_H
#define MN_CLI_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "modnorm/status.h"

/* How x values (always log2 of the quantity) are labelled. */
typedef enum mn_plot_xaxis {
    MN_PLOT_X_POW2 = 0, /* ticks read 2^k (learning rates) */
    MN_PLOT_X_INT2      /* ticks read the integer 2^k (widths) */
} mn_plot_xaxis;

typedef struct mn_plot_series {
    const char *label;
    int n;
    const double *x, *y; /* y NAN: a gap; y +INF: a cross at the top edge (diverged) */
    int mark;            /* index of a point to mark with a star (-1: none) */
} mn_plot_series;

typedef struct mn_plot_panel {
    const char *title, *xlabel, *ylabel;
    mn_plot_xaxis xaxis;
    bool ylog;           /* log10 y axis (values <= 0 are skipped) */
    double ytop;         /* clip the y range at this value (NAN: no clip) */
    bool legend;
    int n_series;
    const mn_plot_series *series;
} mn_plot_panel;

/* false when modnorm was built without PLplot (meson -Dplots=disabled, or
 * auto without libplplot-dev): then mn_plot_write only reports that. */
bool mn_plot_enabled(void);

/* true if PLplot has `device`; otherwise false with a message saying what
 * to install. */
bool mn_plot_device_available(const char *device, char *err, size_t cap);

/* Draw the panels, `columns` per row, into `path` with `device`
 * ("pngcairo", "svg"), written through a temporary file renamed at the end. */
mn_status mn_plot_write(const char *path, const char *device, int n_panels, int columns,
                        const mn_plot_panel *panels, int width_px, int height_px);

#endif
