/* The subcommands: which options each takes, with its defaults, and its
 * help text. Ranges and parsing live in the option table (options.c). */
#include "cli/options.h"
#include "modnorm.h"

#define TRAIN_METHOD MN_FIT_DEFAULT_POLAR
#define BLIS_THREADS "default: BLIS's choice"
#define DATA_DIR_NOTE "default " MN_FASHION_MNIST_DIR
/* --width/--depth default to 512/3 for mlp; other models keep their graph
 * file's own values (examples/NAME.mn) unless given: the help says so. */
#define MODEL_WIDTH "default: the model's; mlp 512, gpt 128, cnn 32"
#define MODEL_DEPTH "default: the model's; mlp 3 layers, gpt 4 blocks"
#define N_USES(u) ((int)(sizeof(u) / sizeof(u)[0]))
#define STR_(x) #x
#define MN_CLI_STR(x) STR_(x) /* a numeric macro as text */

static const mn_cli_use train_uses[] = {
    {.id = MN_OPT_DATA, .deflt = "fashion-mnist"},
    {.id = MN_OPT_MODEL, .deflt = "mlp"},
    {.id = MN_OPT_GRAPH},
    {.id = MN_OPT_SET},
    {.id = MN_OPT_WIDTH, .deflt = "512", .note = MODEL_WIDTH},
    {.id = MN_OPT_DEPTH, .deflt = "3", .note = MODEL_DEPTH},
    {.id = MN_OPT_OPT, .deflt = "muon"},
    {.id = MN_OPT_PARAM, .deflt = "modular"},
    {.id = MN_OPT_LR, .note = "default: the preset's, see README"},
    {.id = MN_OPT_STEPS, .note = "default: from --epochs"},
    {.id = MN_OPT_EPOCHS, .deflt = "5"},
    {.id = MN_OPT_BATCH, .deflt = "128"},
    {.id = MN_OPT_SEED, .deflt = "0"},
    {.id = MN_OPT_MOMENTUM, .note = "default: the preset's"},
    {.id = MN_OPT_NESTEROV},
    {.id = MN_OPT_WD, .deflt = "0"},
    {.id = MN_OPT_SCHEDULE, .deflt = "linear"},
    {.id = MN_OPT_WARMUP, .deflt = "0"},
    {.id = MN_OPT_METHOD, .deflt = TRAIN_METHOD},
    {.id = MN_OPT_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_NET_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_ATOM_NORM},
    {.id = MN_OPT_THREADS, .note = BLIS_THREADS},
    {.id = MN_OPT_DATA_DIR, .note = DATA_DIR_NOTE},
    {.id = MN_OPT_CONTEXT, .deflt = "64"},
    {.id = MN_OPT_JSON, .help = "JSON lines on stdout, the last one the result"},
    {.id = MN_OPT_CHECKPOINT},
    {.id = MN_OPT_SAVE_EVERY},
    {.id = MN_OPT_RESUME},
    {.id = MN_OPT_OVERWRITE},
};

static const mn_cli_use inspect_uses[] = {
    {.id = MN_OPT_MODEL, .deflt = "mlp"},
    {.id = MN_OPT_GRAPH},
    {.id = MN_OPT_SET},
    {.id = MN_OPT_WIDTH, .deflt = "512", .note = MODEL_WIDTH},
    {.id = MN_OPT_DEPTH, .deflt = "3", .note = MODEL_DEPTH},
    {.id = MN_OPT_ATOM_NORM},
    {.id = MN_OPT_PARAM, .deflt = "modular", .help = "sp: the model a graph with `param sp` "
                                                     "builds for the standard parametrization "
                                                     "(gpt: 1/sqrt(d_head) scores), and its "
                                                     "targets (1 each)"},
    {.id = MN_OPT_FORMAT, .deflt = "text"},
    {.id = MN_OPT_JSON, .help = "one nested JSON document, with a \"target\" key on atoms only "
                                "(--format json)"},
};

#define FIXED_WIDTH_HELP "hidden width when --over varies another parameter"
/* the CLI's defaults apply to the built-in mlp; gpt and cnn keep their files' */
#define FIXED_WIDTH_NOTE "default: mlp 128, gpt 128, cnn 32"

