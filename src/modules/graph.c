/* The flattened module tree and the network's activation memory (graph.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "core/size.h"
#include "modules/graph.h"

/* Every tensor starts on a 64-byte boundary (16 floats). */
#define ALIGN_FLOATS 16

/* ---- building ------------------------------------------------------------ */

typedef struct ivec {
    int *v;
    int n, cap;
} ivec;

static mn_status ivec_push(ivec *a, int x)
{
    if (a->n == a->cap) {
        if (a->cap > (1 << 29))
            return mn_fail(MN_ERR_ARG, "mn_network_create: the tree has over 2^29 modules or "
                           "inputs");
        int cap = a->cap ? 2 * a->cap : 16;
        int *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v)
            return mn_fail(MN_ERR_NOMEM, "mn_network_create: out of memory");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return MN_OK;
}

typedef struct builder {
    mn_graph *g;
    ivec step_in_first, step_n_in, edge_value;
    ivec node_out_first, node_n_out, node_in_first, node_n_in, node_depth, node_vals;
    mn_module **step_module;
    int step_cap;
    const mn_module **nodes;
    int node_cap;
} builder;

static mn_status add_step(builder *b, mn_module *m)
{
    if (b->g->n_steps == b->step_cap) {
        if (b->step_cap > (1 << 29))
            return mn_fail(MN_ERR_ARG, "mn_network_create: the tree has over 2^29 leaves");
        int cap = b->step_cap ? 2 * b->step_cap : 16;
        mn_module **s = realloc(b->step_module, (size_t)cap * sizeof *s);
        if (!s)
            return mn_fail(MN_ERR_NOMEM, "mn_network_create: out of memory");
        b->step_module = s;
        b->step_cap = cap;
    }
    b->step_module[b->g->n_steps++] = m;
    return MN_OK;
}

static mn_status add_node(builder *b, const mn_module *m, int depth)
{
    if (b->g->n_nodes == b->node_cap) {
        if (b->node_cap > (1 << 29))
            return mn_fail(MN_ERR_ARG, "mn_network_create: the tree has over 2^29 modules");
        int cap = b->node_cap ? 2 * b->node_cap : 16;
        const mn_module **s = realloc(b->nodes, (size_t)cap * sizeof *s);
        if (!s)
            return mn_fail(MN_ERR_NOMEM, "mn_network_create: out of memory");
        b->nodes = s;
        b->node_cap = cap;
    }
    b->nodes[b->g->n_nodes++] = m;
    MN_TRY(ivec_push(&b->node_out_first, 0));
    MN_TRY(ivec_push(&b->node_n_out, 0));
    MN_TRY(ivec_push(&b->node_in_first, 0));
    MN_TRY(ivec_push(&b->node_depth, depth));
    return ivec_push(&b->node_n_in, 0);
}

/* Lay out m reading values in[0..n): its outputs are appended to *out. */
static mn_status build(builder *b, mn_module *m, int depth, const int *in, int n, ivec *out)
{
    int node = b->g->n_nodes;
    MN_TRY(add_node(b, m, depth));
    b->node_in_first.v[node] = b->node_vals.n;
    b->node_n_in.v[node] = n;
    for (int k = 0; k < n; k++)
        MN_TRY(ivec_push(&b->node_vals, in[k]));
    int first_out = out->n;
    if (m->compound == MN_LEAF) {
        MN_TRY(add_step(b, m));
        MN_TRY(ivec_push(&b->step_in_first, b->edge_value.n));
        MN_TRY(ivec_push(&b->step_n_in, n));
        for (int k = 0; k < n; k++)
            MN_TRY(ivec_push(&b->edge_value, in[k]));
        MN_TRY(ivec_push(out, b->g->n_values++));
    } else if (m->compound == MN_TUPLE) {
        for (int i = 0; i < m->n_children; i++)
            MN_TRY(build(b, m->children[i], depth + 1, in, n, out));
    } else {
        ivec cur = {0}, next = {0};
        mn_status st = MN_OK;
        for (int k = 0; k < n && st == MN_OK; k++)
            st = ivec_push(&cur, in[k]);
        for (int i = 0; i < m->n_children && st == MN_OK; i++) {
            next.n = 0;
            st = build(b, m->children[i], depth + 1, cur.v, cur.n, &next);
            ivec t = cur;
            cur = next;
            next = t;
        }
        for (int k = 0; k < cur.n && st == MN_OK; k++)
            st = ivec_push(out, cur.v[k]);
        free(cur.v);
        free(next.v);
        MN_TRY(st);
    }
    b->node_out_first.v[node] = b->node_vals.n;
    b->node_n_out.v[node] = out->n - first_out;
    for (int k = first_out; k < out->n; k++)
        MN_TRY(ivec_push(&b->node_vals, out->v[k]));
    return MN_OK;
}

