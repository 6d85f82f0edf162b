/* Internal to the `modnorm` command: one function per subcommand, and the
 * helpers they share. Exit codes: 0 success, 1 failure, 2 bad usage. */
#ifndef MN_CLI_H
#define MN_CLI_H

#include <stdbool.h>
#include <sys/types.h>

#include "cli/options.h"
#include "modnorm.h"

enum { MN_EXIT_OK = 0, MN_EXIT_FAIL = 1, MN_EXIT_USAGE = 2 };

/* Each runs with the options parsed (options.h); a is freed by the caller. */
int mn_cmd_dualize(mn_cli_args *a);
int mn_cmd_norm(mn_cli_args *a);
int mn_cmd_train(mn_cli_args *a);
int mn_cmd_inspect(mn_cli_args *a);
int mn_cmd_sweep(mn_cli_args *a);
int mn_cmd_coordcheck(mn_cli_args *a);
int mn_cmd_bench_gemm(mn_cli_args *a);
int mn_cmd_bench_dualize(mn_cli_args *a);
int mn_cmd_bench_step(mn_cli_args *a);
int mn_cmd_export(mn_cli_args *a);
int mn_cmd_sample(mn_cli_args *a);
int mn_cmd_baseline(mn_cli_args *a);
int mn_cmd_attention(mn_cli_args *a);

/* The MLP --model mlp --width --depth names, on Fashion-MNIST's 784
 * features and 10 classes. */
mn_mlp_spec mn_cli_mlp(const mn_cli_args *a);
/* The network the options name (model.c): --graph FILE, else --model mlp
 * (examples/mlp.mn compiled in); --width/--depth (always for mlp; for a
 * file when given) and every --set NAME=VALUE set its parameters. An exit
 * code; on MN_EXIT_OK *g (mn_graph_destroy) or *root is the caller's. */
int mn_cli_model_load(const char *cmd, const mn_cli_args *a, mn_graph_file **g);
/* The module tree alone (no weights are allocated): what inspect shows. */
int mn_cli_model_tree(const char *cmd, const mn_cli_args *a, mn_module **root);
/* The tree to train, refused (nothing allocated; mn_cli_model_error's exit
 * code) when the data's input (1, 784) or (1, T) does not go through it,
 * when its output is not one row of logits per label ((1, K) for images,
 * (1, T, V) for text) or has fewer logits than the data has classes
 * (Fashion-MNIST's 10, or the vocabulary), or when training it cannot fit
 * in this machine's memory (mn_cli_model_fits, a usage error); notes for
 * more logits than classes and for a model without parameters. */
int mn_cli_model_build(const char *cmd, const mn_cli_args *a, mn_module **root);
/* Set the graph's parameters `vocab` and `context` to the text data's (each
 * when the graph declares it; after --set). */
mn_status mn_cli_graph_set_text(mn_graph_file *g, int vocab, int64_t context);
/* mn_cli_model_build with mn_cli_graph_set_text. */
int mn_cli_model_build_text(const char *cmd, const mn_cli_args *a, int vocab, int64_t context,
                            mn_module **root);
/* Refuse (a usage error) a model whose training under the options cannot
 * fit in this machine's memory, before anything is allocated: at least
 * mn_train_memory_of's count, plus `extra` float32 copies of the
 * parameters the command keeps besides (`extra_what` names them). */
int mn_cli_model_fits(const char *cmd, const mn_cli_args *a, const mn_module *root, int extra,
                      const char *extra_what);
/* This machine's memory in bytes (0: unknown): physical memory, not what is
 * free now, since the checks refuse what can never fit. */
double mn_cli_machine_memory(void);
/* The model fits the data: a sequence model (a graph declaring `vocab`:
 * token ids in, logits per position out) on --data text, any other on
 * Fashion-MNIST; a usage error naming both otherwise. */
int mn_cli_check_model_data(const char *cmd, const mn_cli_args *a, bool is_text);
/* --data text:PATH (or "text": the default folder): the corpus, or NULL for
 * another data set. */
const char *mn_cli_text_path(const mn_cli_args *a, bool *is_text);
/* The corpus at PATH and its train and validation windows of --context
 * characters (valid NULL: the training split's only). On failure prints one
 * line (naming --data or --context), frees what it made and leaves *text,
 * *train, *valid empty. */
int mn_cli_text_load(const char *cmd, const mn_cli_args *a, const char *path, mn_text *text,
                     mn_dataset *train, mn_dataset *valid);
/* With --data text, a swept `param` that the data sets (vocab, context) is a
 * usage error, as --set of it is. */
int mn_cli_check_text_param(const char *cmd, bool is_text, const char *param);
/* Before any work: every value of the swept `param` builds, fits the data
 * and fits in memory (as mn_cli_model_build; notes for the first value
 * only), and so do the `jobs` largest runs side by side, each value having
 * runs_per_value runs (one line naming the problem otherwise: exit 1 for
 * what a --graph file holds, mn_cli_model_error, else a usage error). jobs 0:
 * nothing will train (sweep --no-run), so the memory is not checked. */
