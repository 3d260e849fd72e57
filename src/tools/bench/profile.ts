/** What the gate's main thread spent its time on, from a V8 CPU profile (.cpuprofile JSON). */

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled time, ms, and the part of it the thread was busy (not idle). */
  totalMs: number;
  busyMs: number;
  /** Busy time by where the code lives, ms, largest first. */
  categories: { name: string; ms: number }[];
  /** Functions by self time, ms. */
  top: { fn: string; ms: number }[];
}

// First match wins: more specific paths before broader ones.
const CATEGORIES: [string, RegExp][] = [
  ['kafkajs', /\/kafkajs\//],
  ['avsc (Avro)', /\/avsc\//],
  ['sharp (decode call)', /\/sharp\//],
  ['face: align/warp', /\/face\/align\./],
  ['face: decode/header', /\/face\/(decode|header)\./],
  ['face: tensor', /\/face\/tensor\./],
  ['inference: pool/batcher', /\/inference\//],
  ['pipeline/gate/outputs', /\/(pipeline|gate)\//],
  ['schemas', /\/schemas\//],
  ['kafka adapter', /\/plugin\/kafka\//],
  ['pino (logging)', /\/pino/],
  ['other project code', /\/src\/plugin\//],
  ['node internals', /^node:/],
];

function category(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  return CATEGORIES.find(([, re]) => re.test(url))?.[0] ?? 'other';
}

export function summariseProfile(profile: CpuProfile, file: string, topN = 15): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byCat = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0, idle = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; the sample owns the interval after it.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    total += us;
    if (functionName === '(idle)') { idle += us; return; }
    const cat = category(url, functionName);
    byCat.set(cat, (byCat.get(cat) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : ''}`.trim();
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
  });
  const ms = (us: number) => Math.round(us / 10) / 100;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    file, totalMs: ms(total), busyMs: ms(total - idle),
    categories: sorted(byCat).map(([name, us]) => ({ name, ms: ms(us) })),
    top: sorted(byFn).slice(0, topN).map(([fn, us]) => ({ fn, ms: ms(us) })),
  };
}
