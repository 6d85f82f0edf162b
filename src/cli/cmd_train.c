/* modnorm train: train a model on Fashion-MNIST (mn_train) and report its
 * test accuracy, or on text windows and report the validation loss in nats
 * per character; progress on a terminal, or JSON lines with --json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/json_out.h"

#define CMD "train"

typedef struct train_view {
    bool bar;
    int rc; /* a failed JSON write */
} train_view;

static mn_status on_step(void *ctx, const mn_fit_step *s)
{
    const train_view *v = ctx;
    if (!v->bar || ((s->step - 1) % 10 != 0 && s->step != s->total))
        return MN_OK;
    const int width = 30;
    int filled = (int)((double)width * (double)s->step / (double)s->total);
    double eta = s->seconds / (double)s->step * (double)(s->total - s->step);
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] step %lld/%lld  loss %.4f  ETA %dm%02ds ", (long long)s->step,
            (long long)s->total, s->loss, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
    return MN_OK;
}

static mn_status on_log(void *ctx, const mn_fit_step *s)
{
    train_view *v = ctx;
    v->rc = mn_cli_json_print(CMD, stdout,
                              json_pack("{s:I, s:o, s:o, s:o}", "step", (json_int_t)s->step,
                                        "epoch", mn_cli_json_real(s->epoch), "loss",
                                        mn_cli_json_real(s->loss), "lr", mn_cli_json_real(s->lr)));
    return v->rc == MN_EXIT_OK ? MN_OK : MN_ERR_IO; /* stop: the message is out */
}

/* Before any work: --atom-norm's K names an atom of this model. */
static int check_atom_norms(const mn_cli_args *a)
{
    if (a->atom_norms.n == 0)
        return MN_EXIT_OK;
    mn_module *root;
    int rc = mn_cli_model_tree(CMD, a, &root); /* no weights: nothing that size allocated */
    if (rc != MN_EXIT_OK)
        return rc;
    rc = mn_cli_apply_atom_norms(CMD, root, a);
    mn_module_destroy(root);
    return rc;
}

/* The data: Fashion-MNIST, or text windows of --context characters (the
 * corpus is kept for its vocabulary and the bigram baseline). */
static int load_data(const mn_cli_args *a, mn_dataset *train, mn_dataset *test, mn_text *text,
                     bool *is_text)
{
    const char *path = mn_cli_text_path(a, is_text);
    if (!*is_text) {
        mn_status st = mn_fashion_mnist_load(a->data_dir, train, test);
        return st == MN_OK ? MN_EXIT_OK : mn_cli_fail(CMD, st);
    }
    return mn_cli_text_load(CMD, a, path, text, train, test);
}

/* One number of the text result line: "n/a" where --json writes null (a
 * run stopped by a non-finite loss evaluated nothing). */
static const char *num(char *buf, size_t cap, const char *fmt, double v)
{
    if (!isfinite(v))
        return "n/a";
    snprintf(buf, cap, fmt, v);
    return buf;
}

