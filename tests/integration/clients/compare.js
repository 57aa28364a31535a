#!/usr/bin/env node
// Compares what send.js says it sent (one or more FILE.json) with what kafka_verify decoded from
// Kafka (its JSON summary), order-insensitively.
//
//   node compare.js [--allow-dup] [--max-report N] --actual VERIFY.json SENT.json [SENT2.json ...]
//
// --actual - reads the verifier's JSON from stdin. Several SENT files (runs of send.js against the
// same topic) are merged. --allow-dup accepts a span, data point or log record that arrived more
// than once (at-least-once delivery) as long as every copy is identical.
//
// Exit status: 0 equal, 1 a difference (each printed on stderr), 2 usage or unreadable input.
'use strict';

const fs = require('fs');

function usage(msg) {
  if (msg) process.stderr.write(`compare.js: ${msg}\n`);
  process.stderr.write('usage: node compare.js [--allow-dup] [--max-report N] '
    + '--actual VERIFY.json|- SENT.json [SENT2.json ...]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { actual: null, expected: [], allowDup: false, maxReport: 50 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--actual') {
      opts.actual = argv[++i];
    } else if (a === '--allow-dup') {
      opts.allowDup = true;
    } else if (a === '--max-report') {
      opts.maxReport = Number(argv[++i]);
      if (!Number.isInteger(opts.maxReport) || opts.maxReport < 1) usage('bad --max-report');
    } else if (a.startsWith('-')) {
      usage(`unknown argument ${a}`);
    } else {
      opts.expected.push(a);
    }
  }
  if (!opts.actual) usage('--actual is required');
  if (opts.expected.length === 0) usage('no SENT.json given');
  return opts;
}

function readJson(path) {
  try {
    return JSON.parse(fs.readFileSync(path === '-' ? 0 : path, 'utf8'));
  } catch (err) {
    process.stderr.write(`compare.js: ${path === '-' ? 'stdin' : path}: ${err.message}\n`);
    process.exit(2);
  }
}

// JSON with object keys sorted, so equal values print equally whatever the key order.
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const show = (v) => (v === undefined ? '(absent)' : canon(v));

class Report {
  constructor(max) {
    this.max = max;
    this.count = 0;
  }

  add(msg) {
    this.count++;
    if (this.count <= this.max) process.stderr.write(`compare.js: MISMATCH: ${msg}\n`);
  }

  // Reports every differing attribute key of two tagged attribute objects.
  attributes(where, exp, act) {
    const keys = new Set([...Object.keys(exp || {}), ...Object.keys(act || {})]);
    for (const k of [...keys].sort()) {
      const e = exp ? exp[k] : undefined;
      const a = act ? act[k] : undefined;
      if (canon(e) !== canon(a)) {
        this.add(`${where}: attribute ${JSON.stringify(k)}: expected ${show(e)}, got ${show(a)}`);
      }
    }
  }

  field(where, name, exp, act) {
    if (canon(exp) !== canon(act)) {
      this.add(`${where}: ${name}: expected ${show(exp)}, got ${show(act)}`);
    }
  }
}

function compareTraces(sent, actual, opts, report) {
  const expected = new Map(); // trace_id -> Map(span_id -> span)
  for (const file of sent) {
    for (const t of file.traces) {
      if (!expected.has(t.trace_id)) expected.set(t.trace_id, new Map());
      const spans = expected.get(t.trace_id);
      for (const s of t.spans) spans.set(s.span_id, { ...s, service: file.service });
    }
  }
  const got = new Map();
  for (const rec of actual.traces) {
    const where = `record partition ${rec.partition} offset ${rec.offset}`;
    if (rec.key !== rec.trace_id) {
      report.add(`${where}: key ${show(rec.key)} is not the trace id ${show(rec.trace_id)}`);
    }
    if (!got.has(rec.trace_id)) got.set(rec.trace_id, new Map());
    const spans = got.get(rec.trace_id);
    for (const s of rec.spans) {
      const prev = spans.get(s.span_id);
      if (prev !== undefined) {
        if (!opts.allowDup) {
          report.add(`trace ${rec.trace_id}: span ${s.span_id} (${s.name}) arrived more than once`);
        } else if (canon(prev) !== canon(s)) {
          report.add(`trace ${rec.trace_id}: span ${s.span_id} arrived twice, differently`);
        }
      }
      spans.set(s.span_id, s);
    }
  }
  let nSpans = 0;
  for (const [traceId, spans] of expected) {
    nSpans += spans.size;
    const gotSpans = got.get(traceId);
    if (!gotSpans) {
      report.add(`missing trace ${traceId} (${spans.size} spans)`);
      continue;
    }
    for (const [spanId, e] of spans) {
      const a = gotSpans.get(spanId);
      const where = `trace ${traceId} span ${spanId} (${e.name})`;
      if (!a) {
        report.add(`${where}: missing span`);
        continue;
      }
      for (const f of ['name', 'parent_span_id', 'kind', 'status', 'service']) {
        report.field(where, f, e[f], a[f]);
      }
      report.attributes(where, e.attributes, a.attributes);
    }
    for (const [spanId, a] of gotSpans) {
      if (!spans.has(spanId)) report.add(`trace ${traceId}: extra span ${spanId} (${a.name})`);
    }
  }
  for (const [traceId, spans] of got) {
    if (!expected.has(traceId)) report.add(`extra trace ${traceId} (${spans.size} spans)`);
  }
  return `${expected.size} traces, ${nSpans} spans`;
}

