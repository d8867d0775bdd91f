/*
 * The compiled form of a JSON Schema, shared by the compiler
 * (schema_compile.c) and the validator (schema.c) and by nobody else.
 *
 * Every keyword becomes a field so that validation never looks anything up
 * by name; values the validator only compares (enum, const) stay as DOM
 * nodes parsed from the arena's copy of the schema text. Numbers keep their
 * source text so that error messages quote the schema exactly.
 */
#ifndef MCP_SCHEMA_INTERNAL_H
#define MCP_SCHEMA_INTERNAL_H

#include "mcp/schema.h"

/* Bits of mcp_schema.types. */
enum {
    MCP_SCHEMA_T_NULL = 1u << 0,
    MCP_SCHEMA_T_BOOLEAN = 1u << 1,
    MCP_SCHEMA_T_OBJECT = 1u << 2,
    MCP_SCHEMA_T_ARRAY = 1u << 3,
    MCP_SCHEMA_T_NUMBER = 1u << 4,
    MCP_SCHEMA_T_STRING = 1u << 5,
    MCP_SCHEMA_T_INTEGER = 1u << 6
};

typedef struct mcp_schema_limit {
    bool set;
    double value;
    mcp_str text; /* as written in the schema */
} mcp_schema_limit;

typedef struct mcp_schema_prop {
    mcp_str name;
    mcp_schema *schema;
} mcp_schema_prop;

/* Regular expressions (schema_regex.c), for pattern and patternProperties. */
typedef struct mcp_schema_regex mcp_schema_regex;
/* 0; MCP_EINVAL for a malformed pattern; MCP_EUNSUPPORTED for syntax this
 * matcher does not implement (the caller then ignores the pattern). */
int mcp_schema_regex_compile(mcp_arena *arena, const char *pattern, size_t len, mcp_schema_regex **out);
/* 1 if the pattern matches anywhere in s, 0 if not, MCP_ELIMIT if the match
 * ran out of its step budget. */
int mcp_schema_regex_match(const mcp_schema_regex *re, const char *s, size_t len);

typedef struct mcp_schema_pattern_prop {
    mcp_schema_regex *regex;
    mcp_schema *schema;
} mcp_schema_pattern_prop;

typedef struct mcp_schema_list {
    mcp_schema **items;
    size_t count;
} mcp_schema_list;

struct mcp_schema {
    /* A boolean schema (true accepts everything, false nothing) has only
     * this set; -1 for object schemas. */
    int boolean;
    unsigned types; /* 0: any type */

    const mcp_json *enum_values; /* array, or NULL */
    const mcp_json *const_value;
    bool has_const;

    /* objects */
    mcp_schema_prop *props;
    size_t prop_count;
    mcp_str *required;
    size_t required_count;
    mcp_schema_pattern_prop *pattern_props;
    size_t pattern_prop_count;
    bool pattern_props_partial; /* some pattern was unsupported: additionalProperties is not applied */
    mcp_schema *additional; /* NULL: any additional property is fine */
    size_t min_props, max_props;

    /* arrays */
    mcp_schema_list prefix;
    mcp_schema *items; /* items after the prefix; NULL: anything */
    mcp_schema *contains;
    size_t min_items, max_items;
    bool unique_items;

    /* numbers */
    mcp_schema_limit minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;

    /* strings, counted in code points */
    size_t min_length, max_length;
    mcp_schema_regex *pattern; /* NULL when absent or unsupported */
    mcp_str pattern_text;

    /* combinators */
    mcp_schema_list all_of, any_of, one_of;
    mcp_schema *not_schema;
    mcp_schema *if_schema, *then_schema, *else_schema;
    mcp_schema *ref;

    /* Judged by types and required names alone: no keyword that looks at
     * a value's content, and (objects) properties that are plain too, no
     * pattern or count limits, additionalProperties absent or a boolean.
     * Most tool input schemas are. The validator first tries such a schema
     * on a fast path that can only say "valid"; anything else goes the
     * full way, which also words the error. */
    bool plain;
    uint64_t required_props; /* plain objects: bit i set when props[i] is required */
    /* A plain object schema whose properties are all leaves (true, or a
     * plain schema that may list types and nothing else): the fast path then
     * checks each member's type in place, with no descent. The usual tool
     * input ({"type":"object","properties":{"text":{"type":"string"}}}). */
    bool flat;
};

/* The two halves of mcp_schema_validate, for the tests that hold them to
 * the same verdicts: the fast path (true only when the instance is
 * certainly valid; false says nothing) and the general validator alone
 * (verdict and error message). */
bool mcp_schema_fast_accepts(const mcp_schema *schema, const mcp_json *instance);
int mcp_schema_validate_general(const mcp_schema *schema, const mcp_json *instance, mcp_buf *error_out);

#endif
