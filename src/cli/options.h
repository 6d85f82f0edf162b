/* Internal to the CLI: the one option table every subcommand parses through.
 *
 * Each option is declared once in options.c (mn_cli_options[]): its name,
 * the kind of its argument, its range, its help text and the field of
 * mn_cli_args that receives it. Each subcommand is declared once in
 * commands.c (mn_cli_commands[]): the options it accepts (with its defaults,
 * given as text and parsed like a command-line value), its file arguments and
 * whether it trains. No option is parsed or range-checked anywhere else, so
 * an option has the same range in every subcommand that takes it (a use may
 * only tighten it, where the option means something else: dualize's --steps),
 * and `--help` is generated from the same declarations. */
#ifndef MN_CLI_OPTIONS_H
#define MN_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modnorm/status.h"
#include "modnorm/study.h"

typedef enum mn_opt_id {
    MN_OPT_NONE = 0,
    /* the data and the model */
    MN_OPT_DATA, MN_OPT_DATA_DIR, MN_OPT_MODEL, MN_OPT_WIDTH, MN_OPT_DEPTH, MN_OPT_WIDTHS,
    MN_OPT_OVER, MN_OPT_ATOM_NORM, MN_OPT_GRAPH, MN_OPT_SET, MN_OPT_FORMAT,
    /* the optimizer */
    MN_OPT_OPT, MN_OPT_PARAM, MN_OPT_LR, MN_OPT_LRS, MN_OPT_MOMENTUM, MN_OPT_NESTEROV, MN_OPT_WD,
    MN_OPT_SCHEDULE, MN_OPT_WARMUP, MN_OPT_METHOD, MN_OPT_FORM, MN_OPT_PRECISION,
    MN_OPT_NET_PRECISION, MN_OPT_NORM,
    /* the run */
    MN_OPT_STEPS, MN_OPT_EPOCHS, MN_OPT_BATCH, MN_OPT_SEED, MN_OPT_SEEDS, MN_OPT_JOBS,
    MN_OPT_THREADS, MN_OPT_SERIAL_ATOMS, MN_OPT_TOLERANCE, MN_OPT_QUICK, MN_OPT_NO_RUN,
    /* benchmarks */
    MN_OPT_N, MN_OPT_OP, MN_OPT_SHAPE, MN_OPT_REPEAT, MN_OPT_NO_ERROR,
    /* output */
    MN_OPT_OUT, MN_OPT_JSON,
    /* checkpoints */
    MN_OPT_CHECKPOINT, MN_OPT_SAVE_EVERY, MN_OPT_RESUME, MN_OPT_OVERWRITE, MN_OPT_NPY,
    /* text */
    MN_OPT_CONTEXT, MN_OPT_PROMPT, MN_OPT_TOKENS, MN_OPT_TEMPERATURE,
    MN_OPT_COUNT
} mn_opt_id;

typedef enum mn_opt_kind {
    MN_KIND_FLAG,      /* no value: bool true */
    MN_KIND_INT,       /* int64_t, a whole-token decimal integer in [lo, hi] */
    MN_KIND_REAL,      /* double, a finite decimal ("0.01", "1e-3") or "2^E", in the range */
    MN_KIND_STRING,    /* const char *, not empty */
    MN_KIND_NAME,      /* const char *, accepted by a library lookup (norm, method, optimizer) */
    MN_KIND_CHOICE,    /* int: the value paired with one of a fixed list of words */
    MN_KIND_INTS,      /* mn_cli_ints: "a,b,c" of integers in range, sorted, a repeat
                        * refused (mn_study_parse_values) */
    MN_KIND_REALS,     /* mn_cli_reals: "A:B" (A, 2A, 4A, … ≤ B) or a list of numbers, each
                        * in range, sorted, a repeat refused (mn_study_parse_lrs) */
    MN_KIND_SHAPE,     /* int64_t[2]: "MxN", each an INT in [lo, hi] */
    MN_KIND_ATOM_NORM, /* mn_cli_atom_norms: "K=NAME", K an INT in [lo, hi], NAME a norm */
    MN_KIND_ASSIGN,    /* mn_cli_sets: "NAME=VALUE", NAME an identifier, VALUE a REAL; repeatable */
    MN_KIND_OVER       /* mn_cli_over: "NAME=LIST", NAME an identifier, LIST an INTS in the
                        * range of the INT option called NAME (--depth's for depth), else in
                        * [lo, hi] */
} mn_opt_kind;

