// Loads the MCP JSON schema of each protocol version into ajv and hands out
// validators for single definitions. 2025-03-26 and 2025-06-18 declare
// draft-07 (definitions under "definitions"); 2025-11-25 and 2026-07-28
// declare draft 2020-12 (under "$defs"), so each file goes to the ajv class
// of the draft it names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema';

export class VersionSchema {
  constructor(dataDir, version) {
    this.version = version;
    const schema = JSON.parse(readFileSync(join(dataDir, 'mcp-schema', version, 'schema.json'), 'utf8'));
    let AjvClass;
    if (schema.$schema === DRAFT_07) {
      AjvClass = Ajv;
      this.defsKey = 'definitions';
    } else if (schema.$schema === DRAFT_2020) {
      AjvClass = Ajv2020;
      this.defsKey = '$defs';
    } else {
      throw new Error(`${version}: schema declares ${schema.$schema}, which this test does not know`);
    }
    this.defs = schema[this.defsKey];
    // strict off: the published schemas carry annotation keywords ajv's
    // strict mode rejects; formats stay checked (uri, uri-template, byte).
    this.ajv = new AjvClass({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(schema, version);
    this.cache = new Map();
  }

  has(name) {
    return Object.hasOwn(this.defs, name);
  }

  // Validator for a definition name, or for a JSON pointer below the defs
  // ("JSONRPCError/properties/error").
  validator(path) {
    let v = this.cache.get(path);
    if (!v) {
      const pointer = `${this.version}#/${this.defsKey}/${path.split('/').map(escapePointer).join('/')}`;
      v = this.ajv.getSchema(pointer);
      if (!v) throw new Error(`${this.version}: no definition ${path}`);
      this.cache.set(path, v);
    }
    return v;
  }

  // Returns undefined when `value` matches, else a short description.
  check(path, value) {
    const v = this.validator(path);
    if (v(value)) return undefined;
    return this.ajv.errorsText(v.errors.slice(0, 6), { dataVar: path });
  }
}

function escapePointer(token) {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}