#define ALLOC(p, n) ((p) = calloc((size_t)((n) > 0 ? (n) : 1), sizeof *(p)))

mn_status mn_graph_build(mn_graph *g, mn_module *root)
{
    memset(g, 0, sizeof *g);
    builder b = {.g = g};
    ivec out = {0};
    g->n_values = 1; /* value 0: the network's input */
    int input = 0;
    mn_status st = build(&b, root, 0, &input, 1, &out);
    if (st == MN_OK) {
        g->n_edges = b.edge_value.n;
        g->n_root_out = out.n;
        g->root_out = out.n > 0 ? out.v[0] : 0;
        g->n_node_vals = b.node_vals.n;
        ALLOC(g->steps, g->n_steps);
        ALLOC(g->edge_value, g->n_edges);
        ALLOC(g->edge_in, g->n_edges);
        ALLOC(g->edge_din, g->n_edges);
        ALLOC(g->din_hdr, g->n_edges);
        ALLOC(g->edge_wanted, g->n_edges);
        ALLOC(g->val, g->n_values);
        ALLOC(g->val_hdr, g->n_values);
        ALLOC(g->shape, g->n_values);
        ALLOC(g->need, g->n_values);
        ALLOC(g->contrib_first, g->n_values);
        ALLOC(g->contrib_n, g->n_values);
        ALLOC(g->contrib, g->n_edges);
        ALLOC(g->sum_hdr, g->n_values);
        ALLOC(g->grad, g->n_values);
        ALLOC(g->node, g->n_nodes);
        ALLOC(g->node_out_first, g->n_nodes);
        ALLOC(g->node_n_out, g->n_nodes);
        ALLOC(g->node_in_first, g->n_nodes);
        ALLOC(g->node_n_in, g->n_nodes);
        ALLOC(g->node_depth, g->n_nodes);
        ALLOC(g->node_vals, g->n_node_vals);
        ALLOC(g->node_tensors, g->n_node_vals);
        if (!g->steps || !g->edge_value || !g->edge_in || !g->edge_din || !g->din_hdr ||
            !g->edge_wanted || !g->val || !g->val_hdr || !g->shape ||
            !g->need || !g->contrib_first || !g->contrib_n || !g->contrib || !g->sum_hdr ||
            !g->grad || !g->node || !g->node_out_first || !g->node_n_out ||
            !g->node_in_first || !g->node_n_in || !g->node_depth || !g->node_vals || !g->node_tensors)
            st = mn_fail(MN_ERR_NOMEM, "mn_network_create: out of memory for the activations' "
                         "bookkeeping");
    }
    if (st == MN_OK) {
        for (int s = 0; s < g->n_steps; s++) {
            mn_graph_step *t = &g->steps[s];
            t->m = b.step_module[s];
            t->in_first = b.step_in_first.v[s];
            t->n_in = b.step_n_in.v[s];
            t->out = s + 1; /* steps output values 1, 2, … in order */
        }
        memcpy(g->edge_value, b.edge_value.v, (size_t)g->n_edges * sizeof(int));
        memcpy(g->node, b.nodes, (size_t)g->n_nodes * sizeof *g->node);
        memcpy(g->node_out_first, b.node_out_first.v, (size_t)g->n_nodes * sizeof(int));
        memcpy(g->node_n_out, b.node_n_out.v, (size_t)g->n_nodes * sizeof(int));
        memcpy(g->node_in_first, b.node_in_first.v, (size_t)g->n_nodes * sizeof(int));
        memcpy(g->node_n_in, b.node_n_in.v, (size_t)g->n_nodes * sizeof(int));
        memcpy(g->node_depth, b.node_depth.v, (size_t)g->n_nodes * sizeof(int));
        if (g->n_node_vals > 0)
            memcpy(g->node_vals, b.node_vals.v, (size_t)g->n_node_vals * sizeof(int));
    }
    free(b.step_module);
    free(b.nodes);
    free(b.step_in_first.v);
    free(b.step_n_in.v);
    free(b.edge_value.v);
    free(b.node_out_first.v);
    free(b.node_n_out.v);
    free(b.node_in_first.v);
    free(b.node_n_in.v);
    free(b.node_depth.v);
    free(b.node_vals.v);
    free(out.v);
    if (st != MN_OK)
        mn_graph_free(g);
    return st;
}

