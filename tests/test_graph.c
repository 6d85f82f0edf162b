/* The graph language (modnorm/graph.h): networks as files.
 *
 *  1. examples/mlp.mn (compiled in) builds mn_mlp's tree exactly, at every
 *     depth and width tried: kinds, names, shapes, norms, masses,
 *     sensitivities and targets.
 *  2. Printing any tree and reading the text back gives an equal tree, and
 *     printing that gives the same text: every example file, and trees with
 *     residuals, tuples, powers, named definitions, annotations, scalar
 *     multiples, LayerNorm, and C-built compounds (nested sequences, mn_power).
 *  3. Parameters: defaults that use other parameters, mn_graph_set, the
 *     factory; errors name the file, line and column and what was expected;
 *     a shape mismatch names both modules and both sizes; every limit is a
 *     one-line error.
 *  4. A kind and a norm registered by the program are usable by name.
 *  5. `init = s` scales an atom's initial weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modnorm/graph.h"
#include "testutil.h"

#ifndef MN_EXAMPLES_DIR
#error "MN_EXAMPLES_DIR must name the examples directory"
#endif

/* ---- comparing trees ------------------------------------------------------ */

static void same_tree(const mn_module *a, const mn_module *b, const char *where)
{
    char da[128], db[128];
    mn_module_describe(a, da, sizeof da);
    mn_module_describe(b, db, sizeof db);
    ck_assert_msg(strcmp(mn_module_kind(a), mn_module_kind(b)) == 0, "%s: kind %s vs %s", where,
                  mn_module_kind(a), mn_module_kind(b));
    ck_assert_msg(strcmp(da, db) == 0, "%s: %s vs %s", where, da, db);
    ck_assert_msg(mn_module_mass(a) == mn_module_mass(b), "%s: %s mass %g vs %g", where, da,
                  mn_module_mass(a), mn_module_mass(b));
    ck_assert_msg(mn_module_sensitivity(a) == mn_module_sensitivity(b),
                  "%s: %s sensitivity %g vs %g", where, da, mn_module_sensitivity(a),
                  mn_module_sensitivity(b));
    ck_assert_int_eq(mn_module_is_atom(a), mn_module_is_atom(b));
    if (mn_module_is_atom(a)) {
        int64_t ra, ca, rb, cb;
        ck_assert_ok(mn_module_weight_shape(a, &ra, &ca));
        ck_assert_ok(mn_module_weight_shape(b, &rb, &cb));
        ck_assert(ra == rb && ca == cb);
        ck_assert_msg(mn_module_norm(a) == mn_module_norm(b), "%s: %s norm %s vs %s", where, da,
                      mn_module_norm(a)->name, mn_module_norm(b)->name);
        ck_assert(mn_module_init_scale(a) == mn_module_init_scale(b));
    }
    ck_assert_msg(mn_module_child_count(a) == mn_module_child_count(b), "%s: %s has %d vs %d "
                  "children", where, da, mn_module_child_count(a), mn_module_child_count(b));
    for (int i = 0; i < mn_module_child_count(a); i++)
        same_tree(mn_module_child(a, i), mn_module_child(b, i), where);
}

/* Equal trees whose networks get equal dualize targets. Takes both. */
static void same_network(mn_module *a, mn_module *b, const char *where)
{
    same_tree(a, b, where);
    mn_network *na, *nb;
    ck_assert_ok(mn_network_create(&na, a, MN_PARAM_MODULAR, 0));
    ck_assert_ok(mn_network_create(&nb, b, MN_PARAM_MODULAR, 0));
    int n = mn_network_atom_count(na);
    ck_assert_int_eq(n, mn_network_atom_count(nb));
    double *ta = calloc((size_t)n + 1, sizeof *ta), *tb = calloc((size_t)n + 1, sizeof *tb);
    ck_assert_ok(mn_modular_targets(na, 1.0, ta));
    ck_assert_ok(mn_modular_targets(nb, 1.0, tb));
    for (int i = 0; i < n; i++)
        ck_assert_msg(ta[i] == tb[i], "%s: atom %d target %.17g vs %.17g", where, i, ta[i],
                      tb[i]);
    ck_assert(mn_network_param_count(na) == mn_network_param_count(nb));
    free(ta);
    free(tb);
    mn_network_destroy(na);
    mn_network_destroy(nb);
}

static mn_graph_file *parse_text(const char *text)
{
    mn_graph_file *g;
    ck_assert_ok(mn_graph_parse(&g, text, strlen(text), "test.mn"));
    return g;
}

