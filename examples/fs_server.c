/*
 * fs_server — serves the regular files of one directory as MCP resources
 * and tells subscribers when they change.
 *
 *     fs_server DIR [--interval-ms N]      (MCP over stdio)
 *
 * Every file directly in DIR is a resource file:///NAME (also reachable
 * through the template file:///{name}). A watcher thread polls the
 * directory every N milliseconds (default 500): a new file is registered
 * (clients hear notifications/resources/list_changed), a removed one is
 * unregistered, and a changed one (size or modification time) is announced
 * with notifications/resources/updated to every session subscribed to it,
 * by resources/subscribe or, in the modern era, subscriptions/listen.
 *
 * Polling rather than inotify keeps the example short and portable; a
 * change is seen within one interval.
 */
#include "mcp/mcp.h"
#include "mcp/net.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FS_MAX_FILES 1024
#define FS_MAX_READ (1u << 20) /* larger files are refused, not truncated */

typedef struct fs_file {
    char name[256];
    long long size;
    long long mtime_ns;
    bool seen; /* in the current scan */
} fs_file;

typedef struct fs_server {
    mcp_server *server;
    char dir[4096];
    pthread_mutex_t lock; /* files */
    fs_file files[FS_MAX_FILES];
    size_t count;
} fs_server;

/* A name we serve: no path separators, no "." or "..", no hidden files. */
static bool fs_name_ok(const char *name)
{
    return name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) < sizeof((fs_file *)0)->name;
}

static const char *fs_mime(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "text/plain";
    if (!strcmp(dot, ".json"))
        return "application/json";
    if (!strcmp(dot, ".md"))
        return "text/markdown";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".bin"))
        return "application/octet-stream";
    return "text/plain";
}

static bool fs_is_text(const char *data, size_t len)
{
    return memchr(data, '\0', len) == NULL;
}

static char *fs_base64(const unsigned char *data, size_t len)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0) |
                     (i + 2 < len ? data[i + 2] : 0);
        *p++ = A[v >> 18 & 63];
        *p++ = A[v >> 12 & 63];
        *p++ = i + 1 < len ? A[v >> 6 & 63] : '=';
        *p++ = i + 2 < len ? A[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

/* resources/read for file:///NAME, from a resource or the template. */
static int fs_read(mcp_call *call, const char *uri, void *user)
{
    fs_server *fs = user;
    const char *name = uri + strlen("file:///");
    if (strncmp(uri, "file:///", 8) != 0 || !fs_name_ok(name))
        return mcp_call_fail(call, -32602, "Not a file of this directory");
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/%s", fs->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return mcp_call_fail(call, MCP_ERROR_RESOURCE_NOT_FOUND, "Resource not found");
    char *data = malloc(FS_MAX_READ + 1);
    size_t len = data ? fread(data, 1, FS_MAX_READ + 1, f) : 0;
    fclose(f);
    if (!data)
        return MCP_ENOMEM;
    int rc;
    if (len > FS_MAX_READ) {
        rc = mcp_call_fail(call, -32603, "File too large to serve");
    } else if (fs_is_text(data, len)) {
        rc = mcp_call_resource_text(call, uri, fs_mime(name), data, len);
    } else {
        char *b64 = fs_base64((unsigned char *)data, len);
        rc = b64 ? mcp_call_resource_blob(call, uri, fs_mime(name), b64) : MCP_ENOMEM;
        free(b64);
    }
    free(data);
    return rc;
}

static int fs_register(fs_server *fs, const fs_file *file)
{
    char uri[300];
    snprintf(uri, sizeof uri, "file:///%s", file->name);
    return mcp_server_add_resource(fs->server, &(mcp_resource){
        .uri = uri, .name = file->name, .mime_type = fs_mime(file->name), .size = file->size,
        .fn = fs_read, .user = fs});
}

/* One polling pass: register new files, drop removed ones, announce
 * changed ones. Returns how many changes it saw, or a negative code. */
int fs_server_scan(fs_server *fs)
{
    DIR *d = opendir(fs->dir);
    if (!d)
        return MCP_EIO;
    int changes = 0;
    pthread_mutex_lock(&fs->lock);
    for (size_t i = 0; i < fs->count; i++)
        fs->files[i].seen = false;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (!fs_name_ok(ent->d_name))
            continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", fs->dir, ent->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        long long mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        fs_file *known = NULL;
        for (size_t i = 0; i < fs->count && !known; i++)
            if (!strcmp(fs->files[i].name, ent->d_name))
                known = &fs->files[i];
        if (!known) {
            if (fs->count == FS_MAX_FILES)
                continue;
            known = &fs->files[fs->count++];
            snprintf(known->name, sizeof known->name, "%s", ent->d_name);
            known->size = st.st_size;
            known->mtime_ns = mtime;
            fs_register(fs, known);
            changes++;
        } else if (known->size != st.st_size || known->mtime_ns != mtime) {
            known->size = st.st_size;
            known->mtime_ns = mtime;
            char uri[300];
            snprintf(uri, sizeof uri, "file:///%s", known->name);
            mcp_server_notify_resource_updated(fs->server, uri);
            changes++;
        }
        known->seen = true;
    }
    closedir(d);
    for (size_t i = 0; i < fs->count;) {
        if (fs->files[i].seen) {
            i++;
            continue;
        }
        char uri[300];
        snprintf(uri, sizeof uri, "file:///%s", fs->files[i].name);
        mcp_server_remove_resource(fs->server, uri);
        /* Subscribers learn that the resource went away, too. */
        mcp_server_notify_resource_updated(fs->server, uri);
        fs->files[i] = fs->files[--fs->count];
        changes++;
    }
    pthread_mutex_unlock(&fs->lock);
    return changes;
}

