/*
 * fann_article.c — the "article" network (784-30-10, logistic sigmoid
 * hidden and output, squared error, online SGD lr 0.1, no momentum) trained
 * on Fashion-MNIST with FANN 2.2 (float build), as a reference for the
 * glassbox benchmark.
 *
 * Build:  gcc -O3 -march=native -o bench/out/fann_article bench/fann_article.c -lfloatfann -lz -lm
 * Usage:  fann_article [--data DIR] [--epochs N] [--seed S]
 *
 * Output: one JSON line per epoch
 *   {"epoch":i,"seconds":s,"test_accuracy":a,"train_mse":m}
 * (seconds = shuffle + one incremental pass over the 60 000 training
 * examples; loading and evaluation are not timed), then one summary line.
 *
 * Notes on matching the logistic sigmoid / 0.5*SSE setup:
 *  - FANN_SIGMOID computes 1/(1+exp(-2*s*x)) where s is the activation
 *    steepness, and its derivative is 2*s*y*(1-y). Steepness 0.5 (FANN's
 *    default) is therefore exactly the logistic function sigma(x) with
 *    derivative y*(1-y); we set it explicitly. (Steepness 1.0 would be
 *    sigma(2x).)
 *  - FANN_ERRORFUNC_LINEAR makes the output error (target - output), i.e. the
 *    gradient of 0.5 * sum of squared errors, so lr 0.1 means the same thing
 *    as in the other implementations. FANN's default (TANH) error function
 *    would rescale the errors.
 *  - FANN clips y to [0.01, 0.99] when computing the sigmoid derivative
 *    (a FANN internal detail that we cannot switch off).
 *  - Weights: fann_randomize_weights(ann, -0.1, 0.1), uniform, seeded with
 *    srand(seed) (FANN uses the C library rand()).
 *  - FANN is single-threaded.
 */
#include <floatfann.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned int be32(const unsigned char *b)
{
    return ((unsigned int)b[0] << 24) | ((unsigned int)b[1] << 16) |
           ((unsigned int)b[2] << 8) | (unsigned int)b[3];
}

static void read_exact(gzFile f, void *buf, size_t n, const char *path)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned int chunk = n > (1u << 30) ? (1u << 30) : (unsigned int)n;
        int got = gzread(f, p, chunk);
        if (got <= 0) {
            fprintf(stderr, "error: short read in %s\n", path);
            exit(1);
        }
        p += got;
        n -= (size_t)got;
    }
}

/* Reads an IDX file (gzip-compressed). Returns the raw bytes, sets *count and
 * *item_size (product of the dimensions after the first). */
static unsigned char *read_idx(const char *path, unsigned int expect_magic,
                               unsigned int *count, unsigned int *item_size)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: cannot open %s\n", path);
        exit(1);
    }
    unsigned char hdr[4];
    read_exact(f, hdr, 4, path);
    unsigned int magic = be32(hdr);
    if (magic != expect_magic) {
        fprintf(stderr, "error: %s: bad magic 0x%08x\n", path, magic);
        exit(1);
    }
    unsigned int ndim = hdr[3];
    read_exact(f, hdr, 4, path);
    *count = be32(hdr);
    *item_size = 1;
    for (unsigned int d = 1; d < ndim; d++) {
        read_exact(f, hdr, 4, path);
        *item_size *= be32(hdr);
    }
    size_t total = (size_t)(*count) * (*item_size);
    unsigned char *data = malloc(total);
    if (!data) {
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    read_exact(f, data, total, path);
    gzclose(f);
    return data;
}

