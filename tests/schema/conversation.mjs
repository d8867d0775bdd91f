// One scripted conversation with `mcpd serve --stdio` and the checks run on
// everything it wrote back. Every request records what it expects (a result
// of the method's type, an error with a given code, or either); after the
// server exits, every stdout line is validated against the schema of the
// version the conversation speaks and matched back to the request it answers.
import { Peer } from './peer.mjs';

export const EXTRA_TOOLS = 60;
// Tools `mcpd serve --all-features` adds: confirm, job, log.
export const FEATURE_TOOLS = 3;

export const MODERN_META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
};

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const RESOURCE_NOT_FOUND = -32002;
export const UNSUPPORTED_VERSION = -32022;
export const HEADER_MISMATCH = -32020;
export const MISSING_CAPABILITY = -32021;

// The result type each method's response must satisfy.
const RESULT_TYPES = {
  'initialize': 'InitializeResult',
  'server/discover': 'DiscoverResult',
  'ping': 'EmptyResult',
  'tools/list': 'ListToolsResult',
  'tools/call': 'CallToolResult',
  'resources/list': 'ListResourcesResult',
  'resources/templates/list': 'ListResourceTemplatesResult',
  'resources/read': 'ReadResourceResult',
  'resources/subscribe': 'EmptyResult',
  'resources/unsubscribe': 'EmptyResult',
  'prompts/list': 'ListPromptsResult',
  'prompts/get': 'GetPromptResult',
  'completion/complete': 'CompleteResult',
  'logging/setLevel': 'EmptyResult',
  'tasks/get': 'GetTaskResult',
  'tasks/list': 'ListTasksResult',
  'tasks/cancel': 'CancelTaskResult',
  // tasks/result answers with the result type of the task's request (all
  // of ours are tools/call); GetTaskPayloadResult is checked as well.
  'tasks/result': 'CallToolResult',
  'subscriptions/listen': 'SubscriptionsListenResult',
};

const NOTIFICATION_TYPES = {
  'notifications/progress': 'ProgressNotification',
  'notifications/cancelled': 'CancelledNotification',
  'notifications/message': 'LoggingMessageNotification',
  'notifications/resources/updated': 'ResourceUpdatedNotification',
  'notifications/resources/list_changed': 'ResourceListChangedNotification',
  'notifications/tools/list_changed': 'ToolListChangedNotification',
  'notifications/prompts/list_changed': 'PromptListChangedNotification',
  'notifications/tasks/status': 'TaskStatusNotification',
  'notifications/subscriptions/acknowledged': 'SubscriptionsAcknowledgedNotification',
  'notifications/elicitation/complete': 'ElicitationCompleteNotification',
};

// Requests a server may send to its client, the capability each needs
// (null: none), and the answer this scripted client gives.
const SERVER_REQUESTS = {
  'ping': { type: 'PingRequest', capability: null, answer: () => ({}) },
  'elicitation/create': {
    type: 'ElicitRequest', capability: 'elicitation',
    answer: () => ({ action: 'accept', content: { confirm: true } }),
  },
  'sampling/createMessage': {
    type: 'CreateMessageRequest', capability: 'sampling',
    answer: () => ({ role: 'assistant', content: { type: 'text', text: 'sampled by the schema test' }, model: 'schema-test' }),
  },
  'roots/list': {
    type: 'ListRootsRequest', capability: 'roots',
    answer: () => ({ roots: [{ uri: 'file:///schema-test/root', name: 'root' }] }),
  },
};

// The answer the scripted client gives to one server-to-client request
// (handshake era) or input request (modern era), as a result object.
export function answerFor(method) {
  return SERVER_REQUESTS[method]?.answer();
}