void mn_graph_free(mn_graph *g)
{
    free(g->steps);
    free(g->edge_value);
    free(g->edge_in);
    free(g->edge_din);
    free(g->din_hdr);
    free(g->edge_wanted);
    free(g->val);
    free(g->val_hdr);
    free(g->shape);
    free(g->need);
    free(g->contrib_first);
    free(g->contrib_n);
    free(g->contrib);
    free(g->sum_hdr);
    free(g->grad);
    free(g->node);
    free(g->node_out_first);
    free(g->node_n_out);
    free(g->node_in_first);
    free(g->node_n_in);
    free(g->node_depth);
    free(g->node_vals);
    free(g->node_tensors);
    free(g->arena);
    memset(g, 0, sizeof *g);
}

/* ---- planning ------------------------------------------------------------ */

static int64_t shape_numel(const mn_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dim[i];
    return n;
}

static bool tensor_has_shape(const mn_tensor *t, const mn_shape *s)
{
    if (t->ndim != s->ndim)
        return false;
    for (int i = 0; i < s->ndim; i++)
        if (t->shape[i] != s->dim[i])
            return false;
    return true;
}

static void set_header(mn_tensor *t, float *data, const mn_shape *s)
{
    t->data = data;
    t->ndim = s->ndim;
    t->owns_data = false;
    int64_t stride = 1;
    for (int i = MN_MAX_DIMS - 1; i >= 0; i--) {
        t->shape[i] = i < s->ndim ? s->dim[i] : 0;
        t->stride[i] = i < s->ndim ? stride : 0;
        if (i < s->ndim)
            stride *= s->dim[i];
    }
}

static mn_status step_error(const mn_graph_step *t, const char *what)
{
    char d[64];
    return mn_fail(MN_ERR_ARG, "%s %s", mn_module_describe(t->m, d, sizeof d), what);
}

/* Ask step t for its plan, given its inputs' shapes in g->shape. */
static mn_status plan_step(mn_graph *g, mn_graph_step *t, mn_shape *in)
{
    MN_TRY(mn_module_check_arity(t->m, t->n_in));
    for (int k = 0; k < t->n_in; k++)
        in[k] = g->shape[g->edge_value[t->in_first + k]];
    mn_module_plan p = {.out = in[0]};
    if (t->m->ops->plan)
        MN_TRY(t->m->ops->plan(t->m, t->n_in, in, &p));
    if (p.out.ndim < 1 || p.out.ndim > MN_MAX_DIMS)
        return step_error(t, "planned an output of a bad number of dimensions");
    int64_t count;
    MN_TRY(mn_checked_count(t->m->ops->kind, MN_ERR_SHAPE, p.out.ndim, p.out.dim, sizeof(float),
                            &count));
    if (p.saved < 0 || p.saved > mn_max_elems(sizeof(float)))
        return step_error(t, "planned a negative or huge saved size");
    if (p.out_is_view && count != shape_numel(&in[0]))
        return step_error(t, "is a view of its input but changes its number of elements");
    /* A kind's two answers about its output must agree: a plan that forgot
     * a change of width would have forward write past its output. */
    if (t->m->ops->features) {
        int64_t *last = malloc((size_t)t->n_in * sizeof *last), want = -1;
        if (!last)
            return mn_fail(MN_ERR_NOMEM, "graph: out of memory planning %d inputs", t->n_in);
        for (int k = 0; k < t->n_in; k++)
            last[k] = in[k].ndim > 0 ? in[k].dim[in[k].ndim - 1] : -1;
        bool known = t->m->ops->features(t->m, t->n_in, last, &want) == MN_OK && want >= 0;
        free(last);
        if (known && want != p.out.dim[p.out.ndim - 1]) {
            char d[64];
            return mn_fail(MN_ERR_ARG, "%s planned an output of %lld features where its "
                           "features() gives %lld: a kind that changes the feature size needs "
                           "a plan that says so", mn_module_describe(t->m, d, sizeof d),
                           (long long)p.out.dim[p.out.ndim - 1], (long long)want);
        }
    }
    if (!p.out_is_view && !t->m->ops->forward)
        return step_error(t, "has no forward");
    t->plan = p;
    g->shape[t->out] = p.out;
    return MN_OK;
}