#define SWEEP_QUICK_HELP                                                                           \
    "widths 64,128,256 (a width sweep), five LRs an octave apart around a centre per "          \
    "--opt and --param (the MLP's best rate in short runs here), 200 steps (under a minute "    \
    "at --jobs 1); explicit options win"

static const mn_cli_use sweep_uses[] = {
    {.id = MN_OPT_OUT, .help = "results directory (created; its parent must exist)",
     .required = true},
    {.id = MN_OPT_DATA, .deflt = "fashion-mnist"},
    {.id = MN_OPT_MODEL, .deflt = "mlp"},
    {.id = MN_OPT_GRAPH},
    {.id = MN_OPT_SET},
    {.id = MN_OPT_DEPTH, .deflt = "3", .note = MODEL_DEPTH},
    {.id = MN_OPT_WIDTHS, .deflt = "64,128,256,512,1024"},
    {.id = MN_OPT_OVER, .note = "default: width, --widths"},
    {.id = MN_OPT_WIDTH, .deflt = "128", .help = FIXED_WIDTH_HELP, .note = FIXED_WIDTH_NOTE},
    {.id = MN_OPT_LRS, .deflt = "2^-10:2^2"},
    {.id = MN_OPT_OPT, .deflt = "muon"},
    {.id = MN_OPT_PARAM, .deflt = "modular"},
    {.id = MN_OPT_STEPS, .deflt = "500", .help = "steps per run"},
    {.id = MN_OPT_EPOCHS, .help = "epochs per run", .note = "instead of --steps"},
    {.id = MN_OPT_BATCH, .deflt = "128"},
    {.id = MN_OPT_SEEDS, .deflt = "1"},
    {.id = MN_OPT_JOBS, .deflt = "1"},
    {.id = MN_OPT_MOMENTUM, .note = "default: the preset's"},
    {.id = MN_OPT_NESTEROV},
    {.id = MN_OPT_WD, .deflt = "0"},
    {.id = MN_OPT_SCHEDULE, .deflt = "linear"},
    {.id = MN_OPT_WARMUP, .deflt = "0"},
    {.id = MN_OPT_METHOD, .deflt = TRAIN_METHOD},
    {.id = MN_OPT_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_NET_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_QUICK, .help = SWEEP_QUICK_HELP},
    {.id = MN_OPT_NO_RUN},
    {.id = MN_OPT_DATA_DIR, .note = DATA_DIR_NOTE},
    {.id = MN_OPT_CONTEXT, .deflt = "64"},
};

static const mn_cli_use coordcheck_uses[] = {
    {.id = MN_OPT_OUT, .help = "writes DIR/coord.csv (a line per width, step and module), "
                               "DIR/coord.png and DIR/coord.cfg, the settings (DIR created; its "
                               "parent must exist); a DIR holding a coordcheck of other "
                               "settings is refused",
     .required = true},
    {.id = MN_OPT_DATA, .deflt = "fashion-mnist"},
    {.id = MN_OPT_MODEL, .deflt = "mlp"},
    {.id = MN_OPT_GRAPH},
    {.id = MN_OPT_SET},
    {.id = MN_OPT_DEPTH, .deflt = "3", .note = MODEL_DEPTH},
    {.id = MN_OPT_WIDTHS, .deflt = "64,256,1024",
     .help = "the widths compared, a comma list of at least two (64,256 or 2^6,2^8; each "
             "value once)"},
    {.id = MN_OPT_OVER, .help = "the size parameter to vary, if not width: one that keeps the "
                                "list of modules (not depth), at least two values", .note = "default: width, --widths"},
    {.id = MN_OPT_WIDTH, .deflt = "128", .help = FIXED_WIDTH_HELP, .note = FIXED_WIDTH_NOTE},
    {.id = MN_OPT_OPT, .deflt = "muon"},
    {.id = MN_OPT_PARAM, .deflt = "modular"},
    {.id = MN_OPT_LR, .note = "default: the preset's"},
    {.id = MN_OPT_STEPS, .deflt = "5", .help = "steps on the fixed batch"},
    {.id = MN_OPT_BATCH, .deflt = "128", .help = "the fixed batch's size"},
    {.id = MN_OPT_SEED, .deflt = "0", .help = "initialization seed"},
    {.id = MN_OPT_METHOD, .deflt = TRAIN_METHOD},
    {.id = MN_OPT_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_NET_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_TOLERANCE, .deflt = "1.2"},
    {.id = MN_OPT_THREADS, .deflt = "1"},
    {.id = MN_OPT_DATA_DIR, .note = DATA_DIR_NOTE},
    {.id = MN_OPT_CONTEXT, .deflt = "64"},
};

