/* The plots when modnorm is built without PLplot (-Dplots=disabled, or auto
 * without libplplot-dev): every call says so, nothing is drawn. */
#include <stdio.h>

#include "cli/plot.h"
#include "core/error.h"

#define WHY "built without PLplot (apt-get install libplplot-dev plplot-driver-cairo, reconfigure)"

bool mn_plot_enabled(void) { return false; }

bool mn_plot_device_available(const char *device, char *err, size_t cap)
{
    snprintf(err, cap, "no '%s' device: " WHY, device);
    return false;
}

mn_status mn_plot_write(const char *path, const char *device, int n_panels, int columns,
                        const mn_plot_panel *panels, int width_px, int height_px)
{
    (void)device, (void)n_panels, (void)columns, (void)panels, (void)width_px, (void)height_px;
    return mn_fail(MN_ERR_UNSUPPORTED, "cannot draw %s: " WHY, path);
}
