/* Stand-alone driver for the floor functions, to check that the floor timed
 * through ctypes from the benchmark's Python process is no slower than the
 * same code timed by a small C process (see floor_common.c).
 *
 *   floor_cli run N prog [args...]     N blocking runs; per-run times
 *   floor_cli bg N prog [args...]      N background starts (each reaped
 *                                      with SIGKILL after its timing)
 *   floor_cli drain prog [args...]     one drain of prog's stdout
 *
 * Prints one JSON object: {"what":..., "n":..., "median_ns":...,
 * "min_ns":..., "total_ns":..., "bytes":...}.  Exit status 0, or 1 with a
 * message on stderr. */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
        perror("clock_gettime");
        exit(1);
    }
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int usage(void)
{
    fprintf(stderr, "usage: floor_cli run|bg N prog [args...] | floor_cli drain prog [args...]\n");
    return 1;
}

int main(int argc, char **argv)
{
    long long *t, total = 0, bytes = 0;
    long n;
    int rc;

    if (argc < 3)
        return usage();
    if ((rc = floor_init()) != 0) {
        fprintf(stderr, "floor_init: %s\n", strerror(rc));
        return 1;
    }
    if (strcmp(argv[1], "drain") == 0) {
        int status;
        long long t0 = now_ns();
        rc = floor_drain(argv + 2, 0, 1 << 20, &bytes, &status);
        total = now_ns() - t0;
        if (rc != 0) {
            fprintf(stderr, "floor_drain: %s\n", strerror(rc));
            return 1;
        }
        printf("{\"what\": \"drain\", \"n\": 1, \"median_ns\": %lld, \"min_ns\": %lld, "
               "\"total_ns\": %lld, \"bytes\": %lld, \"status\": %d}\n",
               total, total, total, bytes, status);
        return 0;
    }
    if (argc < 4)
        return usage();
    n = strtol(argv[2], NULL, 10);
    if (n <= 0)
        return usage();
    t = malloc((size_t)n * sizeof *t);
    if (t == NULL) {
        perror("malloc");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        long long t0 = now_ns();
        if (strcmp(argv[1], "run") == 0) {
            int status;
            long long out;
            rc = floor_run(argv + 3, &status, &out);
            t[i] = now_ns() - t0;
            bytes += out;
        } else if (strcmp(argv[1], "bg") == 0) {
            floor_child c;
            rc = floor_bg_start(argv + 3, &c);
            t[i] = now_ns() - t0;
            if (rc == 0)
                rc = floor_bg_reap(&c, SIGKILL);
        } else {
            free(t);
            return usage();
        }
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", argv[1], strerror(rc));
            free(t);
            return 1;
        }
        total += t[i];
    }
    qsort(t, (size_t)n, sizeof *t, cmp_ll);
    printf("{\"what\": \"%s\", \"n\": %ld, \"median_ns\": %lld, \"min_ns\": %lld, "
           "\"total_ns\": %lld, \"bytes\": %lld}\n",
           argv[1], n, n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2, t[0], total, bytes);
    free(t);
    return 0;
}
