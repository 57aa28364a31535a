#!/usr/bin/env node
// Sends traces for the tail-sampling test with the official OpenTelemetry JS SDK and exporters:
// every trace has a root and three children, and its four spans go out through four different
// exporters (two OTLP/HTTP protobuf, two OTLP/gRPC, each its own connection), half of them
// --gap-ms later than the others, so that a trace's spans reach different workers at different
// times. Traces come in kinds that the policies of test_tail_sampling.sh keep or drop:
//
//   error     a child has status ERROR                       kept (status_code)
//   slow      the root lasts 1.5 s                           kept (latency 1000 ms)
//   gold      a child has tenant=gold                        kept (string_attribute)
//   route     a child has http.route=/api/v2/pay             kept (string_attribute regex)
//   retries   a child has retries=5                          kept (numeric_attribute 3..10)
//   debug     a child has debug=true                         kept (boolean_attribute)
//   synthetic an ERROR child and synthetic=true              dropped (drop policy)
//   plain     nothing of the above (retries=1, tenant=free)  dropped
//   bulk      bulk=true                                      rate-limited (checked by count)
//
// After --late-ms, one more span of the first two `error` and `plain` traces is sent (late
// spans: the decision cache keeps the first ones and drops the others).
//
//   node tail.js --http URL --grpc URL --per-kind N --bulk B --gap-ms G --late-ms L
//                --expected FILE.json --bulk-ids FILE.txt
//
// FILE.json is what must reach Kafka (send.js's shape, for compare.js) apart from the bulk
// traces, whose ids go to FILE.txt. Exit status 0 when every export succeeded.
'use strict';

const fs = require('fs');
const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');
const {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-base');
const send = require('./send.js');

const KEPT = new Set(['error', 'slow', 'gold', 'route', 'retries', 'debug']);
const KINDS = ['error', 'slow', 'gold', 'route', 'retries', 'debug', 'synthetic', 'plain'];

function args(argv) {
  const o = { perKind: 6, bulk: 12, gapMs: 300, lateMs: 2500, seed: 11 };
  for (let i = 2; i < argv.length; i += 2) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--http': o.http = v; break;
      case '--grpc': o.grpc = v; break;
      case '--per-kind': o.perKind = Number(v); break;
      case '--bulk': o.bulk = Number(v); break;
      case '--gap-ms': o.gapMs = Number(v); break;
      case '--late-ms': o.lateMs = Number(v); break;
      case '--seed': o.seed = Number(v); break;
      case '--expected': o.expected = v; break;
      case '--bulk-ids': o.bulkIds = v; break;
      default:
        process.stderr.write(`tail.js: unknown argument ${argv[i]}\n`);
        process.exit(2);
    }
  }
  if (!o.http || !o.grpc || !o.expected || !o.bulkIds) {
    process.stderr.write('tail.js: --http, --grpc, --expected and --bulk-ids are required\n');
    process.exit(2);
  }
  return o;
}

function childAttrs(kind, t) {
  const a = { 'test.trace_index': t, retries: 1, tenant: 'free' };
  if (kind === 'gold') a.tenant = 'gold';
  if (kind === 'route') a['http.route'] = '/api/v2/pay';
  if (kind === 'retries') a.retries = 5;
  if (kind === 'debug') a.debug = true;
  if (kind === 'synthetic') a.synthetic = true;
  if (kind === 'bulk') a.bulk = true;
  return a;
}

