/* libFuzzer target: the checkpoint reader. Every input goes through
 * mn_safetensors_parse (the header, the offsets, the CRC) and, when that
 * accepts it, mn_checkpoint_restore into a small fixed run (the settings,
 * model and data checks, the tensors' dtypes, shapes and values). Neither
 * may crash, leak or read out of bounds on any input; the seeds are
 * checkpoints of this very run (fuzz_checkpoint_seeds), so mutations reach
 * the deep checks. Built with clang by -Dfuzz=enabled; the corpus is
 * replayed under `meson test` by fuzz/replay.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "io/safetensors.h"
#include "modnorm.h"

/* 12 rows of 4 features, 3 classes; MLP 4 → 5 → 3; muon, 6 steps of batch 3. */
enum { N = 12, DIM = 4, CLASSES = 3, TOTAL = 6 };

typedef struct {
    mn_dataset data;
    float x[N * DIM];
    int32_t y[N];
    mn_train_settings s;
    mn_batch_source src;
    mn_network *net;
    mn_solver *solver;
    double losses[TOTAL];
    mn_train_run run;
} fixture;

static fixture fx;
long fuzz_checkpoint_restored; /* inputs that restored: the replay reports it */

static int fixture_make(void)
{
    for (int i = 0; i < N * DIM; i++)
        fx.x[i] = (float)((i * 37 % 11) - 5) / 5.0f;
    for (int i = 0; i < N; i++)
        fx.y[i] = i % CLASSES;
    fx.data = (mn_dataset){.n = N, .dim = DIM, .n_classes = CLASSES, .x = fx.x, .y = fx.y};
    mn_train_settings_default(&fx.s);
    fx.s.steps = TOTAL;
    fx.s.batch = 3;
    fx.s.seed = 1;
    fx.s.threads = 1;
    mn_module *root;
    if (mn_batch_source_dataset(&fx.src, &fx.data, fx.s.batch, fx.s.seed) != MN_OK ||
        mn_mlp(&root, DIM, 5, 2, CLASSES) != MN_OK ||
        mn_train_build(root, &fx.s, TOTAL, &fx.net, &fx.solver) != MN_OK) {
        fprintf(stderr, "fuzz_checkpoint: cannot build the fixture: %s\n", mn_last_error());
        return -1;
    }
    fx.run = (mn_train_run){.settings = &fx.s, .net = fx.net, .solver = fx.solver,
                            .batcher = mn_batch_source_batcher(&fx.src),
                            .total_steps = TOTAL, .losses = fx.losses};
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return fixture_make();
}

/* Each input twice: as a user's file (the CRC checked), and without the CRC
 * check, so that a mutated data section reaches the value checks. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int pass = 0; pass < 2; pass++) {
        mn_safetensors *f = NULL;
        mn_status st = pass == 0 ? mn_safetensors_parse(data, size, "fuzz", &f)
                                 : mn_safetensors_parse_no_crc(data, size, "fuzz", &f);
        if (st == MN_OK) {
            if (mn_checkpoint_restore(f, &fx.run) == MN_OK && pass == 0)
                fuzz_checkpoint_restored++;
            mn_safetensors_free(f);
        }
    }
    return 0;
}

/* Checkpoints of the fixture's run at steps 0, 3 and 6 (muon; also adam's
 * state names, refused by the muon fixture's checks), each followed by a
 * few truncations and altered copies. */
static int write_file(const char *dir, const char *name, const unsigned char *b, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) {
        fprintf(stderr, "fuzz_checkpoint: cannot write %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static mn_status stop_at(void *ctx, const mn_fit_step *s)
{
    return s->step == *(const int64_t *)ctx ? mn_set_error(MN_ERR_ARG, "stop") : MN_OK;
}

int fuzz_checkpoint_seeds(const char *dir)
{
    if (fixture_make() != 0)
        return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/.seed.tmp", dir);
    for (int64_t k = 0; k <= TOTAL; k += 3) {
        mn_status st;
        if (k == 0) { /* the fixture as built: step 0 */
            st = mn_checkpoint_save(path, &fx.run);
        } else { /* the same run stopped right after its save at step k */
            mn_module *root;
            mn_checkpoint_opts ck = {.path = path, .every = k};
            mn_fit_callbacks cb = {.ctx = &k, .on_step = stop_at};
            mn_fit_result res;
            st = mn_mlp(&root, DIM, 5, 2, CLASSES);
            if (st == MN_OK)
                st = mn_train_checkpointed(root, &fx.s, &fx.data, NULL, &cb, &ck, &res);
            if (st == MN_ERR_ARG)
                st = MN_OK;
        }
        size_t n;
        unsigned char *b = st == MN_OK ? slurp(path, &n) : NULL;
        if (!b) {
            fprintf(stderr, "fuzz_checkpoint: cannot make the seed at step %lld: %s\n",
                    (long long)k, mn_last_error());
            return -1;
        }
        char name[64];
        snprintf(name, sizeof name, "valid-step%lld", (long long)k);
        int rc = write_file(dir, name, b, n);
        for (int cut = 0; rc == 0 && cut < 4; cut++) {
            size_t len = cut == 0 ? 7 : cut == 1 ? n / 3 : cut == 2 ? n - 1 : n / 2;
            snprintf(name, sizeof name, "truncated-step%lld-%zu", (long long)k, len);
            rc = write_file(dir, name, b, len);
        }
        for (int alt = 0; rc == 0 && alt < 4; alt++) {
            size_t at = alt == 0 ? 0 : alt == 1 ? 8 + 40 : alt == 2 ? n - 8 : n / 2;
            b[at] ^= 0x5a;
            snprintf(name, sizeof name, "altered-step%lld-byte%zu", (long long)k, at);
            rc = write_file(dir, name, b, n);
            b[at] ^= 0x5a;
        }
        free(b);
        if (rc != 0)
            return -1;
    }
    remove(path);
    return 0;
}