static int report(const mn_cli_args *a, const mn_fit_result *r, const mn_text *text,
                  bool is_text)
{
    double bigram = NAN;
    if (is_text && mn_text_bigram_loss(text, &bigram, NULL) != MN_OK)
        bigram = NAN;
    if (a->json) {
        json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:o, s:o, s:b}", "test_acc",
                              mn_cli_json_real(r->test_acc), "test_loss",
                              mn_cli_json_real(r->test_loss), "train_loss",
                              mn_cli_json_real(r->train_loss), "steps", (json_int_t)r->steps,
                              "seconds", mn_cli_json_real(r->seconds), "ms_per_step",
                              mn_cli_json_real(r->ms_per_step), "diverged", (int)r->diverged);
        if (o && is_text) { /* the same numbers under the names text uses */
            json_object_set_new(o, "valid_loss", mn_cli_json_real(r->test_loss));
            json_object_set_new(o, "bigram_valid_loss", mn_cli_json_real(bigram));
        }
        return mn_cli_json_print(CMD, stdout, o);
    }
    const char *steps = r->steps == 1 ? "step" : "steps";
    char b[5][32];
    const char *test = num(b[0], sizeof b[0], "%.4f", r->test_loss);
    const char *train = num(b[1], sizeof b[1], "%.4f", r->train_loss);
    const char *ms = num(b[2], sizeof b[2], "%.1f", r->ms_per_step);
    if (is_text)
        printf("validation loss %s nats/char (train loss %s; add-one bigram %s) after "
               "%lld %s in %.1f s (%s ms/step)\n",
               test, train, num(b[3], sizeof b[3], "%.4f", bigram), (long long)r->steps, steps,
               r->seconds, ms);
    else
        printf("test accuracy %s (test loss %s, train loss %s) after %lld %s in "
               "%.1f s (%s ms/step)\n",
               num(b[4], sizeof b[4], "%.2f%%", 100 * r->test_acc), test, train,
               (long long)r->steps, steps, r->seconds, ms);
    return MN_EXIT_OK;
}

static int train(mn_cli_args *a, mn_dist *dist);

/* Whether a module of this kind is in the tree. */
static bool has_kind(const mn_module *m, const char *kind)
{
    if (strcmp(mn_module_kind(m), kind) == 0)
        return true;
    for (int i = 0; i < mn_module_child_count(m); i++)
        if (has_kind(mn_module_child(m, i), kind))
            return true;
    return false;
}

/* Whether the solver will give every atom target 0 (masses of 0 where it
 * matters; a lone atom is the whole step whatever its mass: target 1). The
 * solver's own rule (mn_solver_targets_for), not the root's mass, which has
 * no parent to share it out. */
static bool all_targets_zero(const mn_cli_args *a, const mn_module *root)
{
    mn_solver_config cfg;
    int n = mn_module_atom_count(root);
    double *t = n > 0 ? malloc((size_t)n * sizeof *t) : NULL;
    bool zero = t && mn_solver_preset(&cfg, a->opt, (mn_param)a->param) == MN_OK &&
                mn_solver_targets_for(&cfg, root, t) == MN_OK;
    for (int k = 0; zero && k < n; k++)
        zero = t[k] == 0;
    free(t);
    return zero;
}

/* The norm the preset puts on every atom over the atoms' own (sgd's
 * frobenius, sign's l1-linf), or NULL. */
static const char *preset_norm(const mn_cli_args *a)
{
    mn_solver_config cfg;
    return mn_solver_preset(&cfg, a->opt, (mn_param)a->param) == MN_OK ? cfg.norm : NULL;
}

/* Under mpirun every rank runs the same command on its shard of each batch
 * (dist.h); rank 0 alone prints (main silences the others; its messages carry any rank's failure). */
int mn_cmd_train(mn_cli_args *a)
{
    mn_dist *dist; /* the group main joined */
    mn_status st = mn_dist_create(&dist);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    int rc = train(a, dist);
    mn_dist_destroy(dist);
    return rc;
}

/* What a modnorm checkpoint at PATH is, for a refusal: "step 20 of 20, opt
 * muon" from its metadata (settings is JSON inside a string). */
static void describe_checkpoint(json_t *meta, char *out, size_t cap)
{
    const char *step = json_string_value(json_object_get(meta, "step"));
    const char *settings = json_string_value(json_object_get(meta, "settings"));
    json_t *set = settings ? json_loads(settings, 0, NULL) : NULL;
    json_t *total = json_object_get(set, "total_steps");
    const char *opt = json_string_value(json_object_get(set, "opt"));
    snprintf(out, cap, "step %.20s", step ? step : "?");
    if (json_is_integer(total))
        snprintf(out + strlen(out), cap - strlen(out), " of %lld",
                 (long long)json_integer_value(total));
    if (opt)
        snprintf(out + strlen(out), cap - strlen(out), ", opt %.32s", opt);
    json_decref(set);
}