/* Which gradients serve anything, which steps run backward, and which input
 * gradients each value collects: from the plan and keep_input_grad, no
 * allocation (the layout covers keep_input_grad = true, a superset). */
static mn_status schedule(mn_graph *g, bool keep, bool check)
{
    g->scheduled = false;
    g->need[0] = keep;
    for (int s = 0; s < g->n_steps; s++) {
        mn_graph_step *t = &g->steps[s];
        bool n = mn_module_is_atom(t->m);
        for (int k = 0; k < t->n_in && !n; k++)
            n = g->need[g->edge_value[t->in_first + k]] && !t->plan.no_din;
        g->need[t->out] = n;
    }
    for (int v = 0; v < g->n_values; v++)
        g->contrib_n[v] = 0;
    for (int s = g->n_steps - 1; s >= 0; s--) {
        mn_graph_step *t = &g->steps[s];
        /* the root's output gradient is the caller's dy; any other's, its readers' */
        bool live = t->out == g->root_out || g->contrib_n[t->out] > 0;
        t->run_backward = live && g->need[t->out];
        bool any = false;
        for (int k = 0; k < t->n_in; k++) {
            int e = t->in_first + k, v = g->edge_value[e];
            g->edge_wanted[e] = t->run_backward && g->need[v] && !t->plan.no_din;
            any = any || g->edge_wanted[e];
            if (g->edge_wanted[e])
                g->contrib_n[v]++;
            g->edge_din[e] = g->edge_wanted[e] && !t->plan.din_is_view ? &g->din_hdr[e] : NULL;
        }
        if (check && t->run_backward && !t->m->ops->backward &&
            (mn_module_is_atom(t->m) || (any && !t->plan.din_is_view)))
            return step_error(t, "has no backward");
    }
    /* each value's contributing edges, in forward order */
    int at = 0;
    for (int v = 0; v < g->n_values; v++) {
        g->contrib_first[v] = at;
        at += g->contrib_n[v];
        g->contrib_n[v] = 0;
    }
    for (int e = 0; e < g->n_edges; e++)
        if (g->edge_wanted[e]) {
            int v = g->edge_value[e];
            g->contrib[g->contrib_first[v] + g->contrib_n[v]++] = e;
        }
    g->scheduled_keep = keep;
    g->scheduled = check; /* the layout's unchecked schedule is redone before use */
    return MN_OK;
}

