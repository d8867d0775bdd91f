/*
 * tasks_watch.c — notifications/tasks on subscriptions/listen streams (the
 * tasks extension, 2026-07-28): a listen that names taskIds hears every
 * status change of those tasks, each notification carrying the whole
 * DetailedTask that tasks/get would give at that moment.
 *
 * A task is watched only by id, and only ids of tasks that exist are agreed
 * to (the acknowledgement lists them): knowing the id is what entitles a
 * client to the task. Watches live in one short list under their own lock,
 * apart from the listens of notify.c, and go when their listen ends.
 *
 * Locks: a notification is written while holding the watch lock and then
 * the listening session's lock. Callers never hold a task store lock or a
 * listening session's lock when they come here (a runner session's lock may
 * be held: runners never listen).
 */
#include "tasks_modern.h"

#include <stdlib.h>
#include <string.h>

typedef struct task_watch {
    struct task_watch *next;
    mcp_session *session;
    mcp_rpc_id listen;      /* text malloc'd */
    char **ids;
    size_t count;
} task_watch;

static pthread_mutex_t watches_lock = PTHREAD_MUTEX_INITIALIZER;
static task_watch *watches;

static void watch_free(task_watch *w)
{
    for (size_t i = 0; i < w->count; i++)
        free(w->ids[i]);
    free(w->ids);
    free((char *)w->listen.text.ptr);
    free(w);
}

char *mcp_tasks_watch_agree(mcp_call *call, const mcp_json *task_ids)
{
    mcp_buf out;
    mcp_buf_init(&out);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &out);
    mcp_json_begin_array(&w);
    size_t agreed = 0;
    for (const mcp_json *t = mcp_json_first(task_ids); t; t = mcp_json_next(t)) {
        const char *id = mcp_json_str(t, "");
        if (strlen(id) != mcp_json_str_len(t) || !mcp_task_exists(call->session->server, id))
            continue;
        mcp_json_write_cstr(&w, id);
        agreed++;
    }
    mcp_json_end_array(&w);
    char *text = agreed && mcp_json_writer_status(&w) == 0 ? strndup(out.data, out.len) : NULL;
    mcp_buf_free(&out);
    return text;
}

int mcp_tasks_watch_add(mcp_session *session, const mcp_rpc_id *listen, const char *agreed)
{
    if (!agreed)
        return 0;
    mcp_arena scratch;
    mcp_arena_init(&scratch, 0);
    mcp_json *ids = NULL;
    task_watch *w = calloc(1, sizeof *w);
    int rc = w ? mcp_json_parse(&scratch, agreed, strlen(agreed), NULL, &ids, NULL) : MCP_ENOMEM;
    if (rc == 0) {
        w->session = session;
        w->listen = *listen;
        char *text = strndup(listen->text.ptr, listen->text.len);
        w->listen.text.ptr = text;
        w->ids = calloc(mcp_json_len(ids) + 1, sizeof *w->ids);
        if (!text || !w->ids)
            rc = MCP_ENOMEM;
    }
    for (const mcp_json *t = mcp_json_first(ids); rc == 0 && t; t = mcp_json_next(t)) {
        if (!(w->ids[w->count] = strdup(mcp_json_str(t, ""))))
            rc = MCP_ENOMEM;
        else
            w->count++;
    }
    mcp_arena_free(&scratch);
    if (rc != 0) {
        if (w)
            watch_free(w);
        return rc;
    }
    pthread_mutex_lock(&watches_lock);
    w->next = watches;
    watches = w;
    pthread_mutex_unlock(&watches_lock);
    return 0;
}

void mcp_tasks_watch_drop(mcp_session *session, const mcp_rpc_id *listen)
{
    task_watch *dropped = NULL;
    pthread_mutex_lock(&watches_lock);
    for (task_watch **p = &watches; *p;) {
        task_watch *w = *p;
        if (w->session == session && (!listen || mcp_rpc_id_eq(&w->listen, listen))) {
            *p = w->next;
            w->next = dropped;
            dropped = w;
        } else {
            p = &w->next;
        }
    }
    pthread_mutex_unlock(&watches_lock);
    while (dropped) {
        task_watch *next = dropped->next;
        watch_free(dropped);
        dropped = next;
    }
}

static bool watches_task(const task_watch *w, const char *id)
{
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->ids[i], id) == 0)
            return true;
    return false;
}

void mcp_tasks_watch_notify(mcp_server *server, const char *task_id, const char *detail, size_t len)
{
    /* detail is the DetailedTask object: its members follow our _meta. */
    if (len < 2 || detail[0] != '{')
        return;
    bool inner = len > 2;
    mcp_buf buf;
    mcp_buf_init(&buf);
    pthread_mutex_lock(&watches_lock);
    for (task_watch *w = watches; w; w = w->next) {
        if (w->session->server != server || !watches_task(w, task_id))
            continue;
        mcp_buf_reset(&buf);
        int rc = mcp_buf_appendf(&buf,
                                 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tasks\",\"params\":{\"_meta\":"
                                 "{\"io.modelcontextprotocol/subscriptionId\":%.*s}%s%.*s}",
                                 (int)w->listen.text.len, w->listen.text.ptr, inner ? "," : "", (int)(len - 1),
                                 detail + 1);
        if (rc != 0)
            continue;
        pthread_mutex_lock(&w->session->lock);
        mcp_session_write_locked(w->session, &w->listen, buf.data, buf.len);
        pthread_mutex_unlock(&w->session->lock);
    }
    pthread_mutex_unlock(&watches_lock);
    mcp_buf_free(&buf);
}