// 2026-07-28 names error objects by code; some are whole messages.
const MODERN_ERROR_OBJECTS = {
  [PARSE_ERROR]: 'ParseError',
  [INVALID_REQUEST]: 'InvalidRequestError',
  [METHOD_NOT_FOUND]: 'MethodNotFoundError',
  [INVALID_PARAMS]: 'InvalidParamsError',
  [-32603]: 'InternalError',
};
// -32020 (HeaderMismatchError) compares HTTP headers with the body; stdio
// has no headers, so no stdio conversation can provoke it. It stays here so
// that one, should it ever appear, is still checked as what it claims to be.
const MODERN_ERROR_MESSAGES = {
  [UNSUPPORTED_VERSION]: 'UnsupportedProtocolVersionError',
  [MISSING_CAPABILITY]: 'MissingRequiredClientCapabilityError',
  [HEADER_MISMATCH]: 'HeaderMismatchError',
};

export class Conversation {
  // command: { bin, args } of the server; capabilities: what this client
  // declares (initialize in the handshake era, _meta in the modern one);
  // known: problems this conversation is known to find, each
  // { pattern: RegExp, why } (see finish()).
  constructor({ bin, args, version, schema, modern, capabilities = {}, known = [] }) {
    this.version = version;
    this.schema = schema;
    this.modern = modern;
    this.capabilities = capabilities;
    this.known = known;
    this.peer = new Peer(bin, args ?? ['serve', '--stdio', '--extra-tools', String(EXTRA_TOOLS)]);
    this.nextId = 1;
    this.expectations = new Map(); // reply object -> expectation
    this.problems = [];
    this.progressTokens = new Set();
    this.inflight = [];
    this.seen = new Set(); // schema definitions that matched some message
    // Server-to-client requests are answered as they come, so that the
    // calls waiting on them can finish; validateAll checks them afterwards.
    this.peer.onRequest = (m) => this.answerServerRequest(m);
  }

  answerServerRequest(m) {
    const result = this.modern ? undefined : answerFor(m.method);
    if (result) this.peer.send({ jsonrpc: '2.0', id: m.id, result });
    else this.peer.send({ jsonrpc: '2.0', id: m.id, error: { code: METHOD_NOT_FOUND, message: `the schema test does not take ${m.method}` } });
  }

  problem(text) {
    this.problems.push(text);
  }

  envelope(extra) {
    const meta = { ...extra };
    if (this.modern) {
      meta[MODERN_META.protocolVersion] = this.version;
      meta[MODERN_META.clientInfo] = { name: 'mcpd-schema-test', version: '1.0.0' };
      meta[MODERN_META.clientCapabilities] = this.capabilities;
      Object.assign(meta, extra);
    }
    return meta;
  }

  // Sends a request and waits for its reply. expect: { error: code | [codes] | true,
  // either: codes accepted besides a result, optional: may go unanswered,
  // meta: extra _meta keys, bare: send params exactly as given }.
  async request(method, params, expect = {}) {
    if (params === undefined && !expect.bare) params = {};
    // Alternate integer and string ids: both are RequestIds.
    const n = this.nextId++;
    const id = n % 2 ? n : `req-${n}`;
    let sent = params;
    if (!expect.bare) {
      const meta = this.envelope(expect.meta);
      if (Object.keys(meta).length) sent = { ...params, _meta: { ...meta, ...params._meta } };
    }
    const message = { jsonrpc: '2.0', id, method };
    if (sent !== undefined) message.params = sent;
    const reply = this.peer.reply(id, expect.timeoutMs);
    this.peer.send(message);
    const settled = reply.then((m) => this.settle(m, { method, id, ...expect }));
    this.inflight.push(settled);
    return settled;
  }

  // A request with the era's envelope, for tests that write it themselves.
  message(id, method, params = {}) {
    const meta = this.envelope();
    return { jsonrpc: '2.0', id, method, params: Object.keys(meta).length ? { ...params, _meta: meta } : params };
  }

  // Waits for the reply whose raw line carries `"id":<idText>` (ids too
  // large for a double must come back byte for byte).
  async expectRaw(idText, method, expect = {}) {
    const reply = await this.peer.next((m, raw) => m && !('method' in m) &&
      raw.replace(/\s/g, '').includes(`"id":${idText}`), expect.timeoutMs);
    return this.settle(reply, { method, id: idText, ...expect });
  }

