/*
 * insncount: a QEMU 7.2 TCG plugin counting executed guest instructions per
 * instruction address.
 *
 *   qemu-aarch64 -plugin ./insncount.so,out=counts.txt ./program
 *
 * Each translated block (TB) gets its own u64 counter, bumped by an inline
 * add every time the block starts executing, and the address of each of its
 * instructions. At exit every instruction is credited with its block's count;
 * blocks translated more than once are merged by address, and the file named
 * by out= gets one line "<hex address> <count>" per executed instruction,
 * sorted by address.
 *
 * Exact for guests with one thread (user mode) or one vCPU (system mode -smp
 * 1): the inline adds are not atomic. Translation-time bookkeeping takes a
 * pthread mutex, so other guests run safely but may undercount slightly.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

struct block {
    struct block *next;
    uint64_t executions;
    size_t n_insns;
    uint64_t insn_vaddrs[];
};

struct insn_count {
    uint64_t vaddr;
    uint64_t count;
};

static struct block *blocks;
static size_t total_insns;
static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static char *out_path;

static void *allocate(size_t size)
{
    void *memory = calloc(1, size);
    if (memory == NULL) {
        fprintf(stderr, "insncount: out of memory\n");
        abort();
    }
    return memory;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n_insns = qemu_plugin_tb_n_insns(tb);
    struct block *block = allocate(sizeof(*block) + n_insns * sizeof(uint64_t));
    block->n_insns = n_insns;
    for (size_t i = 0; i < n_insns; i++) {
        block->insn_vaddrs[i] = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i));
    }
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &block->executions, 1);
    pthread_mutex_lock(&blocks_lock);
    block->next = blocks;
    blocks = block;
    total_insns += n_insns;
    pthread_mutex_unlock(&blocks_lock);
}

static int by_vaddr(const void *a, const void *b)
{
    uint64_t left = ((const struct insn_count *)a)->vaddr;
    uint64_t right = ((const struct insn_count *)b)->vaddr;
    return (left > right) - (left < right);
}

static void write_counts(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    pthread_mutex_lock(&blocks_lock);
    struct insn_count *counts = allocate((total_insns + 1) * sizeof(*counts));
    size_t n_counts = 0;
    for (struct block *block = blocks; block != NULL; block = block->next) {
        for (size_t i = 0; i < block->n_insns && block->executions > 0; i++) {
            counts[n_counts++] = (struct insn_count){block->insn_vaddrs[i], block->executions};
        }
    }
    pthread_mutex_unlock(&blocks_lock);
    qsort(counts, n_counts, sizeof(*counts), by_vaddr);

    FILE *out = fopen(out_path, "w");
    if (out == NULL) {
        perror(out_path);
        return;
    }
    for (size_t i = 0; i < n_counts; i++) {
        uint64_t count = counts[i].count;
        while (i + 1 < n_counts && counts[i + 1].vaddr == counts[i].vaddr) {
            count += counts[++i].count;
        }
        fprintf(out, "%" PRIx64 " %" PRIu64 "\n", counts[i].vaddr, count);
    }
    if (fclose(out) != 0) {
        perror(out_path);
    }
    free(counts);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) != 0 || argv[i][4] == '\0') {
            fprintf(stderr, "insncount: unknown argument '%s' (expected out=PATH)\n", argv[i]);
            return -1;
        }
        out_path = strdup(argv[i] + 4);
    }
    if (out_path == NULL) {
        fprintf(stderr, "insncount: missing argument out=PATH\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, write_counts, NULL);
    return 0;
}
