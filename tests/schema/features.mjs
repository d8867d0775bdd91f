// Scripts for the tools `mcpd serve --all-features` adds: confirm
// (elicitation), job (may run as a 2025-11-25 task) and log (log messages),
// plus the methods that go with them (logging/setLevel, tasks/*,
// subscriptions/listen). Each era gets its own script; what the server
// writes is validated by Conversation like everything else.
import {
  MODERN_META, INVALID_PARAMS, METHOD_NOT_FOUND, MISSING_CAPABILITY, answerFor,
} from './conversation.mjs';

// Log messages the server wrote so far whose data is `text`.
function logged(c, text) {
  return c.peer.lines.filter((l) => l.message?.method === 'notifications/message' && l.message.params?.data === text).length;
}

function sorted(object) {
  return Object.fromEntries(Object.entries(object ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}

export function resultText(reply) {
  return reply?.result?.content?.[0]?.text;
}

// Definitions each feature script must have provoked (Conversation.finish).
export function featureKinds(c) {
  if (c.modern) {
    return ['InputRequiredResult', 'InputRequest', 'ElicitRequest', 'MissingRequiredClientCapabilityError',
      'SubscriptionsAcknowledgedNotification', 'LoggingMessageNotification'];
  }
  const kinds = ['LoggingMessageNotification'];
  if (c.capabilities.elicitation) kinds.push('ElicitRequest');
  if (c.schema.has('CreateTaskResult')) {
    kinds.push('CreateTaskResult', 'GetTaskResult', 'ListTasksResult', 'CancelTaskResult', 'GetTaskPayloadResult',
      'TaskStatusNotification');
  }
  return kinds;
}

export async function handshakeFeatures(c) {
  // Only levels at or above the one logging/setLevel chose are sent. The
  // notification goes out before the call's result.
  await c.request('logging/setLevel', { level: 'debug' });
  await c.request('tools/call', { name: 'log', arguments: { text: 'at debug', level: 'debug' } });
  if (logged(c, 'at debug') !== 1) c.problem('log tool at level debug: no notifications/message before its result');
  await c.request('logging/setLevel', { level: 'error' });
  await c.request('logging/setLevel', { level: 'loud' }, { error: INVALID_PARAMS });
  await c.request('tools/call', { name: 'log', arguments: { text: 'below the level', level: 'warning' } });
  await c.request('tools/call', { name: 'log', arguments: { text: 'at the level', level: 'critical' } });
  if (logged(c, 'below the level') !== 0) c.problem('a warning was logged after logging/setLevel error');
  if (logged(c, 'at the level') !== 1) c.problem('a critical message was not logged after logging/setLevel error');

  // Elicitation: the server asks, the script accepts, the call finishes.
  if (c.capabilities.elicitation) {
    const reply = await c.request('tools/call', { name: 'confirm', arguments: { action: 'deploy' } });
    if (reply?.result && resultText(reply) !== 'confirmed: deploy') c.problem(`confirm answered ${JSON.stringify(reply.result)}`);
  } else {
    await c.request('tools/call', { name: 'confirm', arguments: { action: 'deploy' } }, { error: true });
  }

  if (c.schema.has('CreateTaskResult')) await tasks(c);
  else await noTasks(c);
}

// 2025-11-25 tasks: create, poll, list, fetch the result, cancel.
async function tasks(c) {
  const created = await c.request('tools/call', { name: 'job', arguments: { steps: 3, delay_ms: 20 }, task: { ttl: 60000 } },
    { resultType: 'CreateTaskResult' });
  const taskId = created?.result?.task?.taskId;
  if (typeof taskId !== 'string') {
    c.problem(`tools/call with task: no task id in ${JSON.stringify(created)}`);
    return;
  }
  const completed = c.peer.next((m) => m?.method === 'notifications/tasks/status' &&
    m.params?.taskId === taskId && m.params.status === 'completed');
  await c.request('tasks/get', { taskId });
  await c.request('tasks/list');
  const payload = await c.request('tasks/result', { taskId });
  if (payload?.result && resultText(payload) !== 'slow finished 3 steps') c.problem(`tasks/result gave ${JSON.stringify(payload.result)}`);
  if (!await completed) c.problem(`no notifications/tasks/status completed for task ${taskId}`);

  // A task cancelled while tasks/result waits on it.
  const long = await c.request('tools/call', { name: 'job', arguments: { steps: 50, delay_ms: 20 }, task: {} },
    { resultType: 'CreateTaskResult' });
  const longId = long?.result?.task?.taskId;
  if (typeof longId === 'string') {
    const waiting = c.request('tasks/result', { taskId: longId }, { either: true });
    const cancelled = await c.request('tasks/cancel', { taskId: longId });
    if (cancelled?.result && cancelled.result.status !== 'cancelled') c.problem(`tasks/cancel left status ${cancelled.result.status}`);
    await waiting;
    await c.request('tasks/cancel', { taskId: longId }, { error: INVALID_PARAMS });
    await c.request('tasks/get', { taskId: longId });
  }
  await c.request('tasks/get', { taskId: 'no-such-task' }, { error: INVALID_PARAMS });
  await c.request('tasks/result', { taskId: 'no-such-task' }, { error: INVALID_PARAMS });
  await c.request('tasks/cancel', { taskId: 'no-such-task' }, { error: INVALID_PARAMS });
  await c.request('tasks/list', { cursor: 'never-issued' }, { error: INVALID_PARAMS });
  // echo declares no task support.
  await c.request('tools/call', { name: 'echo', arguments: { text: 'x' }, task: {} }, { error: true });
}

// Before 2025-11-25 a task param means nothing: the call runs as usual.
async function noTasks(c) {
  const reply = await c.request('tools/call', { name: 'job', arguments: { steps: 2, delay_ms: 5 }, task: {} });
  if (reply?.result && 'task' in reply.result) c.problem(`${c.version} answered a task param with a task`);
  await c.request('tasks/get', { taskId: 'no-such-task' }, { error: METHOD_NOT_FOUND });
}

// Modern era: answers every input request of an input_required result the
// way the scripted client answers server requests, and retries with them
// and the echoed requestState. Returns the retry's reply (or undefined).
export async function answerAndRetry(c, method, params, first) {
  const asked = first?.result;
  if (asked?.resultType !== 'input_required') return undefined;
  const inputResponses = Object.fromEntries(Object.entries(asked.inputRequests ?? {}).map(([k, r]) => [k, answerFor(r.method)]));
  const retry = { ...params, inputResponses };
  if (asked.requestState !== undefined) retry.requestState = asked.requestState;
  return c.request(method, retry);
}

export async function modernFeatures(c) {
  const confirm = { name: 'confirm', arguments: { action: 'deploy' } };
  // A capability the request does not declare: -32021 with the one it needs.
  await c.request('tools/call', confirm, { meta: { [MODERN_META.clientCapabilities]: {} }, error: MISSING_CAPABILITY });

  // input_required, answered and retried with the echoed requestState.
  const first = await c.request('tools/call', confirm, { inputRequired: true });
  const done = await answerAndRetry(c, 'tools/call', confirm, first);
  if (done?.result && resultText(done) !== 'confirmed: deploy') c.problem(`confirm retry answered ${JSON.stringify(done.result)}`);
  await c.request('tools/call', { ...confirm, inputResponses: { confirm: answerFor('elicitation/create') }, requestState: 'forged' },
    { error: INVALID_PARAMS });

  // Log messages only when the request asks for a level.
  await c.request('tools/call', { name: 'log', arguments: { text: 'asked for', level: 'notice' } },
    { meta: { [MODERN_META.logLevel]: 'info' } });
  await c.request('tools/call', { name: 'log', arguments: { text: 'not asked for', level: 'emergency' } });
  await c.request('tools/call', { name: 'log', arguments: { text: 'below the level', level: 'debug' } },
    { meta: { [MODERN_META.logLevel]: 'info' } });
  if (logged(c, 'asked for') !== 1) c.problem('log with logLevel info: no notifications/message');
  if (logged(c, 'not asked for') + logged(c, 'below the level') !== 0) c.problem('log messages sent that no request asked for');

  // subscriptions/listen: acknowledged first; cancelled by the client, so no
  // result is due (one that comes anyway is still validated).
  const filter = { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true,
    resourceSubscriptions: ['mcpd://demo/readme'] };
  const listenId = c.nextId;
  const wire = listenId % 2 ? listenId : `req-${listenId}`;
  const acknowledged = c.peer.next((m) => m?.method === 'notifications/subscriptions/acknowledged' &&
    m.params?._meta?.[MODERN_META.subscriptionId] === wire);
  c.request('subscriptions/listen', { notifications: filter }, { optional: true, timeoutMs: 600 });
  const ack = await acknowledged;
  if (!ack) c.problem('subscriptions/listen: no acknowledgement');
  else if (JSON.stringify(sorted(ack.params.notifications)) !== JSON.stringify(sorted(filter))) {
    c.problem(`subscriptions/listen acknowledged ${JSON.stringify(ack.params.notifications)}, asked for ${JSON.stringify(filter)}`);
  }
  c.notify('notifications/cancelled', { requestId: wire });
  await c.request('subscriptions/listen', { notifications: { toolsListChanged: 'yes' } }, { error: INVALID_PARAMS });
  await c.request('subscriptions/listen', {}, { error: INVALID_PARAMS });

  // The handshake-era task param is ignored; tasks are the tasks extension's,
  // whose methods need the extension declared on the request (-32021), and
  // tasks/list and the handshake-era methods are gone.
  const reply = await c.request('tools/call', { name: 'job', arguments: { steps: 2, delay_ms: 5 }, task: {} });
  if (reply?.result && 'task' in reply.result) c.problem('2026-07-28 answered a task param with a task');
  await c.request('tasks/get', { taskId: 'x' }, { error: MISSING_CAPABILITY });
  for (const method of ['tasks/list', 'logging/setLevel', 'resources/subscribe']) {
    await c.request(method, { taskId: 'x', level: 'info', uri: 'mcpd://demo/readme' }, { error: METHOD_NOT_FOUND });
  }
}
