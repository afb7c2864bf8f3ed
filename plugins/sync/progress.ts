/**
 * A one-line progress display on stderr for work that takes more than a second. Only on a
 * terminal, and never with --quiet or --json; the line is cleared when the work ends.
 */
export class Progress {
  private done = 0;
  private bytes = 0;
  private readonly t0 = Date.now();
  private last = 0;
  private shown = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}

  static for(label: string, total: number, flags: { quiet: boolean; json: boolean }): Progress {
    return new Progress(label, total, !!process.stderr.isTTY && !flags.quiet && !flags.json);
  }

  tick(bytes = 0): void {
    this.done++;
    this.bytes += bytes;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.t0 < 1000 || now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    process.stderr.write(`\r${this.label}: ${this.done}/${this.total} (${formatBytes(this.bytes)}, ${((now - this.t0) / 1000).toFixed(1)} s)\x1b[K`);
  }

  end(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