static struct fann_train_data *load_set(const char *dir, const char *prefix)
{
    char ipath[4096], lpath[4096];
    snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    unsigned int n_img, img_size, n_lab, lab_size;
    unsigned char *img = read_idx(ipath, 0x00000803, &n_img, &img_size);
    unsigned char *lab = read_idx(lpath, 0x00000801, &n_lab, &lab_size);
    if (n_img != n_lab || img_size != 784 || lab_size != 1) {
        fprintf(stderr, "error: unexpected shapes in %s/%s\n", dir, prefix);
        exit(1);
    }
    struct fann_train_data *d = fann_create_train(n_img, 784, 10);
    if (!d) {
        fprintf(stderr, "error: fann_create_train failed\n");
        exit(1);
    }
    for (unsigned int i = 0; i < n_img; i++) {
        for (unsigned int j = 0; j < 784; j++)
            d->input[i][j] = (fann_type)img[(size_t)i * 784 + j] / (fann_type)255.0;
        for (unsigned int k = 0; k < 10; k++)
            d->output[i][k] = (fann_type)(lab[i] == k ? 1.0 : 0.0);
    }
    free(img);
    free(lab);
    return d;
}

static double accuracy(struct fann *ann, struct fann_train_data *d)
{
    unsigned int correct = 0;
    for (unsigned int i = 0; i < d->num_data; i++) {
        fann_type *out = fann_run(ann, d->input[i]);
        unsigned int best = 0, want = 0;
        for (unsigned int k = 1; k < 10; k++) {
            if (out[k] > out[best])
                best = k;
            if (d->output[i][k] > d->output[i][want])
                want = k;
        }
        if (best == want)
            correct++;
    }
    return (double)correct / (double)d->num_data;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    int epochs = 1;
    unsigned int seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (unsigned int)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--data DIR] [--epochs N] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    if (epochs < 1) {
        fprintf(stderr, "error: --epochs must be >= 1\n");
        return 2;
    }

    double t_load = now_s();
    struct fann_train_data *train = load_set(dir, "train");
    struct fann_train_data *test = load_set(dir, "t10k");
    t_load = now_s() - t_load;

    struct fann *ann = fann_create_standard(3, 784, 30, 10);
    if (!ann) {
        fprintf(stderr, "error: fann_create_standard failed\n");
        return 1;
    }
    srand(seed);
    fann_randomize_weights(ann, -0.1f, 0.1f);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, 0.5f);
    fann_set_activation_steepness_output(ann, 0.5f);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_learning_rate(ann, 0.1f);
    fann_set_learning_momentum(ann, 0.0f);

    double *secs = malloc(sizeof(double) * (size_t)epochs);
    double acc = 0.0, total = 0.0;
    for (int e = 0; e < epochs; e++) {
        double t0 = now_s();
        fann_shuffle_train_data(train);
        float mse = fann_train_epoch(ann, train);
        secs[e] = now_s() - t0;
        total += secs[e];
        acc = accuracy(ann, test);
        printf("{\"epoch\":%d,\"seconds\":%.6f,\"test_accuracy\":%.4f,\"train_mse\":%.6f}\n",
               e + 1, secs[e], acc, (double)mse);
        fflush(stdout);
    }

    /* Median over the epochs after the first (or the only epoch). */
    int first = epochs > 1 ? 1 : 0;
    int m = epochs - first;
    double *sorted = malloc(sizeof(double) * (size_t)m);
    memcpy(sorted, secs + first, sizeof(double) * (size_t)m);
    qsort(sorted, (size_t)m, sizeof(double), cmp_double);
    double median = (m % 2) ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]);

    printf("{\"tool\":\"fann\",\"workload\":\"article\",\"epochs\":%d,\"threads\":1,"
           "\"train_examples\":%u,\"load_seconds\":%.3f,\"seconds\":%.6f,"
           "\"median_epoch_seconds\":%.6f,\"test_accuracy\":%.4f,\"seconds_per_epoch\":[",
           epochs, train->num_data, t_load, total, median, acc);
    for (int e = 0; e < epochs; e++)
        printf("%s%.6f", e ? "," : "", secs[e]);
    printf("]}\n");

    free(sorted);
    free(secs);
    fann_destroy(ann);
    fann_destroy_train(train);
    fann_destroy_train(test);
    return 0;
}