static mn_status reserve(int64_t *total, int64_t n, int64_t *offset)
{
    *offset = *total;
    int64_t padded = (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    return mn_checked_add("the network's activations", *total, padded, sizeof(float), total);
}

static mn_status plan(mn_graph *g, const mn_tensor *x)
{
    g->planned = g->forwarded = false;
    if (g->n_root_out != 1)
        return mn_fail(MN_ERR_SHAPE, "the network outputs a %d-tuple; end it with Add or a "
                       "single-output module", g->n_root_out);
    mn_shape in0 = {.ndim = x->ndim};
    for (int i = 0; i < x->ndim; i++)
        in0.dim[i] = x->shape[i];
    g->shape[0] = in0;
    int max_in = 1;
    for (int s = 0; s < g->n_steps; s++)
        max_in = g->steps[s].n_in > max_in ? g->steps[s].n_in : max_in;
    mn_shape *in = malloc((size_t)max_in * sizeof *in);
    if (!in)
        return mn_fail(MN_ERR_NOMEM, "mn_network_forward: out of memory");
    mn_status st = MN_OK;
    for (int s = 0; s < g->n_steps && st == MN_OK; s++)
        st = plan_step(g, &g->steps[s], in);
    free(in);
    MN_TRY(st);
    /* The layout holds every gradient keep_input_grad could ask for. */
    MN_TRY(schedule(g, true, false));

    /* Offsets (in floats) of outputs, saved statistics, input gradients
     * and gradient sums, in that order. */
    int64_t total = 0, *out_off = NULL, *saved_off = NULL, *din_off = NULL, *sum_off = NULL;
    ALLOC(out_off, g->n_steps);
    ALLOC(saved_off, g->n_steps);
    ALLOC(din_off, g->n_edges);
    ALLOC(sum_off, g->n_values);
    if (!out_off || !saved_off || !din_off || !sum_off)
        st = mn_fail(MN_ERR_NOMEM, "mn_network_forward: out of memory");
    for (int s = 0; s < g->n_steps && st == MN_OK; s++)
        if (!g->steps[s].plan.out_is_view)
            st = reserve(&total, shape_numel(&g->shape[g->steps[s].out]), &out_off[s]);
    for (int s = 0; s < g->n_steps && st == MN_OK; s++)
        st = reserve(&total, g->steps[s].plan.saved, &saved_off[s]);
    for (int e = 0; e < g->n_edges && st == MN_OK; e++)
        if (g->edge_din[e])
            st = reserve(&total, shape_numel(&g->shape[g->edge_value[e]]), &din_off[e]);
    for (int v = 0; v < g->n_values && st == MN_OK; v++)
        if (g->contrib_n[v] > 1)
            st = reserve(&total, shape_numel(&g->shape[v]), &sum_off[v]);
    if (st == MN_OK && (size_t)total > g->arena_floats) {
        size_t bytes = (size_t)total * sizeof(float);
        float *a = aligned_alloc(ALIGN_FLOATS * sizeof(float), bytes);
        if (!a)
            st = mn_fail(MN_ERR_NOMEM, "mn_network_forward: cannot allocate %lld floats of "
                         "activations", (long long)total);
        else {
            memset(a, 0, bytes);
            free(g->arena);
            g->arena = a;
            g->arena_floats = (size_t)total;
        }
    }
    if (st == MN_OK) {
        float *a = g->arena;
        for (int s = 0; s < g->n_steps; s++) {
            mn_graph_step *t = &g->steps[s];
            set_header(&g->val_hdr[t->out], t->plan.out_is_view ? NULL : a + out_off[s],
                       &g->shape[t->out]);
            t->saved = t->plan.saved > 0 ? a + saved_off[s] : NULL;
        }
        for (int e = 0; e < g->n_edges; e++)
            set_header(&g->din_hdr[e], g->edge_din[e] ? a + din_off[e] : NULL,
                       &g->shape[g->edge_value[e]]);
        for (int v = 0; v < g->n_values; v++)
            set_header(&g->sum_hdr[v], g->contrib_n[v] > 1 ? a + sum_off[v] : NULL,
                       &g->shape[v]);
        g->planned_in = in0;
        g->planned = true;
    }
    free(out_off);
    free(saved_off);
    free(din_off);
    free(sum_off);
    return st;
}

/* ---- running ------------------------------------------------------------- */

mn_status mn_graph_forward(mn_graph *g, const mn_tensor *x, bool keep, int threads,
                           const mn_tensor **y)
{
    if (x->ndim < 1 || x->ndim > MN_MAX_DIMS)
        return mn_fail(MN_ERR_SHAPE, "mn_network_forward: the input has %d dimensions (1 to %d)",
                       x->ndim, MN_MAX_DIMS);
    if (!mn_tensor_is_contiguous(x))
        return mn_fail(MN_ERR_SHAPE, "mn_network_forward: the input is not contiguous");
    if (!g->planned || !tensor_has_shape(x, &g->planned_in)) {
        MN_TRY(plan(g, x));
    }
    g->forwarded = false;
    if (!g->scheduled || keep != g->scheduled_keep)
        MN_TRY(schedule(g, keep, true));
    g->val[0] = x;
    for (int s = 0; s < g->n_steps; s++) {
        mn_graph_step *t = &g->steps[s];
        for (int k = 0; k < t->n_in; k++)
            g->edge_in[t->in_first + k] = g->val[g->edge_value[t->in_first + k]];
        const mn_tensor *in0 = g->edge_in[t->in_first];
        if (!t->plan.out_is_view)
            g->val[t->out] = &g->val_hdr[t->out];
        else if (tensor_has_shape(in0, &g->shape[t->out]))
            g->val[t->out] = in0; /* the same tensor (Identity) */
        else {
            g->val_hdr[t->out].data = in0->data;
            g->val[t->out] = &g->val_hdr[t->out];
        }
        if (t->m->ops->forward) {
            mn_module_call c = {.n_in = t->n_in, .in = &g->edge_in[t->in_first],
                                .out = (mn_tensor *)g->val[t->out], .saved = t->saved,
                                .threads = threads, .precision = g->precision};
            MN_TRY(t->m->ops->forward(t->m, &c));
        }
    }
    for (int i = 0; i < g->n_node_vals; i++)
        g->node_tensors[i] = g->val[g->node_vals[i]];
    g->forwarded = true;
    *y = g->val[g->root_out];
    return MN_OK;
}

/* The gradient of value v: its one contribution, or their sum in forward
 * order (0 + a + b + …, as a tuple summed its children's); split over
 * elements, so each keeps that order. */
static void collect(mn_graph *g, int v, int threads)
{
    int n = g->contrib_n[v];
    const int *e = &g->contrib[g->contrib_first[v]];
    if (n <= 1) {
        g->grad[v] = n == 1 ? g->edge_din[e[0]] : NULL;
        return;
    }
    mn_tensor *sum = &g->sum_hdr[v];
    int64_t len = mn_tensor_numel(sum);
    float *dx = sum->data;
    memset(dx, 0, (size_t)len * sizeof *dx);
    int nt = mn_elementwise_threads(threads, len);
    (void)nt; /* unused without OpenMP */
    for (int i = 0; i < n; i++) {
        const float *d = g->edge_din[e[i]]->data;
        MN_PARALLEL_FOR(nt)
        for (int64_t j = 0; j < len; j++)
            dx[j] += d[j];
    }
    g->grad[v] = sum;
}

mn_status mn_graph_backward(mn_graph *g, const mn_tensor *dy, bool keep, int threads)
{
    if (!g->scheduled || keep != g->scheduled_keep)
        MN_TRY(schedule(g, keep, true));
    for (int v = 0; v < g->n_values; v++)
        g->grad[v] = NULL;
    g->grad[g->root_out] = (mn_tensor *)dy;
    for (int s = g->n_steps - 1; s >= 0; s--) {
        mn_graph_step *t = &g->steps[s];
        if (!t->run_backward)
            continue;
        if (t->out != g->root_out)
            collect(g, t->out, threads);
        mn_tensor *gy = g->grad[t->out];
        if (t->plan.din_is_view)
            for (int k = 0; k < t->n_in; k++) {
                int e = t->in_first + k;
                if (!g->edge_wanted[e])
                    continue;
                const mn_shape *sh = &g->shape[g->edge_value[e]];
                if (tensor_has_shape(gy, sh))
                    g->edge_din[e] = gy;
                else {
                    g->din_hdr[e].data = gy->data;
                    g->edge_din[e] = &g->din_hdr[e];
                }
            }
        if (t->m->ops->backward) {
            mn_module_call c = {.n_in = t->n_in, .in = &g->edge_in[t->in_first],
                                .out = (mn_tensor *)g->val[t->out], .saved = t->saved,
                                .dout = gy, .din = &g->edge_din[t->in_first],
                                .threads = threads, .precision = g->precision};
            MN_TRY(t->m->ops->backward(t->m, &c));
        }
    }
    if (g->need[0])
        collect(g, 0, threads);
    return MN_OK;
}

const mn_tensor *mn_graph_input_grad(const mn_graph *g) { return g->grad ? g->grad[0] : NULL; }
