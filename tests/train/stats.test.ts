// Statistics files (JSONL / CSV round trips), the SVG curve writer and the progress line.

import { describe, expect, it } from 'vitest';

import { niceTicks, renderChart, trainingCurves } from '../../train/curves.js';
import { formatDuration, formatProgress, memorySink, Progress } from '../../train/progress.js';
import { columnsOf, parseCsv, parseJsonl, toCsv, toJsonl, type StatRecord } from '../../train/stats.js';
import { checkXml, polylinePoints } from './svg-helpers.js';

const records: StatRecord[] = [
  { epoch: 1, step: 10, train_loss: 0.6931471805599453, lr: 1e-5, note: 'a, "quoted" one' },
  { epoch: 2, step: 20, train_loss: 0.5, lr: 2e-5, eval_f1: 0.75, note: 'line\nbreak' },
  { epoch: 3, step: 30, train_loss: NaN, lr: 0, eval_f1: 0.8, flag: true },
];

describe('stats files', () => {
  it('JSONL round-trips (non-finite numbers become null)', () => {
    const text = toJsonl(records);
    expect(text.split('\n')).toHaveLength(4);
    const back = parseJsonl(text);
    expect(back[0]).toEqual(records[0]);
    expect(back[1]).toEqual(records[1]);
    expect(back[2].train_loss).toBeNull();
    expect(() => parseJsonl('{"a":1}\n{oops}\n')).toThrow(/JSONL line 2/);
    expect(toJsonl([])).toBe('');
  });

  it('CSV has the union of columns in first-seen order and round-trips values exactly', () => {
    const text = toCsv(records);
    expect(text.split('\n')[0]).toBe('epoch,step,train_loss,lr,note,eval_f1,flag');
    expect(columnsOf(records)).toEqual(['epoch', 'step', 'train_loss', 'lr', 'note', 'eval_f1', 'flag']);
    const back = parseCsv(text);
    expect(back).toHaveLength(3);
    expect(back[0]).toEqual(records[0]);
    expect(back[1]).toEqual(records[1]);
    expect(back[2].train_loss).toBeNaN();
    expect(back[2].flag).toBe(true);
    expect(back[0].eval_f1).toBeUndefined();
    expect(() => parseCsv('a,b\n1\n')).toThrow(/CSV row 2: 1 cells, header has 2/);
  });
});

describe('SVG curves', () => {
  it('niceTicks gives round steps covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97, 5)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(5, 5).length).toBeGreaterThan(0);
  });

  it('writes a well-formed document with one point per record, gaps at NaN, escaped text', () => {
    const steps = Array.from({ length: 25 }, (_, i) => ({ step: i + 1, loss: i === 10 ? NaN : 1 / (i + 1) }));
    const epochs: StatRecord[] = [
      { epoch: 1, step: 12, train_loss: 0.4, eval_loss: 0.5, eval_f1_macro: 0.6, eval_accuracy: 0.7 },
      { epoch: 2, step: 25, train_loss: 0.2, eval_loss: 0.45, eval_f1_macro: 0.65, eval_accuracy: 0.72 },
    ];
    const svg = trainingCurves(steps, epochs, 'run <1> & "x"');
    const tags = checkXml(svg);
    expect(tags[0]).toBe('svg');
    expect(svg).toContain('run &lt;1&gt; &amp; &quot;x&quot;');
    const train = polylinePoints(svg, 'train loss');
    expect(train).toHaveLength(24); // 25 points, one NaN dropped (the line is split in two)
    expect(svg.match(/data-series="train loss"/g)).toHaveLength(2);
    // Lower loss is drawn higher up... i.e. larger y pixel: the first point is the highest loss.
    expect(train[0][1]).toBeLessThan(train[train.length - 1][1]);
    expect(polylinePoints(svg, 'eval loss')).toHaveLength(2);
    expect(polylinePoints(svg, 'f1_macro')).toHaveLength(2);
    expect(polylinePoints(svg, 'accuracy')).toHaveLength(2);
    expect(renderChart([{ title: 'empty', xLabel: 'x', series: [] }])).toContain('no data');
  });
});

describe('progress line', () => {
  const info = { epoch: 2, epochs: 3, step: 140, totalSteps: 300, loss: 0.48213, lr: 1.86e-5, examplesPerSec: 212.44, elapsedSec: 41, etaSec: 47 };

  it('formats step/total, loss, lr, throughput, elapsed and ETA', () => {
    expect(formatProgress(info)).toBe('epoch 2/3  step 140/300  loss 0.4821  lr 1.86e-5  212.4 ex/s  elapsed 0:41  ETA 0:47');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('?');
  });

  it('redraws in place with \\r on a TTY and prints plain lines otherwise', () => {
    let t = 0;
    const tty = memorySink(true);
    const p = new Progress(tty, 100, () => t);
    p.update(info, false);
    t += 10;
    p.update({ ...info, step: 141 }, false); // throttled
    p.update({ ...info, step: 142 }, true); // a logged update always draws
    p.log('epoch 2 done');
    p.end();
    expect(tty.text).toBe(`\r${formatProgress(info)}\x1b[K\r${formatProgress({ ...info, step: 142 })}\x1b[K\r\x1b[Kepoch 2 done\n`);
    const plain = memorySink(false);
    const q = new Progress(plain);
    q.update(info, false);
    q.update(info, true);
    q.log('done');
    q.end();
    expect(plain.text).toBe(`${formatProgress(info)}\ndone\n`);
    expect(plain.text).not.toContain('\r');
  });
});
