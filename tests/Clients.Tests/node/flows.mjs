// The openai npm package against the relay, as a Node application would use it; run by NodeClientTests.
//   node flows.mjs relay   — RELAY_URL, KEY, EXHAUSTED_KEY, EMPTY_WALLET_KEY from the environment: chat, stream,
//                            embeddings, models, and the 429 / 403 refusals (attempts counted through a wrapped fetch)
//   node flows.mjs retry   — what the SDK does on a 429 with and without Retry-After / x-should-retry, against a stub
//   node flows.mjs anthropic — the @anthropic-ai/sdk package: RELAY_ROOT (no /v1), KEY, LIMITED_KEY (one request a
//                            day): messages.create, a stream, and the 429 that follows (Anthropic's error shape)
// Prints one JSON object; exits 1 when a check fails.
import http from 'node:http';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { VERSION } from 'openai/version';

const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

function countingFetch() {
  const counter = { attempts: 0 };
  counter.fetch = (...args) => { counter.attempts++; return fetch(...args); };
  return counter;
}

async function refusal(client, counter, model) {
  counter.attempts = 0;
  const started = Date.now();
  try {
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    return { status: 200 };
  } catch (error) {
    return {
      status: error.status, code: error.code, attempts: counter.attempts, ms: Date.now() - started,
      retryAfter: error.headers?.get('retry-after') ?? null, shouldRetry: error.headers?.get('x-should-retry') ?? null,
    };
  }
}

async function relay() {
  const base = process.env.RELAY_URL;
  const make = (key) => { const counter = countingFetch(); return [new OpenAI({ apiKey: key, baseURL: base, fetch: counter.fetch, timeout: 10_000 }), counter]; };
  const [client] = make(process.env.KEY);
  const result = {};

  const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 7, messages: [{ role: 'user', content: 'Say something nice please' }] });
  result.chat = { text: chat.choices[0].message.content, usage: chat.usage };
  check(chat.choices[0].message.content.startsWith('This is a deterministic'), 'chat text');
  check(chat.usage?.completion_tokens === 7 && chat.usage?.prompt_tokens > 0, 'chat usage');

  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Say something nice please' }] });
  let text = ''; let usage = null;
  for await (const chunk of stream) { text += chunk.choices[0]?.delta?.content ?? ''; usage = chunk.usage ?? usage; }
  result.stream = { text, usage };
  check(text === 'This is a deterministic reply', 'stream text');
  check(usage?.completion_tokens === 5, 'stream usage');

  const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'a sentence worth embedding' });
  result.embedding = Array.from(embedding.data[0].embedding).map((v) => Math.round(v * 1000) / 1000);
  check(result.embedding.join(',') === '0.1,0.2,0.3,0.4', 'embedding vector');

  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  result.models = models;
  check(models.includes('gpt-4o-mini'), 'models list');

  const [exhausted, exhaustedCounter] = make(process.env.EXHAUSTED_KEY);
  result.exhausted = await refusal(exhausted, exhaustedCounter, 'demo-per-call');
  check(result.exhausted.status === 429 && result.exhausted.code === 'token_quota_policy_exhausted', 'exhausted: 429 token_quota_policy_exhausted');
  check(result.exhausted.attempts === 1, 'exhausted: not retried (x-should-retry: false)');

  const [poor, poorCounter] = make(process.env.EMPTY_WALLET_KEY);
  result.emptyWallet = await refusal(poor, poorCounter, 'demo-per-call');
  check(result.emptyWallet.status === 403 && result.emptyWallet.code === 'insufficient_user_quota', 'empty wallet: 403 insufficient_user_quota');
  check(result.emptyWallet.attempts === 1, 'empty wallet: not retried');
  return result;
}

async function retry() {
  let headers = {};
  const server = http.createServer((request, response) => {
    request.resume();
    response.writeHead(429, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify({ error: { message: 'exhausted', type: 'quota_error', param: null, code: 'token_quota_policy_exhausted' } }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const counter = countingFetch();
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${server.address().port}/v1`, fetch: counter.fetch, timeout: 10_000 });
  const cases = { none: {}, shouldRetryFalse: { 'x-should-retry': 'false' }, farRetryAfter: { 'retry-after': '86095' }, shortRetryAfter: { 'retry-after': '1' } };
  const result = {};
  for (const [name, caseHeaders] of Object.entries(cases)) {
    headers = caseHeaders;
    result[name] = await refusal(client, counter, 'm');
  }
  server.close();
  check(result.none.attempts === 3, 'no header: 1 + 2 retries');
  check(result.shouldRetryFalse.attempts === 1, 'x-should-retry: false: no retry');
  check(result.farRetryAfter.attempts === 3 && result.farRetryAfter.ms < 10_000, 'Retry-After above 60 s: ignored, own backoff');
  check(result.shortRetryAfter.attempts === 3 && result.shortRetryAfter.ms >= 2_000, 'Retry-After: 1 honoured before each retry');
  return result;
}

async function anthropic() {
  const client = new Anthropic({ apiKey: process.env.KEY, baseURL: process.env.RELAY_ROOT, maxRetries: 0, timeout: 10_000 });
  const ask = { model: 'claude-test', max_tokens: 7, messages: [{ role: 'user', content: 'Say something nice please' }] };
  const result = {};

  const message = await client.messages.create(ask);
  result.message = { text: message.content[0]?.text, usage: message.usage };
  check(message.content[0]?.text?.startsWith('This is a deterministic'), 'message text');
  check(message.usage.output_tokens === 7 && message.usage.input_tokens > 0, 'message usage');

  const stream = client.messages.stream(ask);
  let text = '';
  stream.on('text', (piece) => { text += piece; });
  const final = await stream.finalMessage();
  result.stream = { text, usage: final.usage };
  check(text === 'This is a deterministic reply from the', 'stream text');
  check(final.usage.output_tokens === 7 && final.usage.input_tokens === message.usage.input_tokens, 'stream usage');

  const limited = new Anthropic({ apiKey: process.env.LIMITED_KEY, baseURL: process.env.RELAY_ROOT, maxRetries: 0, timeout: 10_000 });
  await limited.messages.create(ask);
  try {
    await limited.messages.create(ask);
    check(false, 'the second request of a one-request key is refused');
  } catch (error) {
    result.refused = { status: error.status, type: error.error?.error?.type, code: error.error?.error?.code, shouldRetry: error.headers?.get?.('x-should-retry') ?? null };
    check(error instanceof Anthropic.RateLimitError, 'a RateLimitError');
  }

  return result;
}

const mode = process.argv[2];
const result = mode === 'relay' ? await relay() : mode === 'retry' ? await retry() : mode === 'anthropic' ? await anthropic() : (failures.push(`unknown mode ${mode}`), {});
console.log(JSON.stringify({ openai: VERSION, node: process.version, result, failures }, null, 1));
process.exit(failures.length === 0 ? 0 : 1);
