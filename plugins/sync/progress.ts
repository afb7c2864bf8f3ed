/**
 * A one-line progress display on stderr for transfers that take more than a second, as
 * `rclone -P` shows it: files and bytes done of the total, the rate, the share done and the time
 * left (`push: 1405/10000 files, 2.3 MB/16.0 MB, 702 files/s, 1.1 MB/s, 14%, ETA 12s`). Only on
 * a terminal, and never with --quiet or --json; the line is cleared when the work ends.
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
    /** Bytes the whole transfer moves, when known: the time left then follows the bytes. */
    private readonly totalBytes = 0,
  ) {}

  static for(label: string, total: number, flags: { quiet: boolean; json: boolean }, totalBytes = 0): Progress {
    return new Progress(label, total, !!process.stderr.isTTY && !flags.quiet && !flags.json, totalBytes);
  }

  tick(bytes = 0): void {
    this.done++;
    this.bytes += bytes;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.t0 < 1000 || now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    process.stderr.write(`\r${this.line(now)}\x1b[K`);
  }

  /** The progress line as it reads at `now`. */
  line(now = Date.now()): string {
    const secs = Math.max(0.001, (now - this.t0) / 1000);
    const fileRate = this.done / secs;
    const byteRate = this.bytes / secs;
    const byBytes = this.totalBytes > 0 && this.bytes > 0;
    const share = byBytes ? this.bytes / this.totalBytes : this.total > 0 ? this.done / this.total : 1;
    const left = byBytes ? (this.totalBytes - this.bytes) / byteRate : fileRate > 0 ? (this.total - this.done) / fileRate : Infinity;
    const size = this.totalBytes > 0 ? `${formatBytes(this.bytes)}/${formatBytes(this.totalBytes)}` : formatBytes(this.bytes);
    return `${this.label}: ${this.done}/${this.total} files, ${size}, ${fileRate >= 10 ? Math.round(fileRate) : fileRate.toFixed(1)} files/s, ${formatBytes(Math.round(byteRate))}/s, ${Math.min(100, Math.floor(share * 100))}%, ETA ${formatDuration(left)}`;
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

/** `12s`, `3m07s`, `2h05m`; `-` when there is no rate to tell from yet. */
export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs) || secs < 0) return '-';
  const s = Math.ceil(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
