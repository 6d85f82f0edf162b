/* modnorm train: train a model on Fashion-MNIST and report test accuracy. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/trainer.h"

static void help(void)
{
    printf(
        "usage: modnorm train [--data fashion-mnist] [--model mlp] [--width W] [--depth D]\n"
        "                     [--opt muon|sgd|sign|adam] [--lr LR] [--steps N | --epochs E]\n"
        "                     [--batch B] [--seed S] [--json] [options]\n\n"
        "Trains by steepest descent in the modular norm (or AdamW) and prints the test\n"
        "accuracy. --model mlp is 784 → W (×(D−1)) → 10 with ReLU, no biases.\n\n"
        "  --width W          hidden width (default 512)\n"
        "  --depth D          number of Linear layers (default 3)\n"
        "  --opt NAME         muon (default), sgd, sign, adam (alias adamw)\n"
        "  --lr LR            learning rate η (default: the preset's, see README)\n"
        "  --steps N          training steps, or\n"
        "  --epochs E         epochs (default 5; the last incomplete batch is dropped)\n"
        "  --batch B          batch size (default 128)\n"
        "  --seed S           seed for initialization and shuffling (default 0)\n"
        "  --param P          modular (default) or sp (PyTorch-default init, targets 1)\n"
        "  --momentum B       EMA momentum β (default 0.9)\n"
        "  --nesterov         Nesterov momentum\n"
        "  --wd L             decoupled weight decay λ: w ← (1 − η_t·λ)·w (default 0)\n"
        "  --schedule S       linear (default), cosine or constant\n"
        "  --warmup N         linear warmup steps (default 0)\n"
        "  --method M         polar method for spectral norms (default %s): %s\n"
        "  --atom-norm K=N    use norm N on atom K (0-based, forward order); repeatable\n"
        "  --threads T        BLIS threads per call (default: BLIS's choice)\n"
        "  --data-dir DIR     where the IDX files are (default %s)\n"
        "  --json             JSON lines on stdout, the last one the result\n\n"
        "Exit status: 0 trained, 1 error, 2 bad usage, 3 diverged (non-finite loss).\n",
        MN_TRAIN_DEFAULT_METHOD, mn_polar_names(), MN_FASHION_MNIST_DIR);
}

int mn_cmd_train(int argc, char **argv)
{
    enum { O_DATA = 256, O_MODEL, O_WIDTH, O_DEPTH, O_OPT, O_LR, O_STEPS, O_EPOCHS, O_BATCH,
           O_SEED, O_JSON, O_PARAM, O_MOMENTUM, O_NESTEROV, O_WD, O_SCHEDULE, O_WARMUP,
           O_METHOD, O_ATOM_NORM, O_THREADS, O_DATA_DIR };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},       {"model", required_argument, 0, O_MODEL},
        {"width", required_argument, 0, O_WIDTH},     {"depth", required_argument, 0, O_DEPTH},
        {"opt", required_argument, 0, O_OPT},         {"lr", required_argument, 0, O_LR},
        {"steps", required_argument, 0, O_STEPS},     {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH},     {"seed", required_argument, 0, O_SEED},
        {"json", no_argument, 0, O_JSON},             {"param", required_argument, 0, O_PARAM},
        {"momentum", required_argument, 0, O_MOMENTUM},
        {"nesterov", no_argument, 0, O_NESTEROV},     {"wd", required_argument, 0, O_WD},
        {"schedule", required_argument, 0, O_SCHEDULE},
        {"warmup", required_argument, 0, O_WARMUP},   {"method", required_argument, 0, O_METHOD},
        {"atom-norm", required_argument, 0, O_ATOM_NORM},
        {"threads", required_argument, 0, O_THREADS},
        {"data-dir", required_argument, 0, O_DATA_DIR},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    mn_train_opts o = {.model = {.name = "mlp", .d_in = 784, .width = 512, .depth = 3, .d_out = 10},
                       .opt = "muon", .param = MN_PARAM_MODULAR, .lr = NAN, .momentum = NAN,
                       .schedule = MN_SCHEDULE_LINEAR, .epochs = 5, .batch = 128, .progress = true};
    const char *data = "fashion-mnist", *data_dir = NULL;
    bool json = false;
    int iv, c, li = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_MODEL:
        case O_WIDTH:
        case O_DEPTH:
            if (!mn_cli_model_option("train", opts[li].name, optarg, &o.model))
                return MN_EXIT_USAGE;
            break;
        case O_OPT: o.opt = optarg; break;
        case O_LR:
            if (!mn_cli_parse_double("train", "--lr", optarg, 0, 1e6, &o.lr))
                return MN_EXIT_USAGE;
            break;
        case O_STEPS:
            if (!mn_cli_parse_int("train", "--steps", optarg, 1, 1 << 30, &iv))
                return MN_EXIT_USAGE;
            o.steps = iv;
            break;
        case O_EPOCHS:
            if (!mn_cli_parse_double("train", "--epochs", optarg, 1e-6, 1e4, &o.epochs))
                return MN_EXIT_USAGE;
            break;
        case O_BATCH:
            if (!mn_cli_parse_int("train", "--batch", optarg, 1, 60000, &iv))
                return MN_EXIT_USAGE;
            o.batch = iv;
            break;
        case O_SEED:
            if (!mn_cli_parse_int("train", "--seed", optarg, 0, 1 << 30, &iv))
                return MN_EXIT_USAGE;
            o.seed = (uint64_t)iv;
            break;
        case O_JSON: json = true; break;
        case O_PARAM:
            if (strcmp(optarg, "modular") == 0)
                o.param = MN_PARAM_MODULAR;
            else if (strcmp(optarg, "sp") == 0)
                o.param = MN_PARAM_SP;
            else
                return mn_cli_usage_error("train", "--param '%s' must be modular or sp", optarg);
            break;
        case O_MOMENTUM:
            if (!mn_cli_parse_double("train", "--momentum", optarg, 0, 0.999999, &o.momentum))
                return MN_EXIT_USAGE;
            break;
        case O_NESTEROV: o.nesterov = true; break;
        case O_WD:
            if (!mn_cli_parse_double("train", "--wd", optarg, 0, 1e6, &o.wd))
                return MN_EXIT_USAGE;
            break;
        case O_SCHEDULE:
            if (strcmp(optarg, "linear") == 0)
                o.schedule = MN_SCHEDULE_LINEAR;
            else if (strcmp(optarg, "cosine") == 0)
                o.schedule = MN_SCHEDULE_COSINE;
            else if (strcmp(optarg, "constant") == 0)
                o.schedule = MN_SCHEDULE_CONSTANT;
            else
                return mn_cli_usage_error("train", "--schedule '%s' must be linear, cosine or "
                                          "constant", optarg);
            break;
        case O_WARMUP:
            if (!mn_cli_parse_int("train", "--warmup", optarg, 0, 1 << 30, &iv))
                return MN_EXIT_USAGE;
            o.warmup = iv;
            break;
        case O_METHOD: o.method = optarg; break;
        case O_ATOM_NORM:
            if (o.n_atom_norms == 64)
                return mn_cli_usage_error("train", "at most 64 --atom-norm options");
            o.atom_norms[o.n_atom_norms++] = optarg;
            break;
        case O_THREADS:
            if (!mn_cli_parse_int("train", "--threads", optarg, 1, 1024, &o.threads))
                return MN_EXIT_USAGE;
            break;
        case O_DATA_DIR: data_dir = optarg; break;
        case 'h': help(); return MN_EXIT_OK;
        default: return mn_cli_usage_error("train", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return mn_cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (strcmp(data, "fashion-mnist") != 0)
        return mn_cli_usage_error("train", "--data '%s' is not known (known: fashion-mnist)", data);
    mn_solver_config probe;
    if (mn_solver_preset(&probe, o.opt, o.param) != MN_OK)
        return mn_cli_usage_error("train", "--opt: %s", mn_last_error());
    const mn_polar_method *pm;
    if (o.method && mn_polar_lookup(o.method, &pm) != MN_OK)
        return mn_cli_usage_error("train", "--method: %s", mn_last_error());
    o.json = json ? stdout : NULL;
    o.progress = !json;

    mn_dataset train = {0}, test = {0};
    mn_status st = mn_fashion_mnist_load(data_dir, &train, &test);
    if (st != MN_OK)
        return mn_cli_fail("train", st);
    if (o.batch > train.n) {
        mn_dataset_free(&train);
        mn_dataset_free(&test);
        return mn_cli_usage_error("train", "--batch %lld exceeds the %lld training examples",
                                  (long long)o.batch, (long long)train.n);
    }
    mn_train_result r;
    st = mn_cli_train(&o, &train, &test, &r);
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    if (st != MN_OK)
        return mn_cli_fail("train", st);
    if (json)
        mn_cli_print_result_json(stdout, &r);
    else if (!r.diverged)
        printf("test accuracy %.2f%% (test loss %.4f, train loss %.4f) after %lld steps in "
               "%.1f s (%.1f ms/step)\n",
               100 * r.test_acc, r.test_loss, r.train_loss, (long long)r.steps, r.seconds,
               r.ms_per_step);
    return r.diverged ? 3 : MN_EXIT_OK;
}