static mn_module *build_text(const char *text)
{
    mn_graph_file *g = parse_text(text);
    mn_module *m;
    ck_assert_ok(mn_graph_make(g, &m));
    mn_graph_destroy(g);
    return m;
}

/* The error of building (or parsing) text: its status and message. */
static mn_status error_of(const char *text, char *msg, size_t cap)
{
    mn_graph_file *g;
    mn_status st = mn_graph_parse(&g, text, strlen(text), "bad.mn");
    if (st == MN_OK) {
        mn_module *m = NULL;
        st = mn_graph_make(g, &m);
        mn_module_destroy(m);
        mn_graph_destroy(g);
    }
    snprintf(msg, cap, "%s", mn_last_error());
    return st;
}

static void expect_error(const char *text, const char *const *parts, int n)
{
    char msg[1024];
    mn_status st = error_of(text, msg, sizeof msg);
    ck_assert_msg(st != MN_OK, "'%s' was accepted", text);
    ck_assert_msg(!strchr(msg, '\n'), "a multi-line message: %s", msg);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strstr(msg, parts[i]), "'%s': message '%s' lacks '%s'", text, msg,
                      parts[i]);
}
#define EXPECT_ERROR(text, ...)                                                                    \
    do {                                                                                           \
        const char *const parts_[] = {__VA_ARGS__};                                                \
        expect_error(text, parts_, (int)(sizeof parts_ / sizeof parts_[0]));                      \
    } while (0)

/* Print m, read it back, compare, and print again: the same text. Takes m. */
static void round_trip(mn_module *m, const char *where)
{
    char *text, *again;
    ck_assert_ok(mn_graph_print(m, &text));
    mn_module *back = build_text(text);
    ck_assert_ok(mn_graph_print(back, &again));
    ck_assert_msg(strcmp(text, again) == 0, "%s: printed\n%s\nthen\n%s", where, text, again);
    same_network(m, back, where);
    free(text);
    free(again);
}

/* ---- 1. the built-in mlp ---------------------------------------------------- */

START_TEST(test_mlp_file_is_mn_mlp)
{
    mn_graph_file *g = parse_text(mn_graph_mlp_text());
    ck_assert_int_eq(mn_graph_param_count(g), 4);
    const int depths[] = {1, 2, 3, 5, 8};
    const int64_t widths[] = {1, 32, 100};
    for (int d = 0; d < 5; d++)
        for (int w = 0; w < 3; w++) {
            mn_module *ref, *m;
            ck_assert_ok(mn_mlp(&ref, 784, widths[w], depths[d], 10));
            ck_assert_ok(mn_graph_set(g, "depth", depths[d]));
            ck_assert_ok(mn_graph_set(g, "width", (double)widths[w]));
            ck_assert_ok(mn_graph_make(g, &m));
            char where[64];
            snprintf(where, sizeof where, "mlp depth %d width %lld", depths[d],
                     (long long)widths[w]);
            same_network(ref, m, where);
        }
    /* the factory varies one parameter for one build */
    mn_module *ref, *m;
    ck_assert_ok(mn_mlp(&ref, 784, 48, 4, 10));
    ck_assert_ok(mn_graph_set(g, "width", 48));
    ck_assert_ok(mn_graph_factory(g, "depth", 4, &m));
    same_network(ref, m, "factory depth 4");
    ck_assert_int_ne(mn_graph_factory(g, "heads", 4, &m), MN_OK);
    ck_assert(strstr(mn_last_error(), "no parameter 'heads'"));
    ck_assert(strstr(mn_last_error(), "width, depth, d_in, d_out"));
    mn_graph_destroy(g);
}
END_TEST

