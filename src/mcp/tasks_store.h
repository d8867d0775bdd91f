/*
 * tasks_store.h — where the modern era's tasks live (tasks_store.c), shared
 * by the files of the tasks extension (tasks_modern.c). Private to src/mcp.
 */
#ifndef MCP_TASKS_STORE_H
#define MCP_TASKS_STORE_H

#include "tasks_modern.h"

typedef enum mcp_task_status {
    MCP_TASK_WORKING = 0,
    MCP_TASK_INPUT_REQUIRED,
    MCP_TASK_COMPLETED,
    MCP_TASK_FAILED,
    MCP_TASK_CANCELLED
} mcp_task_status;

typedef struct mcp_task_store mcp_task_store;

typedef struct mcp_modern_task {
    struct mcp_modern_task *next;
    mcp_task_store *store;
    char id[33];
    mcp_task_status status;
    char *status_message;
    uint64_t created_ms, updated_ms, ttl_ms;
    char *params;          /* tools/call params without inputResponses and requestState */
    char *outcome;         /* completed: the result object; failed: the error object */
    char *input_requests;  /* input_required: the requests still unanswered (an object) */
    char *request_state;   /* sealed state for the next round, or NULL */
    mcp_buf responses;     /* "key":answer,... gathered for the next round */
    mcp_session *runner;
    pthread_mutex_t runner_lock;
    int64_t round;         /* id of the runner's request of this round */
    bool running;          /* the runner has not answered this round yet */
    unsigned holds;        /* threads using the task outside the store lock */
} mcp_modern_task;

struct mcp_task_store {
    mcp_task_store *next;
    mcp_server *server;
    uint64_t seed;
    pthread_mutex_t lock;
    mcp_modern_task *tasks;
    size_t count;
};

/* The status as the protocol spells it, in both task protocols. */
static inline const char *mcp_task_status_name(mcp_task_status s)
{
    static const char *const names[] = {"working", "input_required", "completed", "failed", "cancelled"};
    return names[s];
}

static inline bool mcp_task_status_terminal(mcp_task_status s)
{
    return s >= MCP_TASK_COMPLETED;
}

/* The server's store (created when create is set), or NULL. */
mcp_task_store *mcp_task_store_of(mcp_server *server, bool create);
/* Under the store lock: the task with this id, or NULL. */
mcp_modern_task *mcp_task_store_find(mcp_task_store *store, const char *id);
/* Under the store lock: unlink the tasks past their ttl that nothing works
 * on any more into *dropped, to be freed (mcp_task_list_free) outside it. */
void mcp_task_store_purge(mcp_task_store *store, mcp_modern_task **dropped);
/* Free a list of unlinked tasks (next-linked), their runners first. */
void mcp_task_list_free(mcp_modern_task *list);

#endif