static const mn_cli_use dualize_uses[] = {
    {.id = MN_OPT_NORM, .required = true},
    {.id = MN_OPT_METHOD, .note = "default: the first one listed"},
    {.id = MN_OPT_STEPS, .help = "iteration count, 1 to " MN_CLI_STR(MN_POLAR_MAX_STEPS),
     .note = "default: the method's own", .hi = MN_POLAR_MAX_STEPS},
    {.id = MN_OPT_THREADS, .note = BLIS_THREADS},
    {.id = MN_OPT_FORM, .deflt = "auto"},
    {.id = MN_OPT_PRECISION, .deflt = "fp32"},
};

static const mn_cli_use norm_uses[] = {
    {.id = MN_OPT_NORM, .required = true},
};

static const mn_cli_use bench_gemm_uses[] = {
    {.id = MN_OPT_N, .deflt = "2048"},
    {.id = MN_OPT_OP, .deflt = "gemm"},
    {.id = MN_OPT_PRECISION, .deflt = "fp32",
     .help = "fp32: BLIS sgemm/ssyrk/sgemmt; bf16: bf16 operands, float32 result (gemm, syrk)"},
    {.id = MN_OPT_REPEAT, .deflt = "10"},
    {.id = MN_OPT_THREADS, .note = BLIS_THREADS},
    {.id = MN_OPT_JSON, .help = "one JSON object on stdout"},
};

static const mn_cli_use bench_dualize_uses[] = {
    {.id = MN_OPT_SHAPE, .deflt = "1024x4096"},
    {.id = MN_OPT_METHOD, .deflt = "ns5"},
    {.id = MN_OPT_REPEAT, .deflt = "5"},
    {.id = MN_OPT_THREADS, .note = BLIS_THREADS},
    {.id = MN_OPT_FORM, .deflt = "auto"},
    {.id = MN_OPT_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_NO_ERROR},
    {.id = MN_OPT_JSON, .help = "one JSON object on stdout"},
};

static const mn_cli_use bench_step_uses[] = {
    {.id = MN_OPT_MODEL, .deflt = "mlp"},
    {.id = MN_OPT_GRAPH},
    {.id = MN_OPT_SET},
    {.id = MN_OPT_WIDTH, .deflt = "1024", .note = "default: mlp 1024, gpt 128, cnn 32"},
    {.id = MN_OPT_DEPTH, .deflt = "3", .note = MODEL_DEPTH},
    {.id = MN_OPT_BATCH, .deflt = "128"},
    {.id = MN_OPT_OPT, .deflt = "muon"},
    {.id = MN_OPT_STEPS, .deflt = "20", .help = "timed steps"},
    {.id = MN_OPT_METHOD, .deflt = TRAIN_METHOD},
    {.id = MN_OPT_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_NET_PRECISION, .deflt = "fp32"},
    {.id = MN_OPT_THREADS, .note = BLIS_THREADS},
    {.id = MN_OPT_SERIAL_ATOMS},
    {.id = MN_OPT_CONTEXT, .deflt = "64", .help = "positions per sequence of a token model (a "
                                                  "graph declaring `vocab` and `context`)"},
    {.id = MN_OPT_NPY, .help = "write the initial weights, the batch and every step's loss as "
                               "DIR/*.npy (a token model; bench/check_peer_gpt.py reads them)"},
    {.id = MN_OPT_JSON, .help = "one JSON object on stdout"},
};

static const mn_cli_use export_uses[] = {
    {.id = MN_OPT_CHECKPOINT, .help = "the safetensors file to read (a checkpoint)",
     .required = true},
    {.id = MN_OPT_NPY, .required = true,
     .help = "write each tensor as DIR/NAME.npy (DIR created; its parent must exist)"},
    {.id = MN_OPT_OVERWRITE, .help = "replace DIR's export of another checkpoint (files this "
                                     "export does not write are still refused)"},
};