int mn_cli_model_check_values(const char *cmd, const mn_cli_args *a, const mn_graph_file *g,
                              const char *param, const int64_t *values, int n, int jobs,
                              int runs_per_value);
/* The model's lines in a sweep's sweep.cfg (the parameters fixed while
 * `param` varies): for mlp what they always were. */
int mn_cli_model_text(const char *cmd, const mn_cli_args *a, const mn_graph_file *g,
                      const char *param, char *buf, size_t cap);
/* The model text's "graph=" line (the --graph path as typed) respelled for
 * DIR/CFG_NAME (DIR = --out): the canonical path, so that ./mlp.mn and its
 * absolute path are one setting (the CRC-32 line is left as it is); but
 * when CFG_NAME already names this same file another way (a sweep.cfg of an
 * older modnorm held the path as typed), that spelling, so that the folder
 * still matches. A path realpath cannot resolve stays as typed. MN_EXIT_OK,
 * or MN_EXIT_FAIL after a message. */
int mn_cli_respell_graph(const char *cmd, const mn_cli_args *a, const char *cfg_name,
                         char *model, size_t cap);

/* The training settings train and sweep share, from the parsed arguments;
 * ov (MN_CLI_MAX_ATOM_NORMS entries) holds the --atom-norm overrides. */
void mn_cli_train_settings(const mn_cli_args *a, mn_train_settings *s, mn_atom_norm *ov);
/* The size parameter a sweep or coordcheck varies and its values: --over
 * NAME=..., else width and --widths. A usage error when --width or --depth
 * fixes the parameter being varied. */
int mn_cli_size_grid(const char *cmd, const mn_cli_args *a, const char **param,
                     const int64_t **values, int *n);
/* Apply --atom-norm to the atoms of `root` (a tree not yet in a network):
 * MN_EXIT_OK, or a usage error naming the option (an atom the model lacks,
 * a norm that does not fit it). */
int mn_cli_apply_atom_norms(const char *cmd, mn_module *root, const mn_cli_args *a);

/* Print "modnorm CMD: message (see 'modnorm CMD --help')" to stderr and
 * return MN_EXIT_USAGE. */
int mn_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Print "modnorm CMD: message" to stderr and return MN_EXIT_FAIL. */
int mn_cli_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A refusal that depends on the model (--set or --width of a parameter it
 * lacks, too few logits, an --atom-norm K past its atoms): with --graph the
 * file's content decides it, so as mn_cli_error (exit 1, what a file holds);
 * for a built-in model, whose sizes come from the command line alone, as
 * mn_cli_usage_error (exit 2). */
int mn_cli_model_error(const char *cmd, const mn_cli_args *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Print "modnorm CMD: <last library error>" and return MN_EXIT_FAIL. */
int mn_cli_fail(const char *cmd, mn_status s);

/* MN_EXIT_OK when this is one process; under `mpirun -np P` with P > 1
 * (dist.h's group, as train joins it), MN_EXIT_USAGE after one line from
 * rank 0 ("runs on one process"): every rank would run the whole command. */
int mn_cli_one_process(const char *cmd);

/* A path as messages show it: whole when short, else "..." and its last
 * characters, so that the reason after it always fits on the line. */
const char *mn_cli_shown(const char *path, char *buf, size_t cap);
#define MN_CLI_SHOWN_CAP 128

/* The first --set that assigns `name` ("NAME=VALUE"), or NULL. */
const char *mn_cli_set_of(const mn_cli_args *a, const char *name);

/* MN_EXIT_OK when the checkpoint `m` (opened from `path`) is a text model
 * (it carries a vocabulary); else "--checkpoint PATH has no vocabulary: not
 * a model trained on --data text" and MN_EXIT_FAIL. */
int mn_cli_need_text_model(const char *cmd, const char *path, const mn_checkpoint_model *m);

/* mn_mat_check_finite on a matrix read from the .npy at `path`, naming the
 * file and the entry: "PATH has a non-finite value (nan) at (1, 0)"; a 1-D
 * file (ndim 1) says that (i, j) is of the 1 x n matrix it was read as. */
mn_status mn_cli_check_finite(const char *path, const mn_mat *m, int ndim);

/* "DIR/NAME" in a new string (free it); NULL after a message when out of memory. */
char *mn_cli_join(const char *cmd, const char *dir, const char *name);

/* Before any work, an output file: an existing `path` must be a regular
 * file (not a directory, device, fifo, socket or symbolic link, which an
 * atomic replace would destroy), and its directory must exist and be
 * writable. MN_EXIT_OK, or MN_EXIT_FAIL after a message. */
int mn_cli_check_output_file(const char *cmd, const char *what, const char *path);
/* Before any work, an output directory: an existing `dir` must be a
 * writable directory; a missing one must be creatable by mn_cli_mkdir (its
 * parent an existing, writable directory: parents are not made). *exists
 * says which. */
int mn_cli_check_output_dir(const char *cmd, const char *what, const char *dir, bool *exists);
/* mkdir of `dir` alone (an existing directory is fine); 0, or the errno. */
int mn_cli_mkdir(const char *dir);

#endif
