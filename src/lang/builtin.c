/* The built-in networks, compiled in from examples/ (embed.py at build time). */
#include "lang/lang.h"

extern const char mn_lang_mlp_text[];
extern const char mn_lang_gpt_text[];
extern const char mn_lang_cnn_text[];

const char *mn_graph_mlp_text(void) { return mn_lang_mlp_text; }

const char *mn_graph_gpt_text(void) { return mn_lang_gpt_text; }

const char *mn_graph_cnn_text(void) { return mn_lang_cnn_text; }
