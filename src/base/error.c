/* Human names for the MCP_E* result codes. */
#include "mcp/base.h"

const char *mcp_strerror(int code) {
    switch (code) {
    case MCP_OK: return "ok";
    case MCP_ENOMEM: return "out of memory";
    case MCP_EINVAL: return "invalid argument";
    case MCP_EPARSE: return "malformed input";
    case MCP_ELIMIT: return "limit exceeded";
    case MCP_ENOTFOUND: return "not found";
    case MCP_EEXIST: return "already exists";
    case MCP_EIO: return "I/O error";
    case MCP_ETIMEDOUT: return "timed out";
    case MCP_ECLOSED: return "closed";
    case MCP_EAGAIN: return "try again";
    case MCP_EPROTO: return "protocol error";
    case MCP_ECANCELED: return "cancelled";
    case MCP_EUNSUPPORTED: return "not supported";
    case MCP_PENDING: return "pending";
    default: return "unknown error";
    }
}
