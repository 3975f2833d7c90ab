// Feeds JSON event streams to the reference RealtimeConversation (npm openai-realtime-api)
// and prints the timings as one JSON line.
//
//   node --expose-gc reference_conversation.mjs CONFIG.json
//
// CONFIG: {"package": dir of the installed package, "item_id": the streamed item,
//          "warmup": {"file", "times"}, "runs": [{"label", "file", "repeats", "budget"}]}
// Each file holds one event per line, as JSON text. Per event the text is parsed with
// JSON.parse and, when the conversation has a processor for its type, passed to
// processEvent: the reference client routes exactly those types to its conversation.
// A run is repeated up to "repeats" times, but no new repeat starts once the runs of that
// label have taken "budget" seconds of wall time. Output: {"node", "version", "results":
// {label: {"events", "samples", "cpu": [s...], "wall": [s...]}}}.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(join(config.package, 'package.json'));
const entry = require.resolve('openai-realtime-api');
const { RealtimeConversation } = await import(pathToFileURL(entry).href);
const version = JSON.parse(
  readFileSync(join(config.package, 'node_modules', 'openai-realtime-api', 'package.json'), 'utf8'),
).version;

const collect = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};

function lines(file) {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
}

function feed(texts) {
  const conversation = new RealtimeConversation();
  const processors = conversation.EventProcessors;
  collect();
  const startCpu = process.cpuUsage();
  const startWall = performance.now();
  for (const text of texts) {
    const event = JSON.parse(text);
    if (Object.hasOwn(processors, event.type)) {
      conversation.processEvent(event);
    }
  }
  const wall = (performance.now() - startWall) / 1000;
  const used = process.cpuUsage(startCpu);
  const item = conversation.getItem(config.item_id);
  const samples = item ? item.formatted.audio.length : -1;
  return { cpu: (used.user + used.system) / 1e6, wall, samples };
}

if (config.warmup) {
  const texts = lines(config.warmup.file);
  for (let i = 0; i < config.warmup.times; i += 1) feed(texts);
}

const runs = config.runs.map((run) => ({ ...run, texts: lines(run.file), spent: 0 }));
const results = {};
for (const run of runs) {
  results[run.label] = { events: run.texts.length, samples: -1, cpu: [], wall: [] };
}
const rounds = Math.max(...runs.map((run) => run.repeats));
for (let round = 0; round < rounds; round += 1) {
  // The sizes take turns, so a slow spell of the machine does not land on one size only.
  for (const run of runs) {
    if (round >= run.repeats || (round > 0 && run.spent >= run.budget)) continue;
    const timing = feed(run.texts);
    run.spent += timing.wall;
    const result = results[run.label];
    result.samples = timing.samples;
    result.cpu.push(timing.cpu);
    result.wall.push(timing.wall);
  }
}
process.stdout.write(`${JSON.stringify({ node: process.version, version, results })}\n`);