/* The same text, read from examples/mlp.mn, as compiled in. */
START_TEST(test_mlp_file_matches_compiled_text)
{
    FILE *f = fopen(MN_EXAMPLES_DIR "/mlp.mn", "rb");
    ck_assert(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(buf, mn_graph_mlp_text());
    f = fopen(MN_EXAMPLES_DIR "/cnn.mn", "rb"); /* and --model cnn's */
    ck_assert(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(buf, mn_graph_cnn_text());
}
END_TEST

/* ---- 2. round trips ----------------------------------------------------------- */

static const char *const texts[] = {
    /* residual */
    "param w = 32\nBlock = Identity + (ReLU -> Linear(w, w))\nLinear(w, 8) -> Block^3 -> "
    "Linear(4, w)",
    /* tuple and Add, sizes differing per branch before the Linears */
    "(Linear(16, 8), Linear(16, 8) -> ReLU, Identity -> Linear(16, 8)) -> Add -> Linear(2, 16)",
    /* a tuple kept as the output: two heads */
    "Linear(16, 8) -> ReLU -> (Linear(3, 16), Linear(5, 16) [mass = 0.5])",
    /* a one-part tuple, a nested tuple */
    "(Linear(4, 8),) -> ((Linear(4, 4), Linear(4, 4)), Identity) -> Add -> Linear(2, 4)",
    /* powers: k = 0 inside a chain, spliced parts, a power of a named block */
    "param d = 2\nL = Linear(8, 8) -> GELU\nLinear(8, 8) -> (ReLU -> Linear(8, 8))^d -> L^2 -> "
    "Abs^0 -> Linear(1, 8)",
    /* scalar multiples, negative too, and sums of three */
    "-0.75 * Linear(8, 8) -> (Linear(8, 8) + 2 * Linear(8, 8) + Identity) -> Mul(3) -> Linear(8, 8) * 0.1",
    /* annotations: norms (a family member too), masses, init, names */
    "Linear(8, 8) [norm = frobenius, mass = 2] -> (ReLU -> Linear(8, 8) [norm = schatten-3]) "
    "[name = Body, mass = 0.25] -> Linear(8, 8) [init = 0, norm = l1-linf] -> Embed(8, 8) "
    "[mass = 3]",
    /* LayerNorm and the normalizers, Mean, Flatten */
    "Linear(8, 8) -> LayerNorm -> MeanSubtract -> RMSDivide -> Flatten -> Mean -> Linear(2, 8)",
    /* a named leaf, a choice, arithmetic on parameters */
    "param n = 3\nparam w = 2 * n + 2\nAct = n > 2 ? GELU : ReLU\nLinear(w, 4) -> Act -> "
    "Linear(w / 2, w) -> Act",
    /* a one-part chain with a name, wrapped twice */
    "A = Linear(4, 4)\nB = A\nB -> (A) [name = C]",
};

START_TEST(test_round_trip_texts)
{
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char where[32];
        snprintf(where, sizeof where, "text %zu", i);
        round_trip(build_text(texts[i]), where);
    }
}
END_TEST

START_TEST(test_round_trip_example_files)
{
    const char *const files[] = {"mlp.mn", "residual.mn", "branches.mn", "gpt.mn", "cnn.mn"};
    for (int i = 0; i < 5; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", MN_EXAMPLES_DIR, files[i]);
        mn_graph_file *g;
        ck_assert_ok(mn_graph_load(&g, path));
        mn_module *m;
        ck_assert_ok(mn_graph_make(g, &m));
        round_trip(m, files[i]);
        /* and at other values of every parameter that is a size */
        for (int p = 0; p < mn_graph_param_count(g); p++) {
            const char *name = mn_graph_param_name(g, p);
            if (strcmp(name, "width") == 0 || strcmp(name, "depth") == 0 ||
                strcmp(name, "blocks") == 0) {
                /* gpt.mn's width must be a multiple of its head size 32 */
                ck_assert_ok(mn_graph_make_with(g, name, strcmp(files[i], "gpt.mn") ? 5 : 64, &m));
                round_trip(m, files[i]);
            }
            if (strcmp(name, "flat") == 0) { /* cnn.mn's flattened conv norms */
                ck_assert_ok(mn_graph_make_with(g, name, 1, &m));
                round_trip(m, files[i]);
            }
        }
        mn_graph_destroy(g);
    }
}
END_TEST

/* Trees built in C, with compounds the language builds otherwise. */
START_TEST(test_round_trip_c_trees)
{
    mn_module *a, *b, *c, *inner, *outer;
    /* a sequence inside a sequence: it must not be spliced on the way back */
    ck_assert_ok(mn_linear(&a, 8, 8));
    ck_assert_ok(mn_relu(&b));
    ck_assert_ok(mn_sequential(&inner, 2, (mn_module *[]){a, b}));
    ck_assert_ok(mn_linear(&c, 4, 8));
    ck_assert_ok(mn_sequential(&outer, 2, (mn_module *[]){inner, c}));
    round_trip(outer, "nested sequence");
    /* mn_power, mn_sum of sums, a one-child sequence, a mass override */
    ck_assert_ok(mn_linear(&a, 8, 8));
    ck_assert_ok(mn_power(&b, a, 3));
    ck_assert_ok(mn_linear(&a, 8, 8));
    ck_assert_ok(mn_identity(&c));
    ck_assert_ok(mn_sum(&inner, a, c));
    ck_assert_ok(mn_identity(&c));
    ck_assert_ok(mn_sum(&a, inner, c));
    ck_assert_ok(mn_module_set_mass(a, 2));
    ck_assert_ok(mn_linear(&c, 8, 8));
    ck_assert_ok(mn_sequential(&inner, 1, (mn_module *[]){c}));
    ck_assert_ok(mn_sequential(&outer, 3, (mn_module *[]){b, a, inner}));
    round_trip(outer, "power, sums, one child");
    ck_assert_ok(mn_mlp(&a, 784, 32, 3, 10));
    round_trip(a, "mn_mlp");
}
END_TEST

/* ---- 3. parameters and errors ----------------------------------------------------- */

START_TEST(test_parameters)
{
    mn_graph_file *g = parse_text("param a = 3\nparam b = a * 2 # follows a\nLinear(b, a)");
    double v;
    ck_assert_ok(mn_graph_param_value(g, "b", &v));
    ck_assert(v == 6);
    ck_assert_ok(mn_graph_set_text(g, "a=5"));
    ck_assert_ok(mn_graph_param_value(g, "b", &v));
    ck_assert(v == 10);
    mn_module *m;
    ck_assert_ok(mn_graph_make(g, &m));
    int64_t r, c;
    ck_assert_ok(mn_module_weight_shape(m, &r, &c));
    ck_assert(r == 10 && c == 5);
    mn_module_destroy(m);
    ck_assert_int_eq(mn_graph_set_text(g, "c=1"), MN_ERR_ARG);
    ck_assert(strstr(mn_last_error(), "no parameter 'c'") && strstr(mn_last_error(), "a, b"));
    ck_assert_int_eq(mn_graph_set_text(g, "a=x"), MN_ERR_ARG);
    ck_assert_int_eq(mn_graph_set_text(g, "a"), MN_ERR_ARG);
    ck_assert_int_eq(mn_graph_set(g, "a", INFINITY), MN_ERR_ARG);
    ck_assert_ok(mn_graph_set(g, "b", 7)); /* a set value wins over the default */
    ck_assert_ok(mn_graph_make(g, &m));
    ck_assert_ok(mn_module_weight_shape(m, &r, &c));
    ck_assert(r == 7 && c == 5);
    mn_module_destroy(m);
    mn_graph_destroy(g);
}
END_TEST

START_TEST(test_errors_name_place)
{
    EXPECT_ERROR("Linear(4, 4) -> Relu", "bad.mn:1:17:", "unknown name 'Relu'", "ReLU");
    EXPECT_ERROR("Linear(4, 4\n  ReLU)", "bad.mn:2:3:", "expected ',' or ')'", "'ReLU'");
    EXPECT_ERROR("param w = 4\n\nLinear(w, 8) ->", "bad.mn:3:16:", "expected a module",
                 "the end of the file");
    EXPECT_ERROR("Linear(4, 8) -> Linear(4, 5)", "bad.mn:1:", "Linear(4←5)", "Linear(4←8)",
                 "expects 5", "receives 4");
    EXPECT_ERROR("(Linear(4, 8), Linear(3, 8)) -> Add", "Add");
    EXPECT_ERROR("Linear(4, 8) [norm = nope]", "bad.mn:1:14:", "nope");
    EXPECT_ERROR("ReLU [mass = 2]", "bad.mn:1:14:", "no weights");
    EXPECT_ERROR("Linear(4, 8) [colour = 2]", "bad.mn:1:15:", "norm, mass, init or name");
    EXPECT_ERROR("Linear(4.5, 8)", "bad.mn:1:1:", "not a positive integer");
    EXPECT_ERROR("Linear(4, 8) -> 3", "bad.mn:1:17:", "expected a module", "number");
    EXPECT_ERROR("Linear(ReLU, 8)", "bad.mn:1:8:", "expected a number");
    EXPECT_ERROR("X = ReLU\nX = GELU\nX", "bad.mn:2:1:", "already defined");
    EXPECT_ERROR("Linear = ReLU\nLinear", "already a module kind");
    EXPECT_ERROR("ReLU\nGELU", "bad.mn:2:1:", "a second network");
    EXPECT_ERROR("param w = 3", "no network");
    EXPECT_ERROR("ReLU^0", "bad.mn:1:5:", "nothing");
    EXPECT_ERROR("ReLU -> ReLU^(1 - 2)", "bad.mn:1:17:", "whole number of copies");
    EXPECT_ERROR("Linear(4, 1 / 0)", "bad.mn:1:13:", "division by zero");
    EXPECT_ERROR("ReLU $", "bad.mn:1:6:", "unexpected character '$'");
    EXPECT_ERROR("ReLU -> (", "expected");
    EXPECT_ERROR("ReLU -> ()", "empty parentheses");
    EXPECT_ERROR("Y -> ReLU\nY = GELU", "bad.mn:1:1:", "unknown name 'Y'",
                 "defined below, at line 2");
    EXPECT_ERROR("\xef\xbb\xbfReLU", "bad.mn:1:1:", "byte-order mark");
    EXPECT_ERROR("1e999", "not a finite number");
    EXPECT_ERROR("", "bad.mn:1:1:", "no network");
}
END_TEST

/* A call that succeeds leaves no message of its own: the parser and the
 * printer probe whether a name is a module kind, and a probe that says no
 * recorded "unknown module kind 'w'" for mn_last_error() after a success. */
START_TEST(test_success_leaves_no_message)
{
    const char *texts[] = {"param w = 4\nLinear(w,4)", "param w = 4\nX = ReLU\nLinear(w, 4) -> X",
                           "LayerNorm -> Linear(4, 4)"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        mn_clear_error();
        mn_graph_file *g;
        ck_assert_ok(mn_graph_parse(&g, texts[i], strlen(texts[i]), NULL));
        ck_assert_msg(!mn_last_error()[0], "'%s': '%s'", texts[i], mn_last_error());
        mn_module *m;
        ck_assert_ok(mn_graph_make(g, &m));
        char *printed = NULL;
        ck_assert_ok(mn_graph_print(m, &printed));
        ck_assert_msg(!mn_last_error()[0], "'%s' printed: '%s'", texts[i], mn_last_error());
        free(printed);
        mn_module_destroy(m);
        mn_graph_destroy(g);
    }
    /* The message of an earlier failure stays the last failure's. */
    const mn_polar_method *pm;
    ck_assert_int_eq(mn_polar_lookup("nope", &pm), MN_ERR_ARG);
    char before[1024];
    snprintf(before, sizeof before, "%s", mn_last_error());
    mn_graph_file *g;
    ck_assert_ok(mn_graph_parse(&g, texts[0], strlen(texts[0]), NULL));
    ck_assert_str_eq(mn_last_error(), before);
    mn_graph_destroy(g);
}
END_TEST

START_TEST(test_limits)
{
    char *text = malloc(MN_GRAPH_MAX_BYTES + 64);
    /* nesting */
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        text[n++] = '(';
    strcpy(text + n, "ReLU");
    EXPECT_ERROR(text, "nested more than 256 levels deep");
    n = 0;
    for (int i = 0; i < 300; i++)
        text[n++] = '-';
    strcpy(text + n, "1");
    EXPECT_ERROR(text, "nested more than 256 levels deep");
    /* a tree deeper than its text could be read back: refused when built */
    n = (size_t)sprintf(text, "T0 = Linear(2, 2)\n");
    for (int i = 1; i <= 120; i++)
        n += (size_t)sprintf(text + n, "T%d = (T%d, Identity) -> Add\n", i, i - 1);
    strcpy(text + n, "T120");
    EXPECT_ERROR(text, "compounds deep; at most 100");
    /* and at the limit it prints and reads back */
    n = (size_t)sprintf(text, "T0 = Linear(2, 2)\n");
    for (int i = 1; i <= 45; i++)
        n += (size_t)sprintf(text + n, "T%d = -(T%d [mass = 2])\n", i, i - 1);
    strcpy(text + n, "T45");
    round_trip(build_text(text), "deep tree");
    /* an operator chain as deep as the text allows (no recursion) */
    n = 0;
    for (int i = 0; i < 5000; i++)
        n += (size_t)sprintf(text + n, "1 - ");
    strcpy(text + n, "1");
    EXPECT_ERROR(text, "operators deep");
    /* a name too long */
    memset(text, 'A', 100);
    strcpy(text + 100, " -> ReLU");
    EXPECT_ERROR(text, "bad.mn:1:1:", "at most 63");
    /* power k and total modules */
    EXPECT_ERROR("ReLU^5000", "whole number of copies in [0, 4096]");
    EXPECT_ERROR("(ReLU^4096)^4096", "more than 65536 modules");
    EXPECT_ERROR("A = ReLU -> ReLU\nB = A -> A\nC = B -> B\nD = C^4096 -> C^4096\nD", "modules");
    /* definitions used many times inside each other: numbers cost steps too */
    n = (size_t)sprintf(text, "X0 = 1\n");
    for (int i = 1; i < 40; i++)
        n += (size_t)sprintf(text + n, "X%d = X%d + X%d\n", i, i - 1, i - 1);
    strcpy(text + n, "Linear(X39, 1)");
    EXPECT_ERROR(text, "steps");
    /* definitions nested deeper than the builder goes */
    n = (size_t)sprintf(text, "D0 = ReLU\n");
    for (int i = 1; i < 2500; i++)
        n += (size_t)sprintf(text + n, "D%d = D%d -> Identity\n", i, i - 1);
    strcpy(text + n, "D2499");
    EXPECT_ERROR(text, "nested more than 2000");
    /* the size of the text */
    memset(text, ' ', MN_GRAPH_MAX_BYTES + 1);
    strcpy(text + MN_GRAPH_MAX_BYTES + 1, "ReLU");
    EXPECT_ERROR(text, "at most 1048576");
    /* many parameters */
    n = 0;
    for (int i = 0; i < 70; i++)
        n += (size_t)sprintf(text + n, "param p%d = 1\n", i);
    strcpy(text + n, "ReLU");
    EXPECT_ERROR(text, "more than 64 parameters");
    free(text);
}
END_TEST

/* ---- 4. what a program registers ------------------------------------------------- */

static mn_status twice_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    for (int64_t i = 0; i < mn_tensor_numel(c->out); i++)
        c->out->data[i] = 2 * c->in[0]->data[i];
    return MN_OK;
}