#define MN_CLI_MAX_ATOM_NORMS 64
#define MN_CLI_MAX_POS 4

typedef struct mn_cli_ints {
    int64_t *v;
    int n;
} mn_cli_ints;

typedef struct mn_cli_reals {
    double *v;
    int n;
} mn_cli_reals;

typedef struct mn_cli_over {
    char param[MN_STUDY_MAX_PARAM]; /* the size parameter's name */
    mn_cli_ints values;
} mn_cli_over;

#define MN_CLI_MAX_SETS 64

typedef struct mn_cli_sets {
    const char *v[MN_CLI_MAX_SETS]; /* "NAME=VALUE", into argv or, for 2^E, into own */
    int n;
    char own[MN_CLI_MAX_SETS][96];  /* "NAME=%.17g" of a VALUE written 2^E */
} mn_cli_sets;

typedef struct mn_cli_atom_norms {
    struct {
        int atom;          /* 0-based, forward order */
        const char *norm;  /* points into argv */
    } v[MN_CLI_MAX_ATOM_NORMS];
    int n;
} mn_cli_atom_norms;

/* Every option's value, one field per option. Before the defaults, numbers
 * are 0 (reals NAN), strings NULL: a subcommand without a default for an
 * option it takes sees that "unset" value. Strings point into argv or into
 * the declarations; the lists are owned (mn_cli_args_free). */
typedef struct mn_cli_args {
    const char *data, *data_dir, *model, *opt, *method, *norm, *out, *graph;
    int64_t width, depth, warmup, steps, batch, seed, seeds, jobs, threads, n, repeat;
    int64_t shape[2];
    double lr, momentum, wd, epochs, tolerance;
    int param, schedule, form, op, precision, net_precision, format;
    bool nesterov, serial_atoms, quick, no_run, no_error, json;
    mn_cli_ints widths;
    mn_cli_reals lrs;
    mn_cli_over over;
    mn_cli_atom_norms atom_norms;
    mn_cli_sets sets;
    const char *checkpoint, *resume, *npy; /* --checkpoint, --resume, --npy */
    int64_t save_every;
    bool overwrite;                  /* --overwrite */
    int64_t context, tokens;         /* --context, --tokens */
    const char *prompt;              /* --prompt */
    double temperature;              /* --temperature */
    const char *pos[MN_CLI_MAX_POS]; /* the file arguments, in order */
    int n_pos;
    bool given[MN_OPT_COUNT];        /* set on the command line (not by a default) */
} mn_cli_args;

/* One option, declared once. */
typedef struct mn_cli_option {
    mn_opt_id id;
    const char *name;               /* without the leading "--" */
    mn_opt_kind kind;
    const char *metavar;            /* "LR", "W1,W2,...", "modular|sp" */
    double lo, hi;                  /* numbers, list items, K of K=NAME, M and N of MxN */
    bool lo_open;                   /* (lo, hi] instead of [lo, hi] */
    const char *const *choices;     /* MN_KIND_CHOICE: the words, NULL-terminated ... */
    const int *choice_values;       /* ... and what each stores */
    mn_status (*lookup)(const char *name); /* MN_KIND_NAME: MN_OK when the library knows it */
    const char *(*names)(void);     /* MN_KIND_NAME: the names it knows, for --help */
    mn_opt_id excludes;             /* may not be given together with this one */
    bool repeatable;                /* may be given more than once (each adds an entry);
                                     * any other option given twice is refused */
    size_t offset;                  /* the field of mn_cli_args */
    const char *help;
} mn_cli_option;

/* The table: mn_cli_options[id] is option `id`. */
extern const mn_cli_option mn_cli_options[MN_OPT_COUNT];