  // Sends a raw line that is not a well-formed request; the answer may carry
  // the id (when one could be read) or null.
  async raw(text, id, expect) {
    const reply = this.peer.next((m) => m && !Array.isArray(m) && !('method' in m) &&
      (m.id === null || m.id === undefined || (id !== undefined && m.id === id)));
    this.peer.writeRaw(text);
    return this.settle(await reply, { method: `(raw ${JSON.stringify(text).slice(0, 40)})`, id, ...expect });
  }

  settle(reply, expectation) {
    if (reply) this.expectations.set(reply, expectation);
    else if (!expectation.optional) this.problem(`${expectation.method} (id ${expectation.id}): no reply within 5 s`);
    return reply;
  }

  notify(method, params = {}) {
    this.peer.send({ jsonrpc: '2.0', method, params: this.modern ? { ...params, _meta: this.envelope() } : params });
  }

  // ---- validation of everything the server wrote ----------------------------
  validateAll() {
    const counts = { responses: 0, errors: 0, notifications: 0, 'server requests': 0, batches: 0 };
    const answered = new Set();
    this.listens = new Set(); // subscription ids acknowledged so far
    this.peer.lines.forEach((line, index) => {
      const where = `stdout line ${index + 1}`;
      if (line.parseError) {
        this.problem(`${where} is not JSON (${line.parseError}): ${line.raw.slice(0, 160)}`);
        return;
      }
      const m = line.message;
      if (Array.isArray(m)) {
        counts.batches++;
        this.validateBatch(m, where, answered, counts);
        return;
      }
      if (m && typeof m === 'object' && 'method' in m) {
        if ('id' in m) {
          counts['server requests']++;
          this.validateServerRequest(m, where);
          return;
        }
        counts.notifications++;
        this.validateNotification(m, where);
        return;
      }
      this.validateResponse(m, where, this.expectations.get(m), answered, counts);
    });
    return counts;
  }

  // A request from the server: a kind this version defines, to a client
  // that declared the capability it needs.
  validateServerRequest(m, where) {
    where = `${where} (server request ${m.method})`;
    this.check('JSONRPCRequest', m, where);
    if (!this.schema.has('ServerRequest')) {
      this.problem(`${where}: ${this.version} has no server-to-client requests (no ServerRequest in its schema)`);
      return;
    }
    const kind = SERVER_REQUESTS[m.method];
    if (!kind) {
      this.problem(`${where}: not a request kind this test knows`);
    } else if (!this.schema.has(kind.type)) {
      this.problem(`${where}: ${this.version} has no ${kind.type}: the method does not exist in this version`);
      return;
    } else {
      if (!this.check(kind.type, m, where)) return;
      if (kind.capability && !this.capabilities[kind.capability]) {
        this.problem(`${where}: the client did not declare the ${kind.capability} capability`);
      }
    }
    this.check('ServerRequest', m, where);
  }

  validateBatch(batch, where, answered, counts) {
    if (!this.schema.has('JSONRPCBatchResponse')) {
      this.problem(`${where}: a JSON array, but ${this.version} has no batches`);
      return;
    }
    // Members answering an unreadable request carry "id": null, which the
    // schema's RequestId does not allow (see validateError); those are
    // checked one by one instead of through JSONRPCBatchResponse.
    if (!batch.some((m) => m?.id === null)) this.check('JSONRPCBatchResponse', batch, where);
    const expectation = this.expectations.get(batch);
    if (!expectation) this.problem(`${where}: batch response nobody asked for`);
    for (const [i, m] of batch.entries()) {
      const member = m?.id === null
        ? { method: '(unreadable batch member)', id: null, error: INVALID_REQUEST }
        : expectation?.members?.get(JSON.stringify(m?.id));
      this.validateResponse(m, `${where}[${i}]`, member, answered, counts);
    }
    if (expectation && batch.length !== expectation.size) {
      this.problem(`${where}: batch of ${expectation.size} requests answered with ${batch.length} responses`);
    }
  }

