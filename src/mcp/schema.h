/*
 * mcp/schema.h (internal) — JSON Schema validation of tool input and output.
 *
 * A tool's inputSchema and outputSchema are compiled once, when the tool is
 * registered, into a tree that lives in the registry's arena; every
 * tools/call then validates its arguments (and, for tools with an output
 * schema, the structuredContent) against that tree without parsing the
 * schema again.
 *
 *     mcp_schema *schema; char err[128];
 *     if (mcp_schema_compile(&arena, text, len, &schema, err, sizeof err) != 0)
 *         reject the tool: err says what is wrong and where in the schema;
 *     mcp_buf why; mcp_buf_init(&why);
 *     if (mcp_schema_validate(schema, args, &why) == MCP_EINVAL)
 *         answer -32602 with why.data, e.g. "/items/2: expected integer, got string";
 *
 * Supported keywords (2020-12 meaning, with draft-04..07 spellings accepted
 * where they differ): type (a name or an array of names; "integer" is any
 * number with a zero fraction), enum, const, properties, required,
 * additionalProperties (boolean or schema), minProperties, maxProperties,
 * items (schema; an array of schemas is read as prefixItems), prefixItems,
 * contains, minItems, maxItems, uniqueItems, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum (number, or draft-04 boolean),
 * multipleOf, minLength, maxLength (Unicode code points), allOf, anyOf,
 * oneOf, not, if/then/else, $ref to a JSON pointer inside the same
 * document ("#", "#/$defs/x", "#/definitions/x", any "#/..." path), and
 * pattern / patternProperties with the regular-expression subset described
 * in schema_regex.c (classes, groups, alternation, quantifiers, anchors).
 *
 * Not enforced: "format" (type-checked only), and patterns that use
 * lookaround, backreferences, \b or \p{...}: such a pattern is skipped,
 * and when it is a patternProperties key, additionalProperties is not
 * applied to that object (we cannot tell which names it would cover).
 * A match that exceeds its step budget (a pathological pattern) fails
 * validation with a message saying so. Keywords this module does not know
 * are ignored, as the JSON Schema specification requires. Remote $ref is a
 * compile error.
 */
#ifndef MCP_SCHEMA_H
#define MCP_SCHEMA_H

#include "mcp/base.h"
#include "mcp/json.h"

typedef struct mcp_schema mcp_schema;

/* Compile len bytes of schema text. The schema text is copied; the compiled
 * tree and everything it points to live in arena. On failure returns
 * MCP_EPARSE (not JSON), MCP_ELIMIT (nested too deeply), MCP_EINVAL (not a
 * valid schema) or MCP_ENOMEM, and
 * writes a message naming the schema location to err (errlen > 0). */
int mcp_schema_compile(mcp_arena *arena, const char *schema_json, size_t len, mcp_schema **out,
                       char *err, size_t errlen);

/* Validate an instance. Returns 0 when valid; MCP_EINVAL when not, after
 * clearing error_out (may be NULL) and writing the first error into it as
 * "<JSON pointer of the instance location>: <what is wrong>" ("(root)" for
 * the whole instance); MCP_ENOMEM if memory ran out. Thread safe: a compiled
 * schema is never written after compile. Instances that hold lazily parsed
 * (RAW) nodes are expanded into a scratch arena as needed. */
int mcp_schema_validate(const mcp_schema *schema, const mcp_json *instance, mcp_buf *error_out);

#endif
