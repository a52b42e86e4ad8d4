import { describe, expect, it } from 'vitest';
import { ConfusionMatrix } from '../src/index.js';
import { CAMVID_VOID, readCamVid } from '../src/node/index.js';

const camvid = new URL('../../../shared/data/camvid/', import.meta.url).pathname;

describe('segmentation metrics', () => {
  it('mIoU and pixel accuracy of a hand-checked example, void ignored', () => {
    // 1 image 2x3, 3 classes. Predictions (argmax): [0, 1, 2 / 2, 2, 0]; labels [0, 1, 1 / 2, void, 0].
    const pred = [0, 1, 2, 2, 2, 0];
    const logits = new Float32Array(3 * 6);
    pred.forEach((c, p) => (logits[c * 6 + p] = 5));
    const m = new ConfusionMatrix(3, 9);
    m.add(logits, [1, 3, 2, 3], [0, 1, 1, 2, 9, 0]);
    const s = m.scores();
    // class 0: tp 2, label 2, pred 2 -> 1; class 1: tp 1, label 2, pred 1 -> 1/2; class 2: tp 1, label 1, pred 2 -> 1/2
    expect(s.iou).toEqual([1, 0.5, 0.5]);
    expect(s.miou).toBeCloseTo(2 / 3, 12);
    expect(s.pixelAccuracy).toBeCloseTo(4 / 5, 12);
    expect(s.pixels).toBe(5);
  });

  it('refuses labels outside the classes and logits of another class count', () => {
    const m = new ConfusionMatrix(3, 255);
    expect(() => m.add(new Float32Array(3), [1, 3, 1, 1], [7])).toThrow(/label 7 at pixel 0 is outside \[0, 3\) and is not the ignored 255/);
    expect(() => m.add(new Float32Array(4), [1, 4, 1, 1], [0])).toThrow(/logits must be \[N, 3, H, W\], got \[1, 4, 1, 1\]/);
  });
});

describe('CamVid loader', () => {
  it('reads image and label pairs from test.txt', async () => {
    const set = await readCamVid(camvid, { limit: 3 });
    expect([set.count, set.height, set.width, set.numClasses, set.ignoreIndex]).toEqual([3, 360, 480, 11, CAMVID_VOID]);
    expect(set.images.length).toBe(3 * 360 * 480 * 3);
    expect(set.masks.length).toBe(3 * 360 * 480);
    expect(set.masks.reduce((a, b) => Math.max(a, b), 0)).toBeLessThanOrEqual(CAMVID_VOID);
    expect(new Set(set.masks).size).toBeGreaterThan(5);
  });

  it('a bad list is a clear error naming the file', async () => {
    await expect(readCamVid(camvid, { list: 'nope.txt' })).rejects.toThrow(/nope\.txt/);
    await expect(readCamVid(camvid, { limit: 0 })).rejects.toThrow(/limit must be a positive integer, got 0/);
  });
});