  validateNotification(m, where) {
    this.check('JSONRPCNotification', m, where);
    // The specific type first: ajv's report for a failed anyOf lists every
    // branch, which hides the one that matters.
    const type = NOTIFICATION_TYPES[m.method];
    if (!type) {
      this.problem(`${where}: notification ${m.method} is not a kind this test knows`);
    } else if (!this.schema.has(type)) {
      this.problem(`${where}: ${this.version} has no ${type}: ${m.method} does not exist in this version`);
      return;
    } else if (!this.check(type, m, where)) {
      return;
    }
    this.check('ServerNotification', m, where);
    if (m.method === 'notifications/progress' && !this.progressTokens.has(JSON.stringify(m.params?.progressToken))) {
      this.problem(`${where}: progress for token ${JSON.stringify(m.params?.progressToken)}, which no request carried`);
    }
    // Modern era: a notification that names a subscription must follow
    // that subscription's acknowledgement.
    const subscription = m.params?._meta?.[MODERN_META.subscriptionId];
    if (this.modern && subscription !== undefined) {
      const key = JSON.stringify(subscription);
      if (m.method === 'notifications/subscriptions/acknowledged') this.listens.add(key);
      else if (!this.listens.has(key)) this.problem(`${where}: ${m.method} for subscription ${key} before its acknowledgement`);
    }
  }

  validateResponse(m, where, expectation, answered, counts) {
    const isError = m && typeof m === 'object' && 'error' in m;
    if (isError) counts.errors++;
    else counts.responses++;
    if (!expectation) {
      this.problem(`${where}: response ${JSON.stringify(m).slice(0, 160)} answers no request`);
      return;
    }
    const label = `${where} (${expectation.method}, ${expectation.note ?? `id ${JSON.stringify(expectation.id)}`})`;
    if (answered.has(expectation)) this.problem(`${label}: answered twice`);
    answered.add(expectation);

    if (isError) {
      this.validateError(m, label, expectation);
      return;
    }
    this.check(this.schema.has('JSONRPCResultResponse') ? 'JSONRPCResultResponse' : 'JSONRPCResponse', m, label);
    if (expectation.error) {
      this.problem(`${label}: expected error ${expectation.error}, got result ${JSON.stringify(m.result).slice(0, 200)}`);
      return;
    }
    if (m.result?.resultType === 'input_required') {
      this.validateInputRequired(m, label, expectation);
      return;
    }
    if (expectation.inputRequired) {
      this.problem(`${label}: expected an input_required result, got ${JSON.stringify(m.result).slice(0, 200)}`);
    }
    const type = expectation.resultType ?? RESULT_TYPES[expectation.method];
    if (!type) {
      this.problem(`${label}: a result for a method whose result type this test does not know`);
    } else if (!this.schema.has(type)) {
      this.problem(`${label}: ${this.version} has no ${type}, yet ${expectation.method} was answered with a result`);
    } else {
      this.check(type, m.result, `${label} result`);
      if (this.schema.has(`${type}Response`)) this.check(`${type}Response`, m, label);
    }
    if (expectation.method === 'tasks/result') this.check('GetTaskPayloadResult', m.result, `${label} result`);
    if (expectation.isError !== undefined && m.result?.isError !== expectation.isError) {
      this.problem(`${label}: isError ${m.result?.isError}, expected ${expectation.isError}`);
    }
  }

  // Modern era: the server needs the client first. Every input request is
  // one of the kinds InputRequest allows, for a capability the client
  // declared on this request.
  validateInputRequired(m, label, expectation) {
    if (!this.schema.has('InputRequiredResult')) {
      this.problem(`${label}: resultType input_required, which ${this.version} does not have`);
      return;
    }
    this.check('InputRequiredResult', m.result, `${label} result`);
    if (!expectation.inputRequired && !expectation.either) {
      this.problem(`${label}: unexpected input_required result ${JSON.stringify(m.result).slice(0, 200)}`);
    }
    const declared = expectation.meta?.[MODERN_META.clientCapabilities] ?? this.capabilities;
    for (const [key, request] of Object.entries(m.result.inputRequests ?? {})) {
      const where = `${label} inputRequests.${key}`;
      const kind = SERVER_REQUESTS[request?.method];
      if (!kind || kind.capability === null) {
        this.problem(`${where}: ${request?.method} is not an input request kind`);
        continue;
      }
      if (this.check(kind.type, request, where)) this.check('InputRequest', request, where);
      if (!declared[kind.capability]) this.problem(`${where}: the request declared no ${kind.capability} capability`);
    }
  }