function toJson(s) {
  return {
    span_id: s.spanContext().spanId,
    parent_span_id: s.parentSpanContext ? s.parentSpanContext.spanId : '',
    name: s.name,
    kind: send.KIND_NAME.get(s.kind),
    status: { code: send.STATUS_NAME[s.status.code], message: s.status.message || '' },
    attributes: send.tagAttributes(s.attributes),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const o = args(process.argv);
  const rng = send.makeRng(o.seed);
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'tail-test' }),
    idGenerator: send.makeIdGenerator(rng),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('linerate-tail', '1.0.0');
  const now = Date.now();
  const traces = []; // {kind, spans: [root, c1, c2, c3], late: span|null, ctx}
  const kinds = [];
  for (const k of KINDS) for (let i = 0; i < o.perKind; i++) kinds.push(k);
  for (let i = 0; i < o.bulk; i++) kinds.push('bulk');
  kinds.forEach((kind, t) => {
    const start = now - 2000;
    const rootEnd = start + (kind === 'slow' ? 1500 : 40);
    const root = tracer.startSpan(`root-${kind}-${t}`, { kind: api.SpanKind.SERVER, startTime: start,
      attributes: { 'test.trace_index': t } });
    const ctx = api.trace.setSpan(api.ROOT_CONTEXT, root);
    const spans = [root];
    for (let c = 1; c <= 3; c++) {
      const child = tracer.startSpan(`child-${kind}-${t}-${c}`, { startTime: start + c,
        attributes: c === 2 ? childAttrs(kind, t) : { 'test.trace_index': t } }, ctx);
      if (c === 3 && (kind === 'error' || kind === 'synthetic')) {
        child.setStatus({ code: api.SpanStatusCode.ERROR, message: `failed ${t}` });
      }
      child.end(start + c + 10);
      spans.push(child);
    }
    root.end(rootEnd);
    traces.push({ kind, ctx, t, start });
  });
  // The SDK hands finished spans over in end order: group them back by trace.
  const byTrace = new Map();
  for (const s of memory.getFinishedSpans()) {
    const id = s.spanContext().traceId;
    if (!byTrace.has(id)) byTrace.set(id, []);
    byTrace.get(id).push(s);
  }
  memory.reset();
  traces.forEach((tr) => {
    tr.id = api.trace.getSpan(tr.ctx).spanContext().traceId;
    tr.spans = byTrace.get(tr.id);
  });
  // Late spans: one more child of the first two error and plain traces.
  const late = [];
  for (const kind of ['error', 'plain']) {
    for (const tr of traces.filter((x) => x.kind === kind).slice(0, 2)) {
      const s = tracer.startSpan(`late-${kind}-${tr.t}`, { startTime: tr.start + 5,
        attributes: { 'test.trace_index': tr.t, late: true } }, tr.ctx);
      s.end(tr.start + 6);
      late.push(tr);
    }
  }
  for (const s of memory.getFinishedSpans()) {
    const tr = traces.find((x) => x.id === s.spanContext().traceId);
    tr.late = s;
  }
  await provider.shutdown();

  const exporters = [
    send.makeExporter({ signal: 'traces', protocol: 'http/protobuf', url: o.http, timeoutMs: 10000, concurrency: 1 }),
    send.makeExporter({ signal: 'traces', protocol: 'grpc', url: o.grpc, timeoutMs: 10000, concurrency: 1 }),
    send.makeExporter({ signal: 'traces', protocol: 'http/protobuf', url: o.http, timeoutMs: 10000, concurrency: 1 }),
    send.makeExporter({ signal: 'traces', protocol: 'grpc', url: o.grpc, timeoutMs: 10000, concurrency: 1 }),
  ];
  const results = [];
  const exportAll = async (which) => {
    const per = exporters.map(() => []);
    for (const tr of traces) for (const i of which) per[i].push(tr.spans[i]);
    const rs = await Promise.all(which.map((i) => send.exportOnce(exporters[i], per[i])));
    results.push(...rs);
  };
  // Spans 0 and 1 of every trace first, 2 and 3 a little later, all within the decision wait.
  await exportAll([0, 1]);
  await sleep(o.gapMs);
  await exportAll([2, 3]);
  await sleep(o.lateMs);
  results.push(await send.exportOnce(exporters[1], late.map((tr) => tr.late)));
  for (const e of exporters) await e.shutdown();

  const expected = traces.filter((tr) => KEPT.has(tr.kind)).map((tr) => ({
    trace_id: tr.id,
    spans: tr.spans.concat(tr.late ? [tr.late] : []).map(toJson),
  }));
  fs.writeFileSync(o.expected, JSON.stringify({ signal: 'traces', service: 'tail-test', traces: expected }) + '\n');
  fs.writeFileSync(o.bulkIds,
    traces.filter((tr) => tr.kind === 'bulk').map((tr) => tr.id).join('\n') + '\n');
  const failed = results.filter((r) => r.code !== 0);
  for (const r of failed.slice(0, 5)) process.stderr.write(`tail.js: export failed: ${r.error}\n`);
  const spans = expected.reduce((n, t) => n + t.spans.length, 0);
  process.stdout.write(`${expected.length} ${spans}\n`);
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`tail.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
