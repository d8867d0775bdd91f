/*
 * batch/batch_internal.h — pieces of the batcher shared by src/batch files.
 *
 *  - mcp_batch_link (link.c): one non-blocking TCP connection driven by the
 *    sans-I/O mcp_client. Messages the client emits pile up in an output
 *    buffer; between mcp_batch_link_begin and _end they are framed as one
 *    JSON-RPC batch array when the link negotiated 2025-03-26, otherwise as
 *    newline-delimited lines, and the whole group leaves in one write.
 *  - the adaptive size rule (strategy.c), kept apart so tests can drive it.
 */
#ifndef MCP_BATCH_INTERNAL_H
#define MCP_BATCH_INTERNAL_H

#include "mcp/batch.h"
#include "net/net_internal.h"

typedef struct mcp_batch_link {
    int fd;
    mcp_client *client;
    mcp_ndjson framer;
    mcp_buf out;          /* bytes not yet written */
    bool collecting;      /* between begin and end */
    size_t collected;     /* messages in the open group */
    bool arrays;          /* negotiated 2025-03-26: groups are arrays */
    bool closed;
    uint64_t writes;
    char *read_buf;
} mcp_batch_link;

/* Connect to host_port, negotiate with copts (sink is set here) and wait
 * up to timeout_ms for the client to be ready. */
int mcp_batch_link_open(mcp_batch_link *link, const char *host_port, const mcp_client_opts *copts,
                        unsigned timeout_ms);
void mcp_batch_link_close(mcp_batch_link *link); /* pending requests complete with MCP_ECLOSED */
void mcp_batch_link_begin(mcp_batch_link *link);
void mcp_batch_link_end(mcp_batch_link *link);
/* Write what is buffered without blocking. 0, or MCP_ECLOSED when the peer is gone. */
int mcp_batch_link_write(mcp_batch_link *link);
/* Wait up to timeout_ms (-1: no limit) for the socket or for wake_fd
 * (an eventfd, may be -1) to be ready; read and handle replies, write
 * queued bytes, tick the client. 0, or MCP_ECLOSED when the link died. */
int mcp_batch_link_pump(mcp_batch_link *link, int timeout_ms, int wake_fd);

/* Adaptive rule: the next target size (now `target`) after a group came
 * back in latency_us with `failures` failed; full: the group had the size
 * the strategy asked for when it left. */
size_t mcp_batch_adapt(const mcp_batch_strategy *s, size_t target, bool full, uint64_t latency_us, size_t failures);
/* The time the server spent on a group: from when it could start on it
 * (the group was sent, or the group ahead of it on the same connection was
 * answered, whichever came later; ahead_done_ns 0: none) to the group's
 * last reply. What mcp_batch_adapt is given as latency_us. */
uint64_t mcp_batch_service_us(uint64_t sent_ns, uint64_t ahead_done_ns, uint64_t done_ns);
/* Fill the defaults of a strategy; MCP_EINVAL for an impossible one. */
int mcp_batch_strategy_normalize(mcp_batch_strategy *s);

#endif