static const mn_module_ops twice_ops = {.kind = "GraphTwice", .forward = twice_forward};

static mn_status make_twice(mn_module **out, int argc, const double *a)
{
    (void)argc;
    (void)a;
    return mn_bond_create(out, &twice_ops, NULL, 2.0);
}

static const mn_module_maker twice_maker = {"GraphTwice", "GraphTwice", 0, 0, make_twice};

START_TEST(test_registered_by_the_program)
{
    ck_assert_ok(mn_module_register(&twice_maker));
    const mn_norm *fro;
    ck_assert_ok(mn_norm_lookup("frobenius", &fro));
    static mn_norm mine;
    mine = *fro;
    mine.name = "graph-test_norm.v2";
    ck_assert_ok(mn_norm_register(&mine));
    mn_module *m = build_text("Linear(4, 4) [norm = graph-test_norm.v2] -> GraphTwice");
    ck_assert(mn_module_sensitivity(m) == 2);
    ck_assert_str_eq(mn_module_norm(mn_module_child(m, 0))->name, "graph-test_norm.v2");
    round_trip(m, "registered");
}
END_TEST

/* ---- 5. init = s -------------------------------------------------------------------- */

START_TEST(test_init_scale)
{
    mn_module *a = build_text("Linear(8, 8) -> Linear(8, 8) [init = 0] -> Linear(8, 8) [init = 2]");
    mn_module *b = build_text("Linear(8, 8) -> Linear(8, 8) -> Linear(8, 8)");
    mn_network *na, *nb;
    ck_assert_ok(mn_network_create(&na, a, MN_PARAM_MODULAR, 7));
    ck_assert_ok(mn_network_create(&nb, b, MN_PARAM_MODULAR, 7));
    const float *wa = mn_network_weights(na), *wb = mn_network_weights(nb);
    for (int i = 0; i < 64; i++) {
        ck_assert(wa[i] == wb[i]);
        ck_assert(wa[64 + i] == 0);
        ck_assert(wa[128 + i] == 2 * wb[128 + i]);
    }
    mn_network_destroy(na);
    mn_network_destroy(nb);
    EXPECT_ERROR("ReLU [init = 0]", "not an atom");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mlp_file_is_mn_mlp);
    tcase_add_test(tc, test_mlp_file_matches_compiled_text);
    tcase_add_test(tc, test_round_trip_texts);
    tcase_add_test(tc, test_round_trip_example_files);
    tcase_add_test(tc, test_round_trip_c_trees);
    tcase_add_test(tc, test_parameters);
    tcase_add_test(tc, test_errors_name_place);
    tcase_add_test(tc, test_success_leaves_no_message);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_registered_by_the_program);
    tcase_add_test(tc, test_init_scale);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
