import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { saveTinyEncoder } from '../encoder/tiny.test-util.js';
import type { ClueExample } from '../io/clue.js';
import { canExperimentWith, carveStratified, summarizeCan } from './can.js';
import { cellNumber } from './types.js';

const POOL_CHARS: string[] = [];

/** A small CLUE-shaped task: each class has its own characters, mixed with shared noise. */
function writeTask(dir: string, classes: number, rng: Rng): void {
  mkdirSync(dir, { recursive: true });
  const pool =
    '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严';
  POOL_CHARS.push(...pool);
  const own = Array.from({ length: classes }, (_, c) => pool.slice(c * 4, c * 4 + 4));
  const noise = pool.slice(classes * 4, classes * 4 + 40);
  const line = () => {
    const c = rng.int(classes);
    let t = '';
    for (let j = 0; j < 12; j++) t += rng.next() < 0.15 ? own[c][rng.int(4)] : noise[rng.int(noise.length)];
    return JSON.stringify({ text: t, label: c });
  };
  writeFileSync(path.join(dir, 'labels.json'), JSON.stringify(own));
  for (const [split, n] of [
    ['train', 400],
    ['dev', 120],
    ['test', 150],
  ] as const) {
    writeFileSync(path.join(dir, `${split}.jsonl`), Array.from({ length: n }, line).join('\n') + '\n');
  }
}

test('carveStratified: disjoint, complete, proportional per class, deterministic', () => {
  const rng = new Rng(2);
  const sizes = [50, 31, 7, 2, 1];
  const examples: ClueExample[] = sizes.flatMap((n, c) =>
    Array.from({ length: n }, (_, i) => ({ text: `c${c}-${i}-${rng.int(1000)}`, label: c })),
  );
  rng.shuffle(examples);
  const { rest, carved } = carveStratified(examples, 0.2);
  assert.equal(carved.length, Math.round(0.2 * examples.length));
  assert.equal(rest.length + carved.length, examples.length);
  assert.equal(new Set([...rest, ...carved]).size, examples.length);
  // Input order is kept in both.
  const pos = new Map(examples.map((e, i) => [e, i]));
  for (const part of [rest, carved])
    part.slice(1).forEach((e, i) => assert.ok(pos.get(e)! > pos.get(part[i])!));
  for (const [c, n] of sizes.entries()) {
    const k = carved.filter((e) => e.label === c).length;
    assert.ok(Math.abs(k - 0.2 * n) < 1, `class ${c}: ${k} of ${n}`);
  }
  assert.deepEqual(
    carveStratified([...examples].reverse(), 0.2)
      .carved.map((e) => e.text)
      .sort(),
    carved.map((e) => e.text).sort(),
  );
  assert.throws(() => carveStratified(examples, 1), /share must be in \(0, 1\)/);
});

test('the CAN experiment runs both base classifiers on both test splits, end to end', async () => {
  await initBackend({ quiet: true });
  const root = mkdtempSync(path.join(tmpdir(), 'kexue-can-exp-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const rng = new Rng(3);
  writeTask(path.join(root, 'clue', 'iflytek'), 12, rng);
  writeTask(path.join(root, 'clue', 'tnews'), 4, rng);
  const { encoderDir } = await saveTinyEncoder(root, [POOL_CHARS.join('')], { hidden: 16, seed: 1 });
  const exp = canExperimentWith({
    encoderDir,
    settings: {
      encoder: { seeds: 2, epochs: { iflytek: 2, tnews: 1 }, batchSize: 16, lr: 3e-3, maxLen: 14 },
    },
  });
  const ctx = {
    budget: 'quick' as const,
    seeds: [0, 1, 2],
    dataDir: root,
    workDir: path.join(root, 'work'),
    quiet: true,
  };
  const res = await exp.run(ctx);
  const [main, cal, perSeed] = res.tables;
  // 2 bases × 2 datasets × 2 test splits, the fine-tuned encoder first.
  assert.equal(main.rows.length, 8);
  assert.deepEqual(
    main.rows.map((r) => r[2]),
    [12, 12, 4, 4, 12, 12, 4, 4],
  );
  assert.deepEqual(
    main.rows.map((r) => String(r[0]).split(' ')[0]),
    ['fine-tuned', 'fine-tuned', 'fine-tuned', 'fine-tuned', 'n-gram', 'n-gram', 'n-gram', 'n-gram'],
  );
  for (const row of main.rows) {
    const tv = Number(/\(([\d.]+)\)$/.exec(String(row[3]))![1]);
    // Stratified carving: the matched split's class frequencies are the prior's up to rounding.
    if (String(row[3]).includes('matched')) assert.ok(tv < 0.05, `matched TV ${tv}`);
    else assert.ok(tv >= 0 && tv < 0.5, `FewCLUE-style TV ${tv}`);
    assert.match(String(row[6]), /^[+-]\d+\.\d\d ± \d+\.\d\d$/);
  }
  // The bag classifier learns the synthetic classes well above chance on both splits.
  for (const row of main.rows.slice(4)) {
    const classes = row[2] as number;
    assert.ok(cellNumber(row[5]) > 100 / classes + 10, `bag accuracy ${row[5]} with ${classes} classes`);
  }
  assert.equal(cal.rows.length, 8);
  for (const row of cal.rows) {
    for (const c of [3, 4]) assert.ok(cellNumber(row[c]) >= 0 && cellNumber(row[c]) <= 100, `ECE ${row[c]}`);
  }
  // Bags use 3 seeds (the quick budget), the encoder 2 (the settings above).
  assert.equal(perSeed.rows.length, 2 * 2 + 2 * 3);
  assert.equal(res.charts[0].series[0].y.length, 8);
  assert.ok(res.charts[0].series.every((s) => s.y.every(Number.isFinite)));
  assert.match(res.verdict, /fine-tuned kexue encoder .*prior-matched split IFLYTEK: default [+-]\d/);
  assert.match(res.verdict, /n-gram embedding bag .*FewCLUE's shifted test: IFLYTEK: default [+-]\d/);
  const full = summarizeCan({
    ...res,
    name: 'can',
    budget: 'full',
    seeds: [0, 1],
    seconds: 1,
    env: {},
  } as never)!;
  assert.match(full.ours, /^fine-tuned kexue encoder, prior-matched test: IFLYTEK [+-]\d/);
  assert.match(full.note, /IFLYTEK \+0\.46, TNEWS \+0\.06 points/);
  // A second run reuses the recorded fine-tuning runs and their probabilities.
  const again = await exp.run(ctx);
  assert.deepEqual(again.tables[0].rows.slice(0, 4), main.rows.slice(0, 4));
});
