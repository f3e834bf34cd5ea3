/*
 * kafka_mock.c - host librdkafka's mock Kafka cluster (real Kafka protocol
 * on loopback ports) in a process of its own, for tests and local runs:
 *
 *   kafka_mock [--brokers N] [--topics PREFIX:PARTITIONS]...
 *              [--ready-file FILE]
 *
 * Prints the bootstrap list ("127.0.0.1:P1,127.0.0.1:P2,...") as one line
 * on stdout (and writes it to FILE once the topics exist), creates
 * PREFIX.ticks and PREFIX.bars with PARTITIONS partitions and replication
 * min(3, N) for every --topics, then runs until SIGTERM or SIGINT,
 * destroys the cluster and exits 0. Services use kafka://<that list>.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
    (void)rk;
    if (level <= 3)
        fprintf(stderr, "kafka_mock: %s: %s\n", fac, buf);
}

static int usage(void)
{
    fprintf(stderr, "usage: kafka_mock [--brokers N] "
                    "[--topics PREFIX:PARTITIONS]... [--ready-file FILE]\n");
    return 2;
}

static int write_ready(const char *path, const char *line)
{
    char tmp[4096];
    FILE *f;

    /* Written whole, then renamed: a reader never sees half a line. */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        fprintf(stderr, "kafka_mock: cannot write %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *topics[MAX_TOPICS], *ready = NULL;
    int brokers = 3, n_topics = 0;
    char errstr[512];
    struct sigaction sa;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 32)
                return usage();
            brokers = (int)v;
        } else if (!strcmp(argv[i], "--topics") && i + 1 < argc &&
                   n_topics < MAX_TOPICS) {
            topics[n_topics++] = argv[++i];
        } else if (!strcmp(argv[i], "--ready-file") && i + 1 < argc) {
            ready = argv[++i];
        } else {
            return usage();
        }
    }

    /* The cluster lives in a producer handle that connects nowhere. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create a mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < n_topics; i++) {
        const char *colon = strrchr(topics[i], ':');
        char name[300], *end;
        long parts = colon ? strtol(colon + 1, &end, 10) : 0;

        if (!colon || colon == topics[i] || *end || parts < 1 || parts > 1000 ||
            colon - topics[i] > 200) {
            fprintf(stderr, "kafka_mock: bad --topics '%s'\n", topics[i]);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 2;
        }
        for (int s = 0; s < 2; s++) {
            snprintf(name, sizeof name, "%.*s.%s", (int)(colon - topics[i]),
                     topics[i], s ? "bars" : "ticks");
            rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
                mc, name, (int)parts, brokers < 3 ? brokers : 3);
            if (err) {
                fprintf(stderr, "kafka_mock: topic %s: %s\n", name,
                        rd_kafka_err2str(err));
                rd_kafka_mock_cluster_destroy(mc);
                rd_kafka_destroy(rk);
                return 1;
            }
        }
    }

    /* Signals stay blocked except inside sigsuspend: none is missed. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    printf("%s\n", bs);
    fflush(stdout);
    int rc = ready && write_ready(ready, bs) ? 1 : 0;
    while (!rc && !stop)
        sigsuspend(&old);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