static const mn_cli_use sample_uses[] = {
    {.id = MN_OPT_CHECKPOINT, .help = "a checkpoint of modnorm train --data text:... "
                                      "--checkpoint PATH", .required = true},
    {.id = MN_OPT_PROMPT, .required = true},
    {.id = MN_OPT_TOKENS, .deflt = "200"},
    {.id = MN_OPT_TEMPERATURE, .deflt = "1"},
    {.id = MN_OPT_SEED, .deflt = "0", .help = "seed of the draws"},
    {.id = MN_OPT_THREADS, .deflt = "1"},
};

static const mn_cli_use attention_uses[] = {
    {.id = MN_OPT_CHECKPOINT, .help = "a checkpoint of modnorm train --data text:... "
                                      "--checkpoint PATH", .required = true},
    {.id = MN_OPT_DATA, .deflt = "text", .help = "the corpus whose validation windows are run",
     .choices = MN_CLI_TEXT_CHOICE},
    {.id = MN_OPT_BATCH, .deflt = "12", .help = "validation windows run"},
    {.id = MN_OPT_THREADS, .deflt = "1"},
    {.id = MN_OPT_JSON, .help = "one JSON object on stdout"},
};

static const mn_cli_use baseline_uses[] = {
    {.id = MN_OPT_DATA, .deflt = "text", .choices = MN_CLI_TEXT_CHOICE},
    {.id = MN_OPT_JSON, .help = "one JSON object on stdout"},
};