/* One option as a subcommand takes it. */
typedef struct mn_cli_use {
    mn_opt_id id;
    const char *deflt;  /* parsed like a command-line value before argv; "(default X)" in --help */
    const char *note;   /* for --help instead of "(default X)" when that says too little */
    const char *help;   /* what the option means here, when the table's text is too general */
    const char *choices; /* for --help, the values this command takes when fewer than the
                            option's names() (attention: text only); NULL: names() */
    bool required;
    double hi;          /* > 0: a tighter upper bound here than the option's (dualize's
                         * --steps counts polar iterations, at most MN_POLAR_MAX_STEPS) */
} mn_cli_use;

/* --data's text choice, as --help lists it (needs modnorm/text.h). */
#define MN_CLI_TEXT_CHOICE                                                                       \
    "text:PATH (a file or a folder of text; 'text' alone: " MN_TEXT_DEFAULT_DIR ")"

typedef enum mn_cmd_id {
    MN_CMD_TRAIN, MN_CMD_INSPECT, MN_CMD_SWEEP, MN_CMD_COORDCHECK, MN_CMD_DUALIZE, MN_CMD_NORM,
    MN_CMD_BENCH_GEMM, MN_CMD_BENCH_DUALIZE, MN_CMD_BENCH_STEP, MN_CMD_EXPORT,
    MN_CMD_SAMPLE, MN_CMD_BASELINE, MN_CMD_ATTENTION,
    MN_CMD_COUNT
} mn_cmd_id;

typedef struct mn_cli_command {
    mn_cmd_id id;
    const char *name;               /* "train", "bench gemm" */
    const char *summary;            /* one line, for `modnorm --help` */
    const char *about;              /* the paragraph after the usage line */
    const char *epilog;             /* after the options (NULL: none) */
    const char *pos_names[MN_CLI_MAX_POS]; /* file arguments, all required, in order */
    int n_pos;
    bool flush_denormals;           /* a training subcommand: flush-to-zero is on */
    bool ranks;                     /* divides its work across mpirun's ranks (train); the
                                     * others refuse more than one (mn_cli_one_process) */
    const mn_cli_use *uses;         /* the options it takes ... */
    int n_uses;                     /* ... and how many */
} mn_cli_command;

/* The subcommands (commands.c). */
extern const mn_cli_command mn_cli_commands[MN_CMD_COUNT];

/* What mn_cli_parse returns when the subcommand should run. */
#define MN_CLI_RUN (-1)

/* Parse `argv` (argv[0]: the subcommand's last word, e.g. "gemm") for `cmd`
 * into `a`: the defaults, then the options and file arguments in any order
 * ("--name VALUE" or "--name=VALUE"; after "--" everything is a file
 * argument). An option given twice is refused unless it is repeatable; so
 * is a number of file arguments other than cmd->n_pos. Returns MN_CLI_RUN,
 * or an exit code after printing: 0 after --help (on `out`), 2 after one
 * line naming the problem (on `err`).
 * Free `a` with mn_cli_args_free in every case. */
int mn_cli_parse(const mn_cli_command *cmd, int argc, char **argv, mn_cli_args *a, FILE *out,
                 FILE *err);
void mn_cli_args_free(mn_cli_args *a);

/* Set option `id` from `text` as a default would be (not marked given), for
 * settings that depend on other options (sweep --quick). Returns false after
 * a one-line message on `err`. */
bool mn_cli_set(const mn_cli_command *cmd, mn_cli_args *a, mn_opt_id id, const char *text,
                FILE *err);

/* The subcommand called `name` ("train", "bench gemm"), or NULL. */
const mn_cli_command *mn_cli_find_command(const char *name);
/* The option called `name` (without "--"), or NULL. */
const mn_cli_option *mn_cli_find_option(const char *name);
/* How `cmd` takes option `id` (NULL: it does not). */
const mn_cli_use *mn_cli_use_of(const mn_cli_command *cmd, mn_opt_id id);

/* The subcommand's --help, generated from the declarations. */
void mn_cli_help(const mn_cli_command *cmd, FILE *f);

/* The one-line message of a usage error: "modnorm CMD: ... (see 'modnorm CMD --help')". */
int mn_cli_usage_to(FILE *err, const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
