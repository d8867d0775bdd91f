/* File and string helpers shared by the bench subcommands. */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void bench_copy_str(char *dst, size_t cap, const char *src) {
    if (!cap) return;
    if (!src) src = "";
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int bench_read_file(const char *path, mcp_buf *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return MCP_EIO;
    char chunk[65536];
    size_t n;
    int rc = MCP_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((rc = mcp_buf_append(out, chunk, n)) != 0) break;
    }
    if (ferror(f)) rc = MCP_EIO;
    fclose(f);
    return rc;
}

int bench_write_file(const char *path, const char *data, size_t len) {
    /* Write beside the target and rename, so a reader never sees half a file. */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return MCP_EINVAL;
    FILE *f = fopen(tmp, "wb");
    if (!f) return MCP_EIO;
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return MCP_EIO;
    }
    return MCP_OK;
}

int bench_mkdir_p(const char *path) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return MCP_EINVAL;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return MCP_EIO;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return MCP_EIO;
    return MCP_OK;
}