// Multiset matching: for each expected item, the actual items with the same identity (ident);
// an exact match is consumed first, otherwise the first candidate is reported field by field.
function matchItems(expItems, actItems, ident, describe, diff, opts, report) {
  const pool = new Map();
  for (const a of actItems) {
    const k = ident(a);
    if (!pool.has(k)) pool.set(k, []);
    pool.get(k).push(a);
  }
  for (const e of expItems) {
    const cands = pool.get(ident(e)) || [];
    if (cands.length === 0) {
      report.add(`missing ${describe(e)}`);
      continue;
    }
    let i = cands.findIndex((a) => canon(a) === canon(e));
    if (i < 0) {
      diff(e, cands[0]);
      i = 0;
    }
    const [taken] = cands.splice(i, 1);
    if (opts.allowDup) {
      // Identical copies of a matched item are redelivery, not extra data.
      for (let j = cands.length - 1; j >= 0; j--) {
        if (canon(cands[j]) === canon(taken)) cands.splice(j, 1);
      }
    }
  }
  for (const cands of pool.values()) {
    for (const a of cands) report.add(`extra ${describe(a)}`);
  }
}

function compareMetrics(sent, actual, opts, report) {
  const expected = [];
  const types = new Map();
  for (const file of sent) {
    for (const m of file.metrics) {
      types.set(m.name, m.type);
      for (const p of m.points) expected.push({ name: m.name, service: file.service, ...p });
    }
  }
  const got = [];
  for (const m of actual.metrics) {
    if (types.has(m.name)) report.field(`metric ${m.name}`, 'type', types.get(m.name), m.type);
    for (const p of m.points) got.push({ name: m.name, service: m.service, ...p });
  }
  const ident = (p) => `${p.name} ${canon(p.attributes)}`;
  const describe = (p) => `data point of ${p.name} with attributes ${canon(p.attributes)}`;
  const diff = (e, a) => {
    report.field(describe(e), 'value', e.value, a.value);
    report.field(describe(e), 'service', e.service, a.service);
  };
  matchItems(expected, got, ident, describe, diff, opts, report);
  return `${types.size} metrics, ${expected.length} data points`;
}

function compareLogs(sent, actual, opts, report) {
  const pick = (l, service) => ({
    body: l.body,
    severity_number: l.severity_number,
    attributes: l.attributes,
    trace_id: l.trace_id,
    span_id: l.span_id,
    service,
  });
  const expected = [];
  for (const file of sent) for (const l of file.logs) expected.push(pick(l, file.service));
  const got = actual.logs.map((l) => pick(l, l.service));
  const ident = (l) => canon(l.body);
  const describe = (l) => `log record with body ${canon(l.body)}`;
  const diff = (e, a) => {
    for (const f of ['severity_number', 'trace_id', 'span_id', 'service']) {
      report.field(describe(e), f, e[f], a[f]);
    }
    report.attributes(describe(e), e.attributes, a.attributes);
  };
  matchItems(expected, got, ident, describe, diff, opts, report);
  return `${expected.length} log records`;
}

function main() {
  const opts = parseArgs(process.argv);
  const actual = readJson(opts.actual);
  const sent = opts.expected.map(readJson);
  const report = new Report(opts.maxReport);
  const signal = sent[0].signal;

  for (let i = 0; i < sent.length; i++) {
    if (sent[i].signal !== signal) usage(`${opts.expected[i]} is ${sent[i].signal}, not ${signal}`);
    if (sent[i].ok === false) {
      process.stderr.write(`compare.js: warning: ${opts.expected[i]}: send.js reported a failed `
        + 'export; what it lists may not all have been accepted\n');
    }
  }
  if (actual.signal !== signal) usage(`verifier output is ${actual.signal}, sent is ${signal}`);
  for (const e of actual.errors || []) report.add(`kafka_verify: ${e}`);
  if ((actual.error_count || 0) > (actual.errors || []).length) {
    report.add(`kafka_verify: ${actual.error_count - actual.errors.length} more errors`);
  }

  const compare = { traces: compareTraces, metrics: compareMetrics, logs: compareLogs }[signal];
  const what = compare(sent, actual, opts, report);
  if (report.count > report.max) {
    process.stderr.write(`compare.js: ... ${report.count - report.max} more differences\n`);
  }
  if (report.count > 0) {
    process.stderr.write(`compare.js: FAIL: ${signal}: ${report.count} differences (sent ${what}, `
      + `${actual.records} records in Kafka)\n`);
    process.exit(1);
  }
  process.stderr.write(`compare.js: OK: ${signal}: ${what} match ${actual.records} records\n`);
}

main();