fs_server *fs_server_new(mcp_server *server, const char *dir)
{
    struct stat st;
    if (!server || !dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || strlen(dir) >= sizeof((fs_server *)0)->dir)
        return NULL;
    fs_server *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    fs->server = server;
    snprintf(fs->dir, sizeof fs->dir, "%s", dir);
    pthread_mutex_init(&fs->lock, NULL);
    if (mcp_server_add_resource_template(server, &(mcp_resource_template){
            .uri_template = "file:///{name}", .name = "file", .description = "A file of the served directory",
            .fn = fs_read, .user = fs}) != 0 ||
        fs_server_scan(fs) < 0) {
        pthread_mutex_destroy(&fs->lock);
        free(fs);
        return NULL;
    }
    return fs;
}

void fs_server_free(fs_server *fs)
{
    if (!fs)
        return;
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

#ifndef EXAMPLE_NO_MAIN
typedef struct watcher {
    fs_server *fs;
    unsigned interval_ms;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
} watcher;

static void *watch_main(void *arg)
{
    watcher *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += w->interval_ms / 1000;
        until.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->lock);
        fs_server_scan(w->fs);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned interval = 500;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v < 10 || v > 60000) {
                fprintf(stderr, "fs_server: --interval-ms takes 10 to 60000\n");
                return 2;
            }
            interval = (unsigned)v;
        } else if (!dir && argv[i][0] != '-') {
            dir = argv[i];
        } else {
            fprintf(stderr, "usage: fs_server DIR [--interval-ms N]\n");
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: fs_server DIR [--interval-ms N]\n");
        return 2;
    }
    mcp_server *server = mcp_server_new(&(mcp_server_opts){.name = "fs_server", .version = "1.0",
                                                           .instructions = "Files of one directory, live."});
    fs_server *fs = server ? fs_server_new(server, dir) : NULL;
    if (!fs) {
        fprintf(stderr, "fs_server: cannot serve %s: %s\n", dir, strerror(errno ? errno : EINVAL));
        mcp_server_free(server);
        return 1;
    }
    watcher w = {.fs = fs, .interval_ms = interval};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.wake, NULL);
    pthread_t thread;
    pthread_create(&thread, NULL, watch_main, &w);
    int rc = mcp_serve(server, &(mcp_listen){.stdio = true});
    pthread_mutex_lock(&w.lock);
    w.stop = true;
    pthread_cond_signal(&w.wake);
    pthread_mutex_unlock(&w.lock);
    pthread_join(thread, NULL);
    fs_server_free(fs);
    mcp_server_free(server);
    return rc == 0 || rc == MCP_ECLOSED ? 0 : 1;
}
#endif