/* The same file (not merely the same spelling): ./run.st is run.st. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* --checkpoint PATH replaces PATH during and after training. Before any
 * work: a file that is not a modnorm checkpoint (an empty file aside) is
 * never replaced; a modnorm checkpoint only by the run it holds (--resume
 * PATH) or with --overwrite. A run started fresh, or resumed from another
 * file, would otherwise destroy another run's state at its first save, even
 * when it then diverges. The check reads only the safetensors header:
 * 8 bytes of length, then the JSON with __metadata__. Exit 1, not 2: what
 * is wrong is what the file holds, which the command line cannot show
 * (README: exit codes). */
static int check_checkpoint_target(const mn_cli_args *a)
{
    const char *path = a->checkpoint;
    FILE *f = fopen(path, "rb");
    if (!f)
        return MN_EXIT_OK; /* missing: mn_cli_check_output_file said it can be made */
    unsigned char len8[8];
    size_t got = fread(len8, 1, 8, f);
    bool empty = got == 0 && feof(f), ours = false;
    char what[128] = "";
    uint64_t n = 0;
    for (int i = 7; got == 8 && i >= 0; i--)
        n = n << 8 | len8[i];
    char *header = got == 8 && n > 0 && n <= (64u << 20) ? malloc(n + 1) : NULL;
    if (header && fread(header, 1, n, f) == n) {
        header[n] = '\0';
        json_t *j = json_loads(header, 0, NULL);
        json_t *meta = json_object_get(j, "__metadata__");
        const char *format = json_string_value(json_object_get(meta, "format"));
        ours = format && strcmp(format, MN_CHECKPOINT_FORMAT) == 0;
        if (ours)
            describe_checkpoint(meta, what, sizeof what);
        json_decref(j);
    }
    free(header);
    fclose(f);
    char b[MN_CLI_SHOWN_CAP], r[MN_CLI_SHOWN_CAP];
    if (!empty && !ours)
        return mn_cli_error(CMD, "--checkpoint %s exists and is not a modnorm checkpoint: "
                            "refusing to replace it", mn_cli_shown(path, b, sizeof b));
    if (empty || a->overwrite || (a->resume && same_file(a->resume, path)))
        return MN_EXIT_OK;
    const char *shown = mn_cli_shown(path, b, sizeof b);
    if (a->resume)
        return mn_cli_error(CMD, "--checkpoint %s holds a modnorm checkpoint (%s) and the "
                            "run resumes from another file, %s: refusing to replace it "
                            "(save to a new path, or add --overwrite)", shown, what,
                            mn_cli_shown(a->resume, r, sizeof r));
    return mn_cli_error(CMD, "--checkpoint %s holds a modnorm checkpoint (%s): continue "
                        "it with --resume %s, or start over with --overwrite (or remove "
                        "it)", shown, what, shown);
}

