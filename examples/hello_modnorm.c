/* hello_modnorm: build a small module tree with the public API, train it with
 * modular Muon on synthetic data (a fixed random teacher network), and print
 * the loss falling. Build: see examples/meson.build; run: ./hello_modnorm */
#include <stdio.h>

#include <modnorm.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        mn_status s_ = (call);                                                                     \
        if (s_ != MN_OK) {                                                                         \
            fprintf(stderr, "%s: %s\n", #call, mn_last_error());                                   \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { D_IN = 16, WIDTH = 64, D_OUT = 4, BATCH = 64, STEPS = 300 };

int main(void)
{
    /* Student: Linear → GELU → Linear → GELU → Linear, as a module tree. */
    mn_module *layers[5];
    CHECK(mn_linear(&layers[0], WIDTH, D_IN));
    CHECK(mn_gelu(&layers[1]));
    CHECK(mn_linear(&layers[2], WIDTH, WIDTH));
    CHECK(mn_gelu(&layers[3]));
    CHECK(mn_linear(&layers[4], D_OUT, WIDTH));
    mn_module *root;
    CHECK(mn_sequential(&root, 5, layers)); /* takes ownership of the layers */
    mn_network *net;
    CHECK(mn_network_create(&net, root, MN_PARAM_MODULAR, 1)); /* takes ownership of root */

    /* Teacher: a fixed random MLP the student learns to imitate (MSE). */
    mn_module *teacher_root;
    CHECK(mn_mlp(&teacher_root, D_IN, 32, 2, D_OUT));
    mn_network *teacher;
    CHECK(mn_network_create(&teacher, teacher_root, MN_PARAM_MODULAR, 2));

    /* Modular Muon: the same solver as sgd and sign, under RMS→RMS norms. */
    mn_solver_config cfg;
    CHECK(mn_solver_preset(&cfg, "muon", MN_PARAM_MODULAR));
    cfg.lr = 0.1;
    cfg.total_steps = STEPS;
    mn_solver *solver;
    CHECK(mn_solver_create(&solver, net, &cfg));

    mn_tensor *x, *target, *dy;
    CHECK(mn_tensor_create(&x, 2, (int64_t[]){BATCH, D_IN}));
    CHECK(mn_tensor_create(&target, 2, (int64_t[]){BATCH, D_OUT}));
    CHECK(mn_tensor_create(&dy, 2, (int64_t[]){BATCH, D_OUT}));
    mn_rng rng;
    mn_rng_seed(&rng, 3);
    double first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        mn_mat xm;
        CHECK(mn_tensor_as_mat(x, &xm));
        mn_rng_fill_normal(&rng, &xm);
        const mn_tensor *t, *y;
        CHECK(mn_network_forward(teacher, x, &t));
        for (int i = 0; i < BATCH * D_OUT; i++)
            target->data[i] = t->data[i];
        CHECK(mn_network_forward(net, x, &y));
        double loss;
        CHECK(mn_loss_mse(y, target, &loss, dy));
        mn_network_zero_grad(net);
        CHECK(mn_network_backward(net, dy));
        CHECK(mn_solver_step(solver, net));
        if (step == 0)
            first = loss;
        last = loss;
        if (step % 50 == 0 || step == STEPS - 1)
            printf("step %3d  loss %.5f\n", step, loss);
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(target);
    mn_tensor_destroy(dy);
    mn_solver_destroy(solver);
    mn_network_destroy(teacher);
    mn_network_destroy(net);
    printf("loss fell from %.5f to %.5f\n", first, last);
    return last < first / 10 ? 0 : 1; /* a test runs this: it must learn */
}
