/**
 * A string-keyed cache of tables derived from a few parameters (kernels, index maps, resize
 * coefficients). The same keys recur for every image, so a hit is the common case; past `limit`
 * entries it forgets everything, because each table is cheap to rebuild. Callers must not modify
 * what `get` returns.
 */
export class TableCache<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string, make: () => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = make();
      if (this.map.size > this.limit) this.map.clear();
      this.map.set(key, v);
    }
    return v;
  }

  clear(): void {
    this.map.clear();
  }
}
