/* Line plots with PLplot: one row of panels, one curve per series. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plplot.h>

#include "cli/plot.h"
#include "core/error.h"

bool mn_plot_enabled(void) { return true; }

bool mn_plot_device_available(const char *device, char *err, size_t cap)
{
    enum { MAX_DEVS = 128 };
    const char **menu = malloc(MAX_DEVS * sizeof *menu), **names = malloc(MAX_DEVS * sizeof *names);
    int n = MAX_DEVS;
    bool found = false;
    if (menu && names) {
        plgDevs(&menu, &names, &n);
        for (int i = 0; i < n; i++)
            if (strcmp(names[i], device) == 0)
                found = true;
    }
    free(menu);
    free(names);
    if (!found)
        snprintf(err, cap, "PLplot has no '%s' device (Debian: apt-get install %s)", device,
                 strstr(device, "cairo") ? "plplot-driver-cairo" : "libplplot17");
    return found;
}

/* The tab10 palette after white (background) and black (axes, text). */
static const int palette[][3] = {
    {255, 255, 255}, {0, 0, 0},       {31, 119, 180}, {255, 127, 14},  {44, 160, 44},
    {214, 39, 40},   {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
    {188, 189, 34},  {23, 190, 207}};
#define N_COLORS ((int)(sizeof palette / sizeof palette[0]))
#define SERIES_COLOR(i) (2 + (i) % (N_COLORS - 2))

static void label_x(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    const mn_plot_xaxis *mode = data;
    if (axis != PL_X_AXIS) {
        snprintf(label, (size_t)length, "%g", value);
        return;
    }
    if (*mode == MN_PLOT_X_INT2)
        snprintf(label, (size_t)length, "%.0f", exp2(value));
    else
        snprintf(label, (size_t)length, "2#u%g#d", value);
}

/* Ticks and labels of a log10 y axis at 1, 2, 5 × 10^k (and 1..9 × 10^k
 * when the range holds fewer than three of those). */
static void log_ticks(double x0, double x1, double y0, double y1)
{
    static const double all[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, few[] = {1, 2, 5};
    int count = 0;
    for (int k = (int)floor(y0); k <= (int)ceil(y1); k++)
        for (int i = 0; i < 3; i++) {
            double v = k + log10(few[i]);
            count += v >= y0 && v <= y1;
        }
    const double *m = count >= 3 ? few : all;
    int nm = count >= 3 ? 3 : 9;
    double tick = 0.015 * (x1 - x0);
    for (int k = (int)floor(y0); k <= (int)ceil(y1); k++)
        for (int i = 0; i < nm; i++) {
            double v = k + log10(m[i]);
            if (v < y0 || v > y1)
                continue;
            pljoin(x0, v, x0 + tick, v);
            pljoin(x1, v, x1 - tick, v);
            char label[32];
            snprintf(label, sizeof label, "%g", m[i] * pow(10, k));
            plmtex("lv", 0.5, (v - y0) / (y1 - y0), 1.0, label);
        }
}

/* The value as drawn on the y axis, NAN when it cannot be. */
static double ymap(const mn_plot_panel *p, double y)
{
    if (p->ylog)
        return y > 0 && isfinite(y) ? log10(y) : NAN;
    return isfinite(y) ? y : NAN;
}

static void draw_panel(const mn_plot_panel *p)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    bool any_diverged = false;
    for (int s = 0; s < p->n_series; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = ymap(p, p->series[s].y[i]);
            x0 = fmin(x0, x);
            x1 = fmax(x1, x);
            if (isinf(p->series[s].y[i]) && p->series[s].y[i] > 0)
                any_diverged = true;
            if (!isnan(y)) {
                y0 = fmin(y0, y);
                y1 = fmax(y1, y);
            }
        }
    double top = ymap(p, p->ytop);
    if (!isnan(top) && y1 > top)
        y1 = top;
    if (!(x0 <= x1)) {
        x0 = 0;
        x1 = 1;
    }
    if (!(y0 <= y1)) {
        y0 = 0;
        y1 = 1;
    }
    /* A log axis spans at least one decade, so that a flat curve looks flat
     * and a 2x change looks like one. */
    double min_span = p->ylog ? 1.0 : 1e-9;
    if (y1 - y0 < min_span) {
        double d = p->ylog ? (min_span - (y1 - y0)) / 2 : fmax(fabs(y0) * 0.1, 1e-3);
        y0 -= d;
        y1 += d;
    }
    double xpad = fmax(0.25, 0.04 * (x1 - x0)), ypad = 0.06 * (y1 - y0);
    x0 -= xpad;
    x1 += xpad;
    y0 -= ypad;
    y1 += ypad * (any_diverged ? 2 : 1);

    pladv(0);
    plcol0(1);
    plschr(0, 0.9);
    /* The standard viewport leaves room for the labels; with a legend, its
     * right fifth goes to the legend (plgvpd answers in page coordinates,
     * plvpor takes subpage ones). */
    double sx0, sx1, sy0, sy1, vx0, vx1, vy0, vy1;
    plvpor(0, 1, 0, 1);
    plgvpd(&sx0, &sx1, &sy0, &sy1);
    plvsta();
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    if (p->legend) {
        double a = (vx0 - sx0) / (sx1 - sx0), b = (vx1 - sx0) / (sx1 - sx0);
        plvpor(a, a + 0.8 * (b - a), (vy0 - sy0) / (sy1 - sy0), (vy1 - sy0) / (sy1 - sy0));
    }
    plwind(x0, x1, y0, y1);
    mn_plot_xaxis mode = p->xaxis;
    plslabelfunc(label_x, &mode);
    double span = x1 - x0;
    plbox("bcnsto", span > 14 ? 2 : 1, 1, p->ylog ? "bc" : "bcnstv", 0, 0);
    plslabelfunc(NULL, NULL);
    if (p->ylog)
        log_ticks(x0, x1, y0, y1);
    pllab(p->xlabel ? p->xlabel : "", p->ylabel ? p->ylabel : "", p->title ? p->title : "");

    plwidth(2);
    for (int s = 0; s < p->n_series; s++) {
        const mn_plot_series *se = &p->series[s];
        plcol0(SERIES_COLOR(s));
        double *xs = malloc((size_t)(se->n > 0 ? se->n : 1) * sizeof *xs);
        double *ys = malloc((size_t)(se->n > 0 ? se->n : 1) * sizeof *ys);
        if (!xs || !ys) {
            free(xs);
            free(ys);
            continue;
        }
        int run = 0;
        for (int i = 0; i <= se->n; i++) {
            double y = i < se->n ? ymap(p, se->y[i]) : NAN;
            if (!isnan(y)) {
                xs[run] = se->x[i];
                ys[run] = y;
                run++;
                continue;
            }
            if (run > 1)
                plline(run, xs, ys);
            if (run > 0) {
                plschr(0, 1.4);
                plstring(run, xs, ys, "•");
                plschr(0, 0.9);
            }
            run = 0;
            if (i < se->n && isinf(se->y[i]) && se->y[i] > 0) { /* diverged */
                double xd = se->x[i], yd = y1 - ypad;
                plstring(1, &xd, &yd, "×");
            }
        }
        if (se->mark >= 0 && se->mark < se->n && !isnan(ymap(p, se->y[se->mark]))) {
            double xm = se->x[se->mark], ym = ymap(p, se->y[se->mark]);
            plschr(0, 1.6);
            plstring(1, &xm, &ym, "★");
            plschr(0, 0.9);
        }
        free(xs);
        free(ys);
    }
    plwidth(1);
    plcol0(1);

    if (p->legend && p->n_series > 0) {
        int n = p->n_series;
        PLINT *opt = malloc((size_t)n * sizeof *opt), *colors = malloc((size_t)n * sizeof *colors);
        PLINT *styles = malloc((size_t)n * sizeof *styles);
        PLFLT *widths = malloc((size_t)n * sizeof *widths);
        const char **text = malloc((size_t)n * sizeof *text);
        if (opt && colors && styles && widths && text) {
            for (int s = 0; s < n; s++) {
                opt[s] = PL_LEGEND_LINE;
                colors[s] = SERIES_COLOR(s);
                styles[s] = 1;
                widths[s] = 2;
                text[s] = p->series[s].label ? p->series[s].label : "";
            }
            PLFLT lw, lh;
            pllegend(&lw, &lh, PL_LEGEND_BACKGROUND, PL_POSITION_OUTSIDE | PL_POSITION_RIGHT |
                     PL_POSITION_VIEWPORT, 0.02, 0.0, 0.06, 0, 1, 1, 0, 0, n,
                     opt, 1.0, 0.8, 2.0, 0.0, colors, text, NULL, NULL, NULL, NULL, colors,
                     styles, widths, NULL, NULL, NULL, NULL);
        }
        free(opt);
        free(colors);
        free(styles);
        free(widths);
        free(text);
    }
}

static int on_plplot_exit(const char *message)
{
    fprintf(stderr, "modnorm: PLplot failed: %s\n", message ? message : "(no message)");
    return 1;
}

mn_status mn_plot_write(const char *path, const char *device, int n_panels, int columns,
                        const mn_plot_panel *panels, int width_px, int height_px)
{
    char err[256];
    if (!mn_plot_device_available(device, err, sizeof err))
        return mn_fail(MN_ERR_UNSUPPORTED, "%s", err);
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return mn_fail(MN_ERR_ARG, "path too long: %s", path);
    /* PLplot exits the process when it cannot open its file: check first. */
    FILE *probe = fopen(tmp, "w");
    if (!probe)
        return mn_fail(MN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    fclose(probe);

    PLINT stream;
    plmkstrm(&stream);
    plsexit(on_plplot_exit);
    plsdev(device);
    plsfnam(tmp);
    plspage(0, 0, width_px, height_px, 0, 0);
    plscmap0n(N_COLORS);
    for (int i = 0; i < N_COLORS; i++)
        plscol0(i, palette[i][0], palette[i][1], palette[i][2]);
    if (columns < 1 || columns > n_panels)
        columns = n_panels > 0 ? n_panels : 1;
    plssub(columns, n_panels > 0 ? (n_panels + columns - 1) / columns : 1);
    plinit();
    for (int i = 0; i < n_panels; i++)
        draw_panel(&panels[i]);
    plend1();

    FILE *f = fopen(tmp, "rb");
    long size = -1;
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fclose(f);
    }
    if (size <= 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return mn_fail(MN_ERR_IO, "PLplot did not write %s (device %s)", path, device);
    }
    return MN_OK;
}