  validateError(m, label, expectation) {
    const envelope = this.schema.has('JSONRPCErrorResponse') ? 'JSONRPCErrorResponse' : 'JSONRPCError';
    const errorObject = this.schema.has('Error') ? 'Error' : 'JSONRPCError/properties/error';
    if (m.id === null) {
      // JSON-RPC 2.0 answers a request whose id could not be read with
      // "id": null; the MCP schemas type RequestId as string|integer, so
      // such a reply is checked without its id.
      const { id, ...rest } = m;
      if (this.schema.validator(envelope).schema.required?.includes('id')) {
        this.check(errorObject, m.error, `${label} error`);
        if (rest.jsonrpc !== '2.0') this.problem(`${label}: jsonrpc is ${JSON.stringify(rest.jsonrpc)}`);
      } else {
        this.check(envelope, rest, label);
      }
    } else {
      this.check(envelope, m, label);
    }
    const code = m.error?.code;
    if (this.modern && MODERN_ERROR_OBJECTS[code]) this.check(MODERN_ERROR_OBJECTS[code], m.error, `${label} error`);
    if (this.modern && MODERN_ERROR_MESSAGES[code] && m.id !== null) this.check(MODERN_ERROR_MESSAGES[code], m, label);

    // error / either: a code, a list of codes, or true for any code.
    const allowed = expectation.error ?? expectation.either;
    if (allowed === undefined) {
      this.problem(`${label}: expected a result, got error ${code} ${JSON.stringify(m.error?.message)}`);
    } else if (allowed !== true && ![].concat(allowed).includes(code)) {
      this.problem(`${label}: error code ${code} (${JSON.stringify(m.error?.message)}), expected ${[].concat(allowed).join(' or ')}`);
    }
    if (typeof m.error?.message !== 'string' || m.error.message.length === 0) {
      this.problem(`${label}: error without a message`);
    }
  }

  // Records a problem unless `value` is a valid `path`; returns whether it was.
  check(path, value, where) {
    const problem = this.schema.check(path, value);
    if (!problem) this.seen.add(path);
    if (problem) this.problem(`${where}: not a valid ${path}: ${problem} -- ${JSON.stringify(value).slice(0, 240)}`);
    return !problem;
  }

  // mustSee: definitions some message of this conversation must have
  // matched, so that a script that stops provoking a kind is noticed.
  // Problems matching a `known` entry are set apart (reported, not failed),
  // and a known entry that matched nothing is itself a problem: the list
  // must shrink when the server is fixed.
  async finish(mustSee = []) {
    const exit = await this.peer.close();
    await Promise.all(this.inflight);
    if (exit.code !== 0) {
      this.problem(`mcpd did not exit cleanly at end of input: ${exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`}`);
    }
    const counts = this.validateAll();
    for (const name of mustSee) {
      if (!this.schema.has(name)) this.problem(`the script expects a ${name}, which ${this.version} does not define`);
      else if (!this.seen.has(name)) this.problem(`no message matched ${name}, which this conversation is meant to provoke`);
    }
    const known = [];
    for (const entry of this.known) {
      const hits = this.problems.filter((p) => entry.pattern.test(p));
      if (hits.length === 0) {
        this.problem(`known problem no longer seen (${entry.why}); remove it from the known list`);
        continue;
      }
      this.problems = this.problems.filter((p) => !entry.pattern.test(p));
      known.push(...hits.map((p) => `${entry.why}: ${p}`));
    }
    return { problems: this.problems, known, counts, lines: this.peer.lines.length, stderr: this.peer.stderr };
  }
}
