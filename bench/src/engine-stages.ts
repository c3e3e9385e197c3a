// Where scenario 1's time goes, stage by stage: the same records and batches as the engine
// scenario, through more and more of the engine's Batch pipeline, in one process (a diagnostic,
// not a scenario: no baseline, no ratio). Run: node --import tsx src/engine-stages.ts (in bench/).
import { Batch } from '@microbatch/core';
import { click } from './scenarios/engine.ts';

const PARTITIONS = 8;
const RECORDS = 5_000_000;
const PER_BATCH = 62_500;

type Click = ReturnType<typeof click>;
const toPair = (c: Click): [string, number] => [`user-${c.user}`, c.amount];
const keep = (pair: [string, number]) => pair[1] % 4 !== 0;
const add = (a: number, b: number) => a + b;
const first = (v: number) => v;

/** One batch of the generated records, each partition computed as an array (as Source.read returns it). */
const generated = (from: number) =>
  new Batch<Click>(
    0,
    Array.from({ length: PARTITIONS }, (_, p) => ({
      ranges: [],
      compute: async () => {
        const records: Click[] = [];
        for (let offset = from; offset < from + PER_BATCH; offset++) records.push(click(p, offset));
        return records;
      },
    })),
  );

const pullAll = async <T>(batch: Batch<T>, emit: (record: T) => void) => {
  for (let p = 0; p < batch.numPartitions; p++) await batch.pull(p, emit);
};

const stages: Record<string, (from: number) => Promise<unknown>> = {
  'generate into arrays': (from) => pullAll(generated(from), () => {}),
  '+ fused map and filter': (from) => pullAll(generated(from).map(toPair).filter(keep), () => {}),
  '+ fold into one Map': async (from) => {
    const sums = new Map<string, number>();
    await pullAll(generated(from).map(toPair).filter(keep), ([key, value]) => sums.set(key, add(sums.get(key) ?? 0, value)));
  },
  '+ one Map per partition (map-side combine)': (from) => generated(from).map(toPair).filter(keep).foldByKeyWithin(first, add).collect(),
  '+ shuffle and final fold (reduceByKey)': (from) =>
    generated(from)
      .map(toPair)
      .filter(keep)
      .foldByKeyWithin(first, add)
      .shuffle(PARTITIONS, ([key]) => key)
      .foldByKeyWithin(first, add)
      .collect(),
};

for (const [name, run] of Object.entries(stages)) {
  const rates: string[] = [];
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let from = 0; from < RECORDS / PARTITIONS; from += PER_BATCH) await run(from);
    rates.push(`${(RECORDS / (performance.now() - start) / 1000).toFixed(1)}M`);
  }
  console.log(`${name.padEnd(44)} ${rates.join(' ')} rec/s (3 rounds)`);
}