const mn_cli_command mn_cli_commands[MN_CMD_COUNT] = {
    [MN_CMD_TRAIN] = {
        .id = MN_CMD_TRAIN, .name = "train", .flush_denormals = true, .ranks = true,
        .summary = "train a model (Fashion-MNIST MLP, text) and print its test accuracy or loss",
        .about = "Trains by steepest descent in the modular norm (or AdamW) and prints the test\n"
                 "accuracy. --model mlp is 784 → W (×(D−1)) → 10 with ReLU, no biases.\n"
                 "With --data text:PATH it trains on windows of --context characters to predict\n"
                 "the next character at every position and prints the validation and training\n"
                 "loss in nats per character (and the add-one bigram model's); the graph's\n"
                 "`vocab` and `context` parameters, when it declares them, are set from the data.\n"
                 "Under `mpirun -np P` the batch is split across P ranks and each matrix is\n"
                 "dualized by one rank (data-parallel; rank 0 prints and checkpoints).",
        .epilog = "A run diverged when its loss became non-finite (it stops), when its final\n"
                  "train loss is above twice its first step's loss, or when its test loss is\n"
                  "above twice that while the train loss stayed above 90% of it (a network\n"
                  "that blew up can have dead ReLUs, the train loss of a uniform guess and a\n"
                  "huge test loss); its numbers are then printed (n/a, null with --json, for\n"
                  "those a run stopped by a non-finite loss did not measure).\n"
                  "\n"
                  "Exit status: 0 trained, 1 error, 2 bad usage, 3 diverged.",
        .uses = train_uses, .n_uses = N_USES(train_uses)},
    [MN_CMD_INSPECT] = {
        .id = MN_CMD_INSPECT, .name = "inspect",
        .summary = "print a model's module tree: norms, masses, sensitivities, targets",
        .about = "Prints the module tree: every module's kind, shape, norm, mass, sensitivity\n"
                 "and, for atoms, the target the solver gives it (t = 1 at the root shared out\n"
                 "by the masses; under --param sp every target is 1). Allocates no weights:\n"
                 "a model of any size can be shown.",
        .epilog = "Exit status: 0 printed, 1 error, 2 bad usage.",
        .uses = inspect_uses, .n_uses = N_USES(inspect_uses)},
    [MN_CMD_SWEEP] = {
        .id = MN_CMD_SWEEP, .name = "sweep", .flush_denormals = true,
        .summary = "train a width (or depth, ...) x learning-rate grid and measure LR transfer",
        .about = "Trains every (width, learning rate, seed) of the grid, one BLIS thread per "
                 "run,\nand studies how the best learning rate moves with width (or with the "
                 "size\nparameter --over names). Options that change a run's result must "
                 "match the\nones DIR/sweep.cfg records. With --data text:PATH a sequence model "
                 "(--model gpt,\n--graph) trains on windows of --context characters, test_loss is "
                 "the validation\nloss in nats per character and test_acc the next-character "
                 "accuracy.",
        .epilog =
            "Writes DIR/results.csv (width,lr,seed,train_loss,test_loss,test_acc,diverged;\n"
            "the first column is the parameter swept),\n"
            "one line per finished run, at once; DIR/summary.json; DIR/loss_vs_lr.png and\n"
            ".svg (when built with PLplot). Rerunning the same command skips the runs the\n"
            "CSV holds. train_loss is the mean over the last 20% of steps. A run diverged\n"
            "when its loss became non-finite, its train loss ended above twice its initial\n"
            "loss, or its test loss is above twice that while the train loss stayed above\n"
            "90% of it: it is recorded and counts as +inf in every\n"
            "argmin (rows an older modnorm recorded keep their verdict); one stopped by a\n"
            "non-finite loss has test_acc nan (not evaluated; older rows: 0). best_lr is the\n"
            "argmin of the seed-mean train loss, best_lr_refined the vertex of a parabola\n"
            "in log2(lr) through it and its neighbours; slope = least-squares slope of\n"
            "log2 lr* on log2 width (octaves per doubling), spread = max - min log2 lr*,\n"
            "regret(w) = L(w, grid LR nearest lr*(smallest width)) - L(w, lr*(w)),\n"
            "monotone = that loss falls as width grows (slope, spread and monotone are null,\n"
            "n/a in the table, with one width: nothing is compared).\n"
            "\n"
            "Exit status: 0 done (diverged runs included), 1 error, 2 bad usage.",
        .uses = sweep_uses, .n_uses = N_USES(sweep_uses)},
    [MN_CMD_COORDCHECK] = {
        .id = MN_CMD_COORDCHECK, .name = "coordcheck", .flush_denormals = true,
        .summary = "check that activations and updates stay flat across width",
        .about =
            "A coordinate check on one fixed batch (the first B training images, or with\n"
            "--data text the first B training windows of --context characters, a label per\n"
            "position): the network is trained on that batch for N steps at a constant\n"
            "learning rate, and for every width, step t and module it records\n"
            "  mean_abs     mean |h_t| of the module's output,\n"
            "  rel_change   ||h_t - h_0|| / ||h_0|| (the same input at step 0 and step t),\n"
            "  change_rms   RMS(h_t - h_0), the change per coordinate (muP's check),\n"
            "  update       the RMS->RMS operator norm of the atom's update W_t - W_(t-1).\n"
            "rel_change, change_rms and update are judged: flat when between widths w1 < w2\n"
            "they differ by at most TOL^(log4(w2/w1)), i.e. TOL between widths 4x apart, at\n"
            "every step. mean_abs is reported, not judged: orthogonal x sqrt(d_out/d_in)\n"
            "initialization makes a first Linear narrower than its d_in inputs (the MLP's\n"
            "784 pixels) shrink activations by sqrt(width/d_in), and with them the relative\n"
            "change's denominator: there read change_rms.",
        .epilog = "DIR/coord.csv's columns: width,step,module,kind,mean_abs,rel_change,change_rms,\n"
                  "update (coord.png when built with PLplot).\n\n"
                  "Exit status: 0 done (flat or not: read the table), 1 error, 2 bad usage.",
        .uses = coordcheck_uses, .n_uses = N_USES(coordcheck_uses)},
    [MN_CMD_DUALIZE] = {
        .id = MN_CMD_DUALIZE, .name = "dualize",
        .summary = "OUT.npy = lmo(IN.npy) in a chosen norm",
        .about =
            "Writes OUT = lmo(IN): the unit-norm matrix T maximizing <IN, T> in the norm NAME\n"
            "(the update direction is -lmo). IN is a 2-D C-order float32 or float64 .npy\n"
            "(a 1-D (n,) array is taken as 1 x n); OUT has the same shape and dtype\n"
            "(float64 is computed in double where the method allows: 'svd' always, the\n"
            "iterations through dgemm; --precision bf16 takes float32 only). A zero IN\n"
            "gives zero. OUT is written atomically; an existing OUT must be a regular file.",
        .pos_names = {"IN.npy", "OUT.npy"}, .n_pos = 2,
        .epilog = "Exit status: 0 written, 1 error, 2 bad usage.",
        .uses = dualize_uses, .n_uses = N_USES(dualize_uses)},
    [MN_CMD_NORM] = {
        .id = MN_CMD_NORM, .name = "norm",
        .summary = "print a matrix's norm and dual norm as JSON",
        .about = "Prints one JSON object {\"norm\": ‖IN‖, \"dual\": ‖IN‖†} for a 2-D float32 or\n"
                 "float64 .npy, or 1-D (n,) taken as 1 x n (computed in double; spectral\n"
                 "values exactly, through LAPACK). A dual beyond the largest double\n"
                 "(finite entries near it) prints as null, with a note; a norm beyond it\n"
                 "is an error (exit 1).",
        .pos_names = {"IN.npy"}, .n_pos = 1,
        .epilog = "Exit status: 0 printed (the dual may be null), 1 error (e.g. a norm beyond the\n"
                  "largest double), 2 bad usage.",
        .uses = norm_uses, .n_uses = N_USES(norm_uses)},
    [MN_CMD_BENCH_GEMM] = {
        .id = MN_CMD_BENCH_GEMM, .name = "bench gemm",
        .summary = "the sgemm rate through modnorm's BLIS wrapper (the roofline)",
        .about = "Times an n x n float32 product through modnorm's BLIS wrapper (median of R\n"
                 "after one warm-up): C = A·B (gemm, 2n³ flops), or the lower triangle of\n"
                 "A·Aᵀ (syrk) or of A·B (gemmt), n³ flops each; reports GFLOP/s, the BLIS\n"
                 "kernel set in use and what runs a float32 network's Linear products\n"
                 "(oneDNN on CPUs with AVX-512, else BLIS). --precision bf16 times bf16\n"
                 "operands with a float32 result through the bf16 backend (gemm; syrk as\n"
                 "row blocks, counted n³) and names it (oneDNN and its kernels, or the\n"
                 "fallback).",
        .epilog = "Exit status: 0 measured, 1 error, 2 bad usage.",
        .uses = bench_gemm_uses, .n_uses = N_USES(bench_gemm_uses)},
    [MN_CMD_BENCH_DUALIZE] = {
        .id = MN_CMD_BENCH_DUALIZE, .name = "bench dualize",
        .summary = "the polar factor's time and error",
        .about = "Times the polar factor of a Gaussian MxN float32 matrix (median of R after a\n"
                 "warm-up). polar_err = ‖X − UVᵀ‖_F/‖UVᵀ‖_F against the exact SVD (outside the\n"
                 "timing; --no-error skips it, e.g. for n ≥ 4096 where the SVD takes minutes);\n"
                 "roofline_ms = the flops of the form used / this run's best 1024³ sgemm rate\n"
                 "(the faster of BLIS's and, where it runs Linear's products, oneDNN's; bf16\n"
                 "flops at its best 1024³ bf16 gemm rate); bf16_share = the share of\n"
                 "those flops with bf16 operands; impl = the library that runs them.",
        .epilog = "Exit status: 0 measured, 1 error, 2 bad usage.",
        .uses = bench_dualize_uses, .n_uses = N_USES(bench_dualize_uses)},
    [MN_CMD_BENCH_STEP] = {
        .id = MN_CMD_BENCH_STEP, .name = "bench step", .flush_denormals = true,
        .summary = "one training step's time against its roofline",
        .about = "Median time of one training step (forward + backward + update) on random\n"
                 "inputs and labels, after one warm-up step; the update alone (the solver\n"
                 "step); the roofline = matrix-multiply flops of the step / this run's best\n"
                 "1024³ sgemm rate (the faster of BLIS's and, where it runs Linear's\n"
                 "products, oneDNN's; bf16 flops, under --precision or --net-precision bf16,\n"
                 "at its best 1024³ bf16 gemm rate); and the peak resident memory. A token\n"
                 "model (--model gpt, or a graph declaring `vocab` and `context`) reads\n"
                 "--batch sequences of --context token ids uniform in [0, vocab) with a\n"
                 "random label per position and reports tokens/s; its flops count the\n"
                 "attention's per-head products (S = QKᵀ, AV and their gradients, whole\n"
                 "T x T blocks) and no product for Embed (a gather).",
        .epilog = "Exit status: 0 measured, 1 error, 2 bad usage.",
        .uses = bench_step_uses, .n_uses = N_USES(bench_step_uses)},
    [MN_CMD_EXPORT] = {
        .id = MN_CMD_EXPORT, .name = "export",
        .summary = "write a checkpoint's tensors as .npy files",
        .about = "Reads a safetensors file (a checkpoint of modnorm train --checkpoint), checks\n"
                 "it (layout, the data's CRC) and writes every tensor as DIR/NAME.npy in its own\n"
                 "dtype and shape, and the metadata as DIR/metadata.json. It reads the dtypes\n"
                 "modnorm writes (F32, F64, I64, U64, U8): a BF16 or F16 file is refused. A\n"
                 "tensor name must be a file name (no '/', no control character, not starting\n"
                 "with '.' or '-', under 200 bytes). The export locks DIR (flock on the folder)\n"
                 "until its last write: a second export into DIR meanwhile is refused at once.\n"
                 "Before anything is written, every entry of an existing DIR must be a file this\n"
                 "export writes, a regular file and not a symbolic link, or the temporary\n"
                 "NAME.tmpPID.N of one left by a killed export (then removed); anything else is\n"
                 "refused, --overwrite or not. A DIR whose metadata.json is this export's (the\n"
                 "same checkpoint: its crc32 covers the data) is exported again; another\n"
                 "checkpoint's export (a later one of the same run too) is refused unless\n"
                 "--overwrite; a DIR without metadata.json (an export that failed) has its files\n"
                 "replaced. Each file is replaced whole (a temporary file renamed), metadata.json\n"
                 "is removed first and written last: an export that fails part-way (a full disk,\n"
                 "a kill) leaves DIR without metadata.json, its .npy files possibly from two\n"
                 "checkpoints (export again). A DIR with metadata.json holds one checkpoint's\n"
                 "whole export (unless the machine crashed: the files are not synced to disk).",
        .epilog = "Exit status: 0 written, 1 error, 2 bad usage.",
        .uses = export_uses, .n_uses = N_USES(export_uses)},
    [MN_CMD_SAMPLE] = {
        .id = MN_CMD_SAMPLE, .name = "sample",
        .summary = "generate text from a checkpoint of a model trained on text",
        .about = "Rebuilds the network from a checkpoint (its graph text and weights; the\n"
                 "checkpoint carries the vocabulary and the context T) and prints the prompt\n"
                 "followed by N generated characters: each is drawn from the softmax of the\n"
                 "last position's logits divided by the temperature, the network reading the\n"
                 "last T characters (the window slides).",
        .epilog = "Exit status: 0 generated, 1 error, 2 bad usage.",
        .uses = sample_uses, .n_uses = N_USES(sample_uses)},
    [MN_CMD_ATTENTION] = {
        .id = MN_CMD_ATTENTION, .name = "attention",
        .summary = "a trained text model's weight norms and attention statistics",
        .about = "Reads a checkpoint of a model trained on text and prints every atom's norm\n"
                 "(in the norm it is measured in: RMS→RMS for Linear) and, for each attention\n"
                 "layer, the largest attention score and the share of allowed (causal)\n"
                 "attention weights that are exactly 0, over the first B validation windows.",
        .epilog = "Exit status: 0 printed, 1 error, 2 bad usage.",
        .uses = attention_uses, .n_uses = N_USES(attention_uses)},
    [MN_CMD_BASELINE] = {
        .id = MN_CMD_BASELINE, .name = "baseline",
        .summary = "the count-based bigram model's loss on a text corpus",
        .about = "Fits the bigram model P(b | a) = (c(a,b) + 1) / (c(a) + V) (add-one\n"
                 "smoothing, counts of adjacent characters of the training split: the first\n"
                 "90%) and prints its loss in nats per character on the validation split (the\n"
                 "last 10%) and on the training split.",
        .epilog = "Exit status: 0 printed, 1 error, 2 bad usage.",
        .uses = baseline_uses, .n_uses = N_USES(baseline_uses)},
};