static int train(mn_cli_args *a, mn_dist *dist)
{
    bool rank0 = mn_dist_rank(dist) == 0;
    if (a->save_every && !a->checkpoint)
        return mn_cli_usage_error(CMD, "--save-every needs --checkpoint PATH");
    if (a->overwrite && !a->checkpoint)
        return mn_cli_usage_error(CMD, "--overwrite needs --checkpoint PATH");
    if (a->checkpoint && mn_cli_check_output_file(CMD, "--checkpoint", a->checkpoint) != MN_EXIT_OK)
        return MN_EXIT_FAIL;
    int target_rc = a->checkpoint ? check_checkpoint_target(a) : MN_EXIT_OK;
    if (target_rc != MN_EXIT_OK)
        return target_rc;
    bool is_text;
    mn_cli_text_path(a, &is_text);
    int model_rc = mn_cli_check_model_data(CMD, a, is_text);
    if (model_rc != MN_EXIT_OK)
        return model_rc;
    /* AdamW has neither a polar iteration nor Nesterov momentum: say that
     * these options change nothing rather than ignore them. */
    static const mn_opt_id adam_ignores[] = {MN_OPT_NESTEROV, MN_OPT_METHOD, MN_OPT_FORM,
                                                 MN_OPT_PRECISION};
    mn_solver_config preset; /* the preset's kind, aliases included */
    bool adam = mn_solver_preset(&preset, a->opt, (mn_param)a->param) == MN_OK &&
                preset.kind == MN_SOLVER_ADAMW;
    for (size_t i = 0; adam && i < sizeof adam_ignores / sizeof *adam_ignores; i++)
        if (a->given[adam_ignores[i]])
            fprintf(stderr, "modnorm train: note: --%s has no effect with --opt %s\n",
                    mn_cli_options[adam_ignores[i]].name, a->opt);
    int rc = check_atom_norms(a);
    if (rc != MN_EXIT_OK)
        return rc;
    mn_dataset train = {0}, test = {0};
    mn_text text = {0};
    rc = load_data(a, &train, &test, &text, &is_text);
    if (rc != MN_EXIT_OK)
        return rc;
    int64_t n = train.n;
    mn_module *root = NULL;
    if (a->batch > n)
        rc = mn_cli_error(CMD, "--batch %lld exceeds the %lld training %s",
                          (long long)a->batch, (long long)n,
                          is_text ? "windows" : "examples");
    else if (is_text)
        rc = mn_cli_model_build_text(CMD, a, text.vocab.size, a->context, &root);
    else
        rc = mn_cli_model_build(CMD, a, &root);
    if (rc != MN_EXIT_OK) {
        mn_dataset_free(&train);
        mn_dataset_free(&test);
        mn_text_free(&text);
        return rc;
    }
    mn_train_settings s;
    mn_atom_norm ov[MN_CLI_MAX_ATOM_NORMS];
    mn_cli_train_settings(a, &s, ov);
    /* Settings that make a run do less than it seems to: say so up front. */
    int64_t total = mn_train_total_steps(&s, n / a->batch);
    if (rank0 && a->warmup >= total)
        fprintf(stderr, "modnorm train: note: --warmup %lld spans the whole run (%lld steps): "
                "the schedule after it never starts\n", (long long)a->warmup, (long long)total);
    if (rank0 && !adam && all_targets_zero(a, root))
        fprintf(stderr, "modnorm train: note: every atom's target is 0 (its mass or a parent's "
                "is 0): the steps change no weight under --opt %s%s\n", a->opt,
                a->wd > 0 ? " (only --wd's decay does)" : "");
    if (rank0 && a->net_precision == MN_PRECISION_BF16 && !has_kind(root, "Linear"))
        fprintf(stderr, "modnorm train: note: --net-precision bf16 has no effect: the model "
                "has no Linear atom (Conv2D, Embed and attention run in float32)\n");
    bool bf16 = a->net_precision == MN_PRECISION_BF16 ||
                (!adam && a->precision == MN_PRECISION_BF16);
    if (rank0 && bf16 && strncmp(mn_polar_bf16_impl(), "fallback", 8) == 0)
        fprintf(stderr, "modnorm train: note: bf16 products run through the %s, slower than "
                "fp32\n", mn_polar_bf16_impl());
    const char *shared = adam ? NULL : preset_norm(a);
    const mn_norm *shared_norm = NULL;
    if (shared && mn_norm_lookup(shared, &shared_norm) != MN_OK)
        shared_norm = NULL;
    if (rank0 && shared && a->atom_norms.n > 0)
        fprintf(stderr, "modnorm train: note: --atom-norm has no effect with --opt %s: its "
                "norm (%s) goes on every atom\n", a->opt, shared);
    if (rank0 && shared_norm && !shared_norm->uses_polar && a->precision == MN_PRECISION_BF16)
        fprintf(stderr, "modnorm train: note: --precision bf16 has no effect with --opt %s: "
                "its norm (%s) has no polar factor\n", a->opt, shared);
    if (rank0 && shared_norm && !shared_norm->uses_polar && a->given[MN_OPT_METHOD])
        fprintf(stderr, "modnorm train: note: --method has no effect with --opt %s: its norm "
                "(%s) has no polar factor\n", a->opt, shared);
    s.dist = mn_dist_size(dist) > 1 ? dist : NULL;
    train_view view = {.bar = rank0 && !a->json && isatty(STDERR_FILENO)};
    mn_fit_callbacks cb = {.ctx = &view, .on_step = on_step, .on_log = a->json ? on_log : NULL};
    mn_fit_result r;
    mn_status st;
    if (a->checkpoint || a->resume) {
        /* the model as graph text in the metadata: a resume compares it too */
        char *graph = NULL;
        if (mn_graph_print(root, &graph) != MN_OK)
            graph = NULL;
        /* .diverge_factor: a run that the rule below calls diverged is not saved */
        mn_checkpoint_opts ck = {.path = a->checkpoint, .every = a->save_every,
                                 .diverge_factor = MN_FIT_DIVERGENCE_FACTOR,
                                 .resume = a->resume, .graph = graph,
                                 .vocab = is_text ? &text.vocab : NULL};
        st = mn_train_checkpointed(root, &s, &train, rank0 ? &test : NULL, &cb, &ck, &r);
        free(graph);
    } else {
        st = mn_train(root, &s, &train, rank0 ? &test : NULL, &cb, &r);
    }
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    if (view.bar)
        fputc('\n', stderr);
    if (view.rc != MN_EXIT_OK) {
        mn_text_free(&text);
        return view.rc;
    }
    if (st == MN_ERR_NONFINITE) /* an update or the test loss overflowed: diverged too */
        fprintf(stderr, "modnorm train: %s after %lld steps: stopping (diverged; try a smaller "
                "--lr)\n", mn_last_error(), (long long)r.steps);
    else if (st == MN_OK && r.diverged)
        fprintf(stderr, "modnorm train: the loss became non-finite at step %lld: stopping "
                "(diverged; try a smaller --lr)\n", (long long)r.diverged_at + 1);
    bool stopped = r.diverged || st == MN_ERR_NONFINITE; /* told above */
    /* The sweep's rule too: a network that blew up can end with a training
     * loss of exactly ln C (dead ReLUs, zero logits) and a test loss of 1e16. */
    st = mn_fit_judge(st, &r, MN_FIT_DIVERGENCE_FACTOR);
    if (st == MN_OK && r.diverged && !stopped && rank0) {
        bool train_rule = r.train_loss > MN_FIT_DIVERGENCE_FACTOR * r.initial_loss;
        fprintf(stderr, "modnorm train: the %s loss %.4g is above %g x the first step's loss "
                "%.4g (diverged; try a smaller --lr)\n",
                train_rule ? "final training" : is_text ? "validation" : "test",
                train_rule ? r.train_loss : r.test_loss, MN_FIT_DIVERGENCE_FACTOR,
                r.initial_loss);
    }
    if (st != MN_OK) {
        /* Only the final save failed (a full disk, say): the run itself is
         * complete and evaluated, so its result line still comes first. */
        if (r.total_steps > 0 && r.steps == r.total_steps && !r.diverged &&
            isfinite(r.test_loss) && report(a, &r, &text, is_text) == MN_EXIT_OK)
            fflush(stdout);
        mn_text_free(&text);
        return mn_cli_fail(CMD, st);
    }
    rc = report(a, &r, &text, is_text);
    mn_text_free(&text);
    if (rc != MN_EXIT_OK)
        return rc;
    return r.diverged ? 3 : MN_EXIT_OK;
}
